"""``huduma-centre catalogue …`` as a manager types it: on a stopped server's directory, through a running
server with --url, and one-line errors (no traceback) for what cannot be done."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import BIN, set_upstream


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "huduma-centre"), "catalogue", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_suspend_show_and_resume_on_a_stopped_servers_directory(centre_dir) -> None:
    set_upstream(centre_dir.path)  # a headquarters that is not there
    d = str(centre_dir.path)
    out = run("suspend", d, "kra-pin", "--reason-en", "KRA's iTax is down", "--reason-sw", "iTax ya KRA haifanyi kazi")
    assert out.returncode == 0 and "kra-pin: suspended" in out.stdout, out.stderr
    out = run("show", d)
    assert out.returncode == 0
    assert "catalogue version 0" in out.stdout and "38 offered, 1 suspended, 0 not offered here" in out.stdout
    assert "suspended kra-pin: KRA's iTax is down" in out.stdout and "report to headquarters waits" in out.stdout
    info = json.loads(run("show", d, "--service", "kra-pin", "--json").stdout)
    assert info["offering"]["reason"]["sw"] == "iTax ya KRA haifanyi kazi"
    for args, words in ((("suspend", d, "kra-pin", "--reason-en", "x", "--reason-sw", " "), "both languages"),
                        (("suspend", d, "no-such", "--reason-en", "x", "--reason-sw", "y"), "no service 'no-such'"),
                        (("sync", d), "headquarters could not be asked"),
                        (("show", d, "--service", "no-such"), "no service 'no-such'")):
        out = run(*args)
        assert out.returncode != 0 and words in out.stderr and "Traceback" not in out.stderr, out.stderr
    out = run("not-offered", d, "birth-cert")
    assert out.returncode == 0 and "birth-cert: not_offered" in out.stdout
    assert run("resume", d, "kra-pin").returncode == 0
    assert "38 offered, 0 suspended, 1 not offered here" in run("show", d).stdout


def test_through_a_running_server_and_refused_beside_it(centre_server) -> None:
    d = str(centre_server.centre.path)
    password = centre_server.centre.staff_password("manager")
    out = run("suspend", d, "kra-pin", "--reason-en", "Down", "--reason-sw", "Haifanyi kazi")
    assert out.returncode == 1 and "--url" in out.stderr and "Traceback" not in out.stderr  # the server's lock
    out = run("suspend", d, "kra-pin", "--reason-en", "Down", "--reason-sw", "Haifanyi kazi",
              "--url", centre_server.url, "--password", password)
    assert out.returncode == 0 and "kra-pin: suspended" in out.stdout, out.stderr
    kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
    assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).json()["error"]["code"] == "service_suspended"
    out = run("suspend", d, "kra-pin", "--reason-en", "Down", "--reason-sw", "Haifanyi kazi",
              "--url", centre_server.url, "--user", "clerk", "--password", centre_server.centre.staff_password("clerk"))
    assert out.returncode == 1 and "the server refused" in out.stderr
    out = run("resume", d, "kra-pin", "--url", centre_server.url, "--password", password)
    assert out.returncode == 0 and "kra-pin: offered" in out.stdout
    assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).status_code == 201
