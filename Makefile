# The two commands of the README: `make run` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo-centre
DEB_PACKAGES := mosquitto mosquitto-clients xvfb libgl1-mesa-dri chromium espeak-ng sox curl libmtdev1 fonts-dejavu-core wrk

.PHONY: run test setup system-deps bench clean

$(VENV)/.stamp: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all]'
	touch $@

# axe-core from the npm registry, for the accessibility tests (tests/a11y/; git-ignored, MPL-2.0 licence kept beside it)
AXE_VERSION := 4.14.1
AXE := tests/a11y/vendor/axe.min.js
$(AXE):
	@command -v npm >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q npm >/dev/null; }
	mkdir -p $(@D)
	cd $(@D) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js package/LICENSE \
	  && mv package/axe.min.js package/LICENSE . && rmdir package && rm axe-core-$(AXE_VERSION).tgz

setup: $(VENV)/.stamp $(AXE)

# Debian packages the tests drive for real (broker, virtual screen, browser, speech).
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing >/dev/null; \
	fi

run: setup
	@test -f $(DEMO_DIR)/centre.toml || $(VENV)/bin/huduma-provision init $(DEMO_DIR) --demo --demo-hq --short-targets
	@# the simulated M-Pesa (Daraja) beside the server, stopped with it; README "Payments" says how to use the real one
	@# (--exit-with-parent: it stops with this shell even when a kill -9 skips the trap)
	$(VENV)/bin/huduma-mpesa-sim --port 8099 --consumer-key demo --consumer-secret demo --passkey demo-passkey \
	  --exit-with-parent & \
	  sim=$$!; trap 'kill $$sim' EXIT; \
	  $(VENV)/bin/huduma-centre serve $(DEMO_DIR) --host 127.0.0.1 --port 8000

# TEST_WORKERS=3 runs the suite on pytest-xdist workers side by side; --dist loadfile keeps each file's tests on one
# worker, so a module's server (tests/web/conftest.py web_server) starts once. Not the default yet: on a loaded
# 2-core machine some bridge and kiosk tests still miss their timing side by side. 0 runs them in one process.
TEST_WORKERS ?= 0
test: setup system-deps
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: setup system-deps
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) tests/artifacts .pytest_cache
