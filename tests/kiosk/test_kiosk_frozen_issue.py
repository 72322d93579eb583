"""Finding 7: a kiosk retrying a confirmed ticket while the centre server is frozen says "Printing your ticket,
please wait", not "out of service, ask staff", and the ticket prints for the citizen (real server, Kivy, Xvfb)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.kiosk.conftest import kiosk_config
from tests.kiosk.test_kiosk_app import tickets_in_db

pytestmark = pytest.mark.timeout(300)


def test_a_ticket_retried_while_the_server_is_frozen_says_printing(centre_server, mosquitto, tmp_path, run_kiosk):
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    run = run_kiosk(config, "frozen_while_issuing")
    run.wait_mark("at_confirm", timeout=120)
    assert centre_server.proc is not None
    pid = centre_server.proc.pid
    os.kill(pid, signal.SIGSTOP)  # frozen: connections are accepted, nothing answers
    try:
        run.go("frozen")
        run.wait_mark("away", timeout=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    run.go("thawed")
    data = run.result(timeout=120)["data"]
    # while the ticket was being retried the citizen read that it is printing, and never "ask staff"
    assert data["while_away"] == "printing", data
    assert "Printing your ticket..." in data["texts_while_away"], data["texts_while_away"]
    assert "out_of_service" not in data["seen"], data["seen"]
    # one ticket, the one on the screen: nobody got a second from staff for a ticket that printed anyway
    assert [r["number"] for r in tickets_in_db(centre_server)] == [data["ticket"]["number"]]
    assert data["issue_calls"] == 1


def test_a_ticket_the_server_issues_after_the_kiosk_gave_up_is_withdrawn(centre_server, mosquitto, tmp_path,
                                                                        run_kiosk):
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    run = run_kiosk(config, "frozen_until_given_up")
    run.wait_mark("at_confirm", timeout=120)
    assert centre_server.proc is not None
    pid = centre_server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        run.go("frozen")
        run.wait_mark("gave_up", timeout=90)  # every attempt timed out: now, and only now, "ask staff"
    finally:
        os.kill(pid, signal.SIGCONT)  # the server wakes and issues the ticket it was holding
    run.go("thawed")
    data = run.result(timeout=120)["data"]
    seen = data["seen"]
    assert "printing" in seen and "out_of_service" in seen, seen
    assert seen.index("printing") < seen.index("out_of_service"), seen
    assert data["ticket"] == {} and data["issue_calls"] == 1, data
    # the citizen went to staff; the ticket the server issued late waits for nobody: it was cancelled
    rows = tickets_in_db(centre_server)
    assert [r["state"] for r in rows] == ["cancelled"], rows
