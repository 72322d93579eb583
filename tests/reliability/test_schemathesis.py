"""Every operation of the OpenAPI schemas, fuzzed by schemathesis against real servers, as every caller.

The centre (a real ``huduma-centre serve`` with Mosquitto) as anonymous, kiosk,
display, bridge, clerk and manager; headquarters (a real ``huduma-hq serve`` on
PostgreSQL) as anonymous and with a centre's token. schemathesis's own runner
with every check it has: no 5xx, no response outside the schema, and no
undocumented status code or content type (issue 16, item 15: the routes
declare every answer they give).

Time: a few examples per operation (``--max-examples``), a fixed seed; the
whole file takes a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, Centre, CentreProcess, Mosquitto, free_port
from tests.hq.conftest import HqProcess, pg_schema

MAX_EXAMPLES = "15"


@pytest.fixture(scope="module")
def live(tmp_path_factory, _demo_template):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "centre"
    shutil.copytree(_demo_template, path)
    for bundle in (path / "devices").glob("*.json"):  # bundles may name their folder
        bundle.write_text(bundle.read_text().replace(str(_demo_template), str(path)))
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


@pytest.fixture(scope="module")
def live_hq(tmp_path_factory):
    with pg_schema() as url:
        tmp = tmp_path_factory.mktemp("fuzz-hq")
        server = HqProcess(db_url=url, port=free_port(), log_path=tmp / "hq.log", cwd=tmp)
        server.start()
        server.token = server.add_centre("fuzz-centre", "Huduma Centre Fuzz")  # type: ignore[attr-defined]
        yield server
        server.stop()
        log = (tmp / "hq.log").read_text()
        assert "Traceback" not in log, "headquarters logged a traceback under fuzzing"


# Headquarters' export answers 422 ``bad_range`` when ``from`` is after ``to``: two dates each valid, that
# no schema can relate; for that operation only, schemathesis is told a 422 to a schema-valid request is right.
HQ_CONFIG = """
[[operations]]
include-path = "/export.csv"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

# A summary's key must be ``centre:date:revision`` of its own fields (422 ``bad_key``): a relation between fields
# that no schema states, like the export's range.
[[operations]]
include-path = "/api/v1/summaries"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
"""


# A suspension's reason is refused (422 ``invalid_request``) when it is only spaces or holds a control or
# invisible character (a NUL reached a waiting citizen's SMS): character classes the schema's pattern
# language cannot state portably, so for that operation a 422 to a schema-valid request is right.
CENTRE_CONFIG = """
[[operations]]
include-path-regex = "^/api/v1/catalogue/[^/]+/offering$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

# The same for a clerk's reason for cash or a waiver (issue 20): words, without control characters.
[[operations]]
include-path-regex = "^/api/v1/tickets/[^/]+/payment/(cash|waiver)$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

# The hall notice's characters must be ones the hall screens can draw (no controls, no emoji): a character
# class no portable pattern states.
[[operations]]
include-path = "/api/v1/hall/notice"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

# A day of appointments must be a real date in range (422 ``bad_day`` for 2030-02-31 or 0000-01-01): the
# YYYY-MM-DD pattern cannot say which days exist.
[[operations]]
include-path = "/api/v1/appointments"
include-method = "GET"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
"""


def fuzz(url: str, headers: list[str], cwd: Path, *extra: str, config: str = "") -> None:
    conf = cwd / "schemathesis.toml"
    conf.write_text(config)
    r = subprocess.run(
        [str(BIN / "schemathesis"), "--config-file", str(conf), "run", f"{url}/openapi.json", "--checks", "all",
         "--max-examples", MAX_EXAMPLES, "--seed", "1", "--request-timeout", "10", "--no-color",
         *extra, *headers],
        capture_output=True, text=True, timeout=900, cwd=cwd)
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]


def centre_headers(live: CentreProcess, role: str) -> list[str]:
    if role == "anonymous":
        return []
    token = live.login(role) if role in ("clerk", "manager") else live.centre.bundle(f"{role}-1")["token"]
    return ["-H", f"Authorization: Bearer {token}"]


@pytest.mark.parametrize("role", ["anonymous", "kiosk", "display", "bridge", "clerk", "manager"])
def test_centre_no_5xx_no_schema_violation_no_undocumented_answer(live, role, tmp_path):
    """schemathesis's own runner over every operation of the centre, as that caller: every check it has."""
    fuzz(live.url, centre_headers(live, role), tmp_path, "--exclude-path", "/api/v1/auth/logout",
         config=CENTRE_CONFIG)


@pytest.mark.parametrize("role", ["anonymous", "centre"])
def test_hq_no_5xx_no_schema_violation_no_undocumented_answer(live_hq, role, tmp_path):
    """The same over headquarters' API, anonymous and with a centre's token."""
    headers = ["-H", f"Authorization: Bearer {live_hq.token}"] if role == "centre" else []
    fuzz(live_hq.url, headers, tmp_path, config=HQ_CONFIG)


def test_a_close_of_a_far_future_day_is_a_documented_422(live):
    """The intruder's find: ``POST /api/v1/day/close?date=7929-12-22`` answered a 422 the schema did not list."""
    manager = live.client(live.login("manager"))
    r = manager.post("/api/v1/day/close", params={"date": "7929-12-22"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_date"
    spec = httpx.get(live.url + "/openapi.json").json()
    documented = spec["paths"]["/api/v1/day/close"]["post"]["responses"]
    assert "422" in documented
    assert documented["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


def test_the_servers_still_serve_after_fuzzing(live, live_hq):
    assert httpx.get(f"{live.url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{live_hq.url}/healthz").json()["status"] == "ok"
