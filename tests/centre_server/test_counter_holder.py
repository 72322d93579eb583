"""Issue 16: a counter obeys the clerk who opened it (or a manager), never another clerk."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from centre_server.http.app import create_app
from provisioning.staff import add_staff
from tests.centre_server.test_api import issue, staff

SERVICES = ["id-card-new", "birth-cert"]


@pytest.fixture
def api(centre_dir):
    """The app on a real SQLite file, with a second clerk, ``wanjiku``, beside the demo's ``clerk``."""
    password = add_staff(centre_dir.path, "wanjiku", "clerk")["password"]
    centre_dir.credentials["staff"]["wanjiku"] = {"role": "clerk", "password": password}
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as client:
        client.centre = centre_dir
        yield client


def refused(r) -> dict:
    assert r.status_code == 403, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "not_your_counter" and "a manager may" in err["message"], err
    return err


def test_another_clerk_cannot_act_on_a_held_counter(api):
    mine, other, manager = staff(api, "clerk"), staff(api, "wanjiku"), staff(api, "manager")
    waiting = [issue(api, "id-card-new") for _ in range(4)]
    assert api.post("/api/v1/counters/c01/open", json={"services": SERVICES}, headers=mine).status_code == 200
    called = api.post("/api/v1/counters/c01/call-next", headers=mine).json()
    assert called["number"] == waiting[0]["number"]

    # Every action, as the second clerk: refused, naming who holds the counter, and nothing moves.
    attempts = [
        ("call-next", None), (f"call/{waiting[2]['id']}", None), ("call-number", {"number": waiting[3]["number"]}),
        ("recall", None), ("no-show", None), ("start", None), ("complete", {"outcome": "served"}),
        ("transfer", {"service_id": "birth-cert"}), ("pause", None), ("resume", None), ("close", None),
        ("reactivate-number", {"number": waiting[0]["number"]}),
        ("open", {"services": ["birth-cert"]}),
    ]
    for action, body in attempts:
        r = api.post(f"/api/v1/counters/c01/{action}", json=body, headers=other)
        err = refused(r)
        assert "held by clerk" in err["message"], (action, err)
    counter = api.get("/api/v1/counters/c01", headers=other).json()
    assert counter["clerk"] == "clerk" and counter["state"] == "open" and counter["services"] == SERVICES
    assert counter["serving"]["number"] == waiting[0]["number"] and counter["serving"]["recalls"] == 0
    assert api.get(f"/api/v1/tickets/{waiting[1]['id']}", headers=mine).json()["state"] == "waiting"

    # The holder goes on as before; a manager may act on any counter.
    assert api.post("/api/v1/counters/c01/recall", headers=mine).json()["recalls"] == 1
    assert api.post("/api/v1/counters/c01/start", headers=manager).json()["state"] == "serving"
    assert api.post("/api/v1/counters/c01/complete", json={"outcome": "served"}, headers=manager).status_code == 200
    assert api.post("/api/v1/counters/c01/pause", headers=manager).json()["state"] == "paused"
    assert api.post("/api/v1/counters/c01/resume", headers=mine).json()["state"] == "open"

    # The second clerk opens a free counter of their own, and the first may not touch it.
    opened = api.post("/api/v1/counters/c02/open", json={"services": SERVICES}, headers=other)
    assert opened.json()["clerk"] == "wanjiku"
    assert "held by wanjiku" in refused(api.post("/api/v1/counters/c02/call-next", headers=mine))["message"]
    assert api.post("/api/v1/counters/c02/call-next", headers=other).json()["number"] == waiting[1]["number"]

    # Once closed by its holder, a counter is free for the next clerk.
    assert api.post("/api/v1/counters/c01/close", headers=mine).json()["state"] == "closed"
    r = api.post("/api/v1/counters/c01/open", json={"services": SERVICES}, headers=other)
    assert r.status_code == 200 and r.json()["clerk"] == "wanjiku"


def test_a_manager_may_take_over_a_held_counter(api):
    mine, manager = staff(api, "clerk"), staff(api, "manager")
    assert api.post("/api/v1/counters/c03/open", json={"services": SERVICES}, headers=mine).status_code == 200
    r = api.post("/api/v1/counters/c03/open", json={"services": SERVICES}, headers=manager)
    assert r.status_code == 200 and r.json()["clerk"] == "manager"
    refused(api.post("/api/v1/counters/c03/pause", headers=mine))
    assert api.post("/api/v1/counters/c03/close", headers=manager).json()["state"] == "closed"


def test_unknown_counter_is_still_404_for_a_clerk(api):
    r = api.post("/api/v1/counters/no-such/call-next", headers=staff(api, "wanjiku"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_counter"


def test_a_clerk_who_opens_a_second_counter_leaves_the_first(api):
    """Issue: clerk opened c12 then c13 through the API and both stayed open, so estimates counted two."""
    mine, other = staff(api, "clerk"), staff(api, "wanjiku")
    assert api.post("/api/v1/counters/c12/open", headers=mine).json()["left"] == []
    assert api.post("/api/v1/counters/c01/open", json={"services": SERVICES}, headers=other).status_code == 200
    r = api.post("/api/v1/counters/c13/open", headers=mine)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "open" and body["clerk"] == "clerk" and body["left"] == ["12"], body
    counters = {c["id"]: c for c in api.get("/api/v1/counters", headers=mine).json()}
    assert counters["c12"]["state"] == "closed" and counters["c13"]["state"] == "open"
    held = [c["id"] for c in counters.values() if c["state"] != "closed" and c["clerk"] == "clerk"]
    assert held == ["c13"]
    assert counters["c01"]["state"] == "open" and counters["c01"]["clerk"] == "wanjiku"  # another clerk's stays
    # opening the counter one already holds again leaves nothing
    assert api.post("/api/v1/counters/c13/open", headers=mine).json()["left"] == []
