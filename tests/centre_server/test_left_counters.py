"""Findings 11 and 15 on a real server process (real SQLite file, real Mosquitto): a ticket only called is never
counted as served, and a counter whose clerk has gone (logged out, session ended) is closed, not left serving."""

from __future__ import annotations

import sqlite3
import time

import httpx

from provisioning.staff import add_staff
from tests.conftest import wait_until

SERVICES = ["id-card-new"]


def _issue(kiosk: httpx.Client, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        r = kiosk.post("/api/v1/tickets", json={"service_id": "id-card-new"})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def _state(client: httpx.Client, ticket: dict) -> str:
    return client.get(f"/api/v1/tickets/{ticket['id']}").json()["state"]


def test_call_next_over_a_called_ticket_serves_nobody(centre_server):
    kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
    clerk = centre_server.client(centre_server.login("clerk"))
    manager = centre_server.client(centre_server.login("manager"))
    first, second, _third = _issue(kiosk, 3)
    assert clerk.post("/api/v1/counters/c01/open", json={"services": SERVICES}).status_code == 200
    before = manager.get("/api/v1/stats/live").json()

    assert clerk.post("/api/v1/counters/c01/call-next").json()["number"] == first["number"]
    # the impatient clerk's second and third tap: refused in JSON, nobody finished, nobody else called
    for _ in range(2):
        r = clerk.post("/api/v1/counters/c01/call-next")
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "ticket_called" and first["number"] in err["message"]
    assert (_state(clerk, first), _state(clerk, second)) == ("called", "waiting")
    assert manager.get("/api/v1/stats/live").json()["served_today"] == before["served_today"]

    # the citizen came: started, then Call next finishes them as served and calls the next
    assert clerk.post("/api/v1/counters/c01/start").json()["state"] == "serving"
    assert clerk.post("/api/v1/counters/c01/call-next").json()["number"] == second["number"]
    after_one = manager.get("/api/v1/stats/live").json()
    assert after_one["served_today"] == before["served_today"] + 1

    # nobody came for the second and the clerk closes the counter: a no-show, not one more served
    assert clerk.post("/api/v1/counters/c01/close").json()["state"] == "closed"
    assert _state(clerk, second) == "no_show"
    live = manager.get("/api/v1/stats/live").json()
    assert live["served_today"] == after_one["served_today"]
    assert live["no_shows_today"] == before["no_shows_today"] + 1


def test_logout_or_an_ended_session_closes_the_clerks_counter(centre_server):
    path = centre_server.centre.path
    password = add_staff(path, "wanjiru", "clerk")["password"]
    kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
    manager = centre_server.client(centre_server.login("manager"))
    clerk = centre_server.client(centre_server.login("clerk"))
    (waiting,) = _issue(kiosk, 1)
    assert clerk.post("/api/v1/counters/c01/open", json={"services": SERVICES}).status_code == 200
    assert clerk.post("/api/v1/counters/c01/call-next").json()["number"] == waiting["number"]
    open_before = manager.get("/api/v1/stats/live").json()["counters_open"]
    wanjiru = centre_server.client(centre_server.login("wanjiru", password))
    assert wanjiru.post("/api/v1/counters/c01/open", json={"services": SERVICES}).status_code == 403

    # the clerk logs out: the counter closes, its called citizen becomes a no-show (re-activatable)
    assert clerk.post("/api/v1/auth/logout").status_code == 204
    counter = manager.get("/api/v1/counters/c01").json()
    assert counter["state"] == "closed" and counter["serving"] is None
    assert _state(manager, waiting) == "no_show"
    assert manager.get("/api/v1/stats/live").json()["counters_open"] == open_before - 1
    r = wanjiru.post("/api/v1/counters/c01/open", json={"services": SERVICES})
    assert r.status_code == 200 and r.json()["clerk"] == "wanjiru"

    # logged in on two terminals, a logout on one keeps the counter on the other
    other_tab = centre_server.client(centre_server.login("wanjiru", password))
    assert other_tab.post("/api/v1/auth/logout").status_code == 204
    assert manager.get("/api/v1/counters/c01").json()["state"] == "open"

    # wanjiru's session ends without a logout (expired): the server's next tick closes the counter
    with sqlite3.connect(path / "centre.db") as db:
        db.execute("UPDATE sessions SET expires_at = ? WHERE username = 'wanjiru'", [time.time() - 1])
    wait_until(lambda: manager.get("/api/v1/counters/c01").json()["state"] == "closed", timeout=90,
               what="the counter of an expired session to close")
