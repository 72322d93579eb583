"""Every operation of the OpenAPI schema, fuzzed by schemathesis against a real server: no 5xx, no schema violations."""

from __future__ import annotations

import re
import shutil

import httpx
import pytest
import subprocess

from tests.conftest import BIN, Centre, CentreProcess, Mosquitto, free_port

@pytest.fixture(scope="module")
def live(tmp_path_factory, _demo_template):
    import json

    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "centre"
    shutil.copytree(_demo_template, path)
    toml = path / "centre.toml"
    text = toml.read_text()
    for key in ("issue_per_device_per_minute", "issue_per_phone_per_hour", "login_per_minute", "citizen_per_minute"):
        text = re.sub(rf"^{key} = \d+", f"{key} = 1000000", text, flags=re.M)
    text = re.sub(r"^lockout_after_failures = \d+", "lockout_after_failures = 1000000", text, flags=re.M)
    toml.write_text(text)
    centre = Centre(path=path, credentials=json.loads((path / "demo-credentials.json").read_text()))
    broker = Mosquitto(port=free_port(), workdir=tmp)
    broker.start()
    server = CentreProcess(centre=centre, port=free_port(), args=["--mqtt", broker.url], log_path=tmp / "server.log")
    server.start()
    yield server
    server.stop()
    broker.stop()
    assert "Traceback" not in (tmp / "server.log").read_text(), "the server logged a traceback under fuzzing"


@pytest.mark.parametrize("role", ["manager", "kiosk", "anonymous"])
def test_no_5xx_and_no_schema_violation(live, role, tmp_path):
    """schemathesis's own runner over every operation, as that caller: every check it has."""
    headers = []
    if role == "manager":
        headers = ["-H", f"Authorization: Bearer {live.login('manager')}"]
    elif role == "kiosk":
        headers = ["-H", f"Authorization: Bearer {live.centre.bundle('kiosk-1')['token']}"]
    r = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{live.url}/openapi.json", "--checks", "all",
         "--max-examples", "20", "--seed", "1", "--exclude-path", "/api/v1/auth/logout",
         "--request-timeout", "10", "--no-color", *headers],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


def test_the_server_still_serves_after_fuzzing(live):
    assert httpx.get(f"{live.url}/healthz").json()["status"] == "ok"
