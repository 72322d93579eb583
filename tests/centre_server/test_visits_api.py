"""One-stop visits over HTTP on a real SQLite file: issue with ``then``, serve at two counters, the
clerk's change, refusals as JSON, and a restart that brings the visit back as it was."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from centre_server.http.app import create_app
from tests.centre_server.test_api import issue, kiosk, staff


def _client(centre_dir) -> TestClient:
    client = TestClient(create_app(centre_dir.path), raise_server_exceptions=False)
    client.centre = centre_dir
    return client


def test_a_visit_served_at_two_counters_survives_a_restart(centre_dir):
    with _client(centre_dir) as api:
        menu = {s["id"]: s for s in api.get("/api/v1/services").json()}
        assert "kra-pin" in menu["id-card-new"]["then"]  # the demo menu says a KRA PIN often follows an ID
        clerk = staff(api)
        assert api.post("/api/v1/counters/c01/open", headers=clerk).status_code == 200
        manager = staff(api, "manager")  # one person holds one counter: the KRA counter is the manager's
        assert api.post("/api/v1/counters/c12/open", headers=manager).status_code == 200
        early_kra = issue(api, "kra-pin")
        t = issue(api, "id-card-new", then=["kra-pin", "sha-registration"])
        assert t["number"] == "A001"
        assert [(s["service_id"], s["state"]) for s in t["visit"]] == [
            ("id-card-new", "now"), ("kra-pin", "next"), ("sha-registration", "next")]
        assert t["visit"][1]["counters"][0] == "12"  # where: the open KRA counter first
        later_kra = issue(api, "kra-pin")
        assert api.post("/api/v1/counters/c01/call-next", headers=clerk).json()["id"] == t["id"]
        # the clerk drops SHA (the citizen has cover already)
        r = api.post("/api/v1/counters/c01/visit", json={"next": ["kra-pin"]}, headers=clerk)
        assert r.status_code == 200 and [s["service_id"] for s in r.json()["visit"]] == ["id-card-new", "kra-pin"]
        assert api.post("/api/v1/counters/c01/complete", headers=clerk).status_code == 200
        now = api.get(f"/api/v1/tickets/{t['id']}").json()
        assert now["service_id"] == "kra-pin" and now["state"] == "waiting" and now["number"] == "A001"
        assert now["position"] == 1  # behind the KRA ticket issued before it, ahead of the later one
        assert [s["state"] for s in now["visit"]] == ["done", "now"]
    with _client(centre_dir) as api:  # a restart: the visit is read back from the database
        clerk = staff(api)
        again = api.get(f"/api/v1/tickets/{t['id']}").json()
        assert again["service_id"] == "kra-pin" and [s["state"] for s in again["visit"]] == ["done", "now"]
        assert api.post("/api/v1/counters/c12/call-next", headers=manager).json()["id"] == early_kra["id"]
        assert api.post("/api/v1/counters/c12/start", headers=manager).status_code == 200
        assert api.post("/api/v1/counters/c12/call-next", headers=manager).json()["id"] == t["id"]
        assert api.post("/api/v1/counters/c12/complete", headers=manager).status_code == 200
        done = api.get(f"/api/v1/tickets/{t['id']}").json()
        assert done["state"] == "done" and [s["state"] for s in done["visit"]] == ["done", "done"]
        assert api.post("/api/v1/counters/c12/call-next", headers=manager).json()["id"] == later_kra["id"]
        # and a new ticket after the restart numbers on from A001
        assert issue(api, "id-card-new")["number"] == "A002"
    db = sqlite3.connect(centre_dir.path / "centre.db")
    types = [r[0] for r in db.execute("SELECT type FROM events WHERE type LIKE 'visit_%' ORDER BY seq")]
    assert types == ["visit_planned", "visit_changed", "visit_step_queued"]


def test_bad_visits_are_refused_with_json(centre_dir):
    with _client(centre_dir) as api:
        def refused(body: dict) -> tuple[int, str]:
            r = api.post("/api/v1/tickets", json=body, headers=kiosk(api))
            return r.status_code, r.json()["error"]["code"]

        assert refused({"service_id": "id-card-new", "then": ["passport"]}) == (422, "visit_not_offered")
        assert refused({"service_id": "id-card-new", "then": ["no-such"]}) == (404, "unknown_service")
        assert refused({"service_id": "id-card-new", "then": ["kra-pin", "kra-pin"]})[1] == "visit_repeats_service"
        assert refused({"service_id": "id-card-new", "then": ["a", "b", "c", "d"]})[0] == 422
        assert refused({"service_id": "id-card-new", "then": "kra-pin"})[0] == 422
        assert refused({"service_id": "id-card-new", "then": ["x" * 500]})[0] == 422
        clerk = staff(api)
        api.post("/api/v1/counters/c01/open", headers=clerk)
        r = api.post("/api/v1/counters/c01/visit", json={"next": ["kra-pin"]}, headers=clerk)
        assert r.status_code == 409 and r.json()["error"]["code"] == "no_ticket_at_counter"
