"""A citizen on the way with a remote ticket (findings 3 and 13), on the real server: a ticket taken by SMS is
passed over at the front, not made a no-show; told by SMS to check in; checked in at the kiosk it is called
next; unchecked past the grace it is a no-show, told so by SMS in the citizen's language."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.channels.conftest import ChannelCentre, clerk, kiosk_ticket, serve_channels
from tests.channels.test_ussd import walk

GRACE_S = 12  # [queue] check_in_grace_min = 0.2: long enough to check in, short enough to run out in a test
SERVICE = "kra-returns"  # SMS keyword KR


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ChannelCentre]:
    with serve_channels(tmp_path_factory.mktemp("passed"), queue={"check_in_grace_min": "0.2"}) as s:
        yield s


def sms_ticket(server: ChannelCentre, phone: str, text: str) -> tuple[str, str, str]:
    """Take a ticket by SMS, as the aggregator posts it; (ticket id, number, check-in code) from the reply."""
    r = httpx.post(server.url + "/sms/inbound", data={"from": phone, "text": text}, timeout=10)
    assert r.status_code == 200, r.text
    reply = server.aggregator.wait_for(phone, "/t/")
    tid = re.search(r"/t/([A-Za-z0-9_-]+)", reply).group(1)
    number = re.search(r"\b(KR\d{3})\b", reply).group(1)
    code = re.search(r"\b(\d{6})\b", reply).group(1)
    return tid, number, code


def ticket(server: ChannelCentre, tid: str) -> dict:
    return httpx.get(f"{server.url}/api/v1/tickets/{tid}", timeout=10).json()


def kra_row(server: ChannelCentre) -> dict:
    live = server.client(server.login("manager")).get("/api/v1/stats/live").json()
    return next(s for s in live["services"] if s["id"] == SERVICE)


def test_a_remote_ticket_at_the_front_is_passed_over_then_checks_in_and_is_called_next(server, new_phone):
    agg = server.aggregator
    phone = new_phone()
    tid, number, code = sms_ticket(server, phone, "KR")
    walk_in = kiosk_ticket(server, SERVICE)
    later = kiosk_ticket(server, SERVICE)
    c = clerk(server)
    assert c.post("/api/v1/counters/c05/open", json={"services": [SERVICE]}).status_code == 200
    called = c.post("/api/v1/counters/c05/call-next").json()
    assert called["id"] == walk_in["id"]  # the citizen on the way is not there yet: the next one is called
    t = ticket(server, tid)
    assert t["state"] == "waiting" and t["check_in_by"] and t["checked_in"] is False  # kept in its place
    row = kra_row(server)
    # neither waiting in the hall nor a no-show: passed over, and the longest wait is the walk-in's behind it
    assert row["waiting"] == 1 and row["passed_over"] == 1 and row["no_shows_today"] == 0
    assert row["on_the_way"] == 1  # shown apart on the board ("+1 on the way"), as in GET /api/v1/services
    listed = next(s for s in httpx.get(server.url + "/api/v1/services", timeout=10).json() if s["id"] == SERVICE)
    assert (listed["waiting"], listed["on_the_way"], listed["passed_over"]) == (1, 1, 1)
    # arrived, within the grace: checked in at the kiosk by the code the SMS gave
    r = server.kiosk().post("/api/v1/check-in", json={"code": code})
    assert r.status_code == 200, r.text
    assert r.json()["tickets"][0]["id"] == tid
    told = agg.wait_for(phone, "your turn has come")
    assert told == (f"Huduma: {number}, your turn has come. Check in at the kiosk with code {code} within 1 min "
                    "to keep your place.")
    # and called next, ahead of the walk-in issued after it (each citizen at the counter started first:
    # a call over a ticket only called is refused)
    assert c.post("/api/v1/counters/c05/start").status_code == 200
    assert c.post("/api/v1/counters/c05/call-next").json()["id"] == tid
    agg.wait_for(phone, "Counter 5")
    assert c.post("/api/v1/counters/c05/start").status_code == 200
    assert c.post("/api/v1/counters/c05/call-next").json()["id"] == later["id"]
    assert not [m for m in agg.messages_to(phone) if "left the queue" in m]
    c.post("/api/v1/counters/c05/complete")
    c.post("/api/v1/counters/c05/close")


def test_unchecked_past_the_grace_is_a_no_show_told_in_swahili_and_may_rejoin(server, new_phone):
    agg = server.aggregator
    phone = new_phone()
    tid, number, code = sms_ticket(server, phone, "KR SW")
    c = clerk(server)
    assert c.post("/api/v1/counters/c06/open", json={"services": [SERVICE]}).status_code == 200
    r = c.post("/api/v1/counters/c06/call-next")  # only the citizen on the way: nobody to call, nobody lost
    error = r.json()["error"]
    assert r.status_code == 404 and "not checked in yet" in error["message"] and error["passed_over"] == 1, r.text
    by = ticket(server, tid)["check_in_by"][11:16]
    # the citizen dials *384*482# for the ticket's status: told to check in, with the code and the time
    assert walk(server, phone, ["2", "2"])[-1] == (f"END {number}: zamu yako imefika. Thibitisha kufika "
                                                   f"kwenye kioski kwa nambari {code} kabla ya saa {by} ili kubaki na "
                                                   "nafasi yako.")
    assert walk(server, phone, ["1", "2"])[-1] == (f"END {number}: your turn has come. Check in at the kiosk with "
                                                   f"code {code} by {by} to keep your place.")
    agg.wait_for(phone, "zamu yako imefika")
    assert kra_row(server)["no_shows_today"] == 0
    time.sleep(GRACE_S + 1)
    c.post("/api/v1/counters/c06/call-next")  # any command (or the 30 s tick) finds the grace over
    t = ticket(server, tid)
    assert t["state"] == "no_show" and t["checked_in"] is False and t["check_in_by"] is None
    gone = agg.wait_for(phone, "hukuthibitisha kufika")
    assert gone == (f"Huduma: {number}: hukuthibitisha kufika ndani ya dakika 1, imetoka kwenye foleni. Thibitisha "
                    "kufika kioskini ndani ya dakika 30 kurudi, au chukua tiketi mpya.")
    assert kra_row(server)["no_shows_today"] == 1
    # as the SMS says: checking in within the re-activation window puts the ticket back, and it is called
    r = server.kiosk().post("/api/v1/check-in", json={"code": code})
    assert r.status_code == 200, r.text
    assert c.post("/api/v1/counters/c06/call-next").json()["id"] == tid
    c.post("/api/v1/counters/c06/complete")
    c.post("/api/v1/counters/c06/close")


def test_a_restart_keeps_the_passed_over_place_and_its_grace(tmp_path, new_phone):
    with serve_channels(tmp_path, queue={"check_in_grace_min": "2"}) as server:  # a grace longer than a restart
        restart_keeps_the_place(server, new_phone())


def restart_keeps_the_place(server: ChannelCentre, phone: str) -> None:
    tid, number, code = sms_ticket(server, phone, "KR")
    c = clerk(server)
    assert c.post("/api/v1/counters/c07/open", json={"services": [SERVICE]}).status_code == 200
    assert c.post("/api/v1/counters/c07/call-next").status_code == 404  # passed over, nobody else waits
    before = ticket(server, tid)
    assert before["state"] == "waiting" and before["check_in_by"]
    server.stop()
    server.start()
    after = ticket(server, tid)
    assert after["state"] == "waiting" and after["check_in_by"] == before["check_in_by"]  # same grace, not anew
    r = server.kiosk().post("/api/v1/check-in", json={"code": code})
    assert r.status_code == 200, r.text
    c = clerk(server)
    assert c.post("/api/v1/counters/c07/call-next").json()["id"] == tid
    c.post("/api/v1/counters/c07/complete")
    c.post("/api/v1/counters/c07/close")
