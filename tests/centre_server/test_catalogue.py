"""A centre runs the national catalogue: applied over its menu between two commands, kept across restarts,
a manager's offerings (suspended with a reason, not offered here) through the API, and the sync's offline side.

The sync against a real headquarters is in ``test_catalogue_e2e.py``.
"""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from centre_server.catalogue.offerings import set_offering
from centre_server.catalogue.sync import CatalogueSync, SyncError
from centre_server.config import load_settings
from centre_server.contract import IssueRefusal, Priority
from centre_server.contract.catalogue import Catalogue, OfferingStatus, Text, shipped_catalogue
from centre_server.contract.errors import Refusal
from centre_server.http.app import create_app
from centre_server.queue import engine
from centre_server.runtime.centre import Centre, new_ticket_id
from centre_server.store import catalogue as catalogue_store

REASON = Text(en="KRA's iTax system is down", sw="Mfumo wa iTax wa KRA haufanyi kazi")


def national(version: int, **changes: Any) -> Catalogue:
    """The shipped catalogue as headquarters' version ``version``, with kra-pin's fee, name and target changed."""
    data = shipped_catalogue().model_dump(mode="json")
    data.update(version=version, published_at=datetime(2026, 12, 6, 20, 0, tzinfo=UTC).isoformat(),
                published_by="hq-admin")
    for s in data["services"]:
        if s["id"] == "kra-pin":
            s["fee"]["amount_ksh"] = 100 * version
            s["name"] = {"en": f"KRA PIN (national v{version})", "sw": f"PIN ya KRA (toleo {version})"}
            s["target_wait_min"] = 20
            s["typical_duration_min"] = 9
    data["standards"] = {"priority_classes": ["elderly", "disability", "appointment"],
                         "priority_streak_limit": 5, "target_share": 0.9}
    data.update(changes)
    return Catalogue.model_validate(data)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


@pytest.fixture
def settings(centre_dir):
    """The demo centre, pointed at a headquarters that is not there (never the demo HQ of a neighbour's test)."""
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('hq_url = ""', f'hq_url = "http://127.0.0.1:{closed_port()}"'))
    return load_settings(centre_dir.path)


def test_a_new_version_replaces_the_menus_national_fields_and_the_standards(settings) -> None:
    centre = Centre(settings)
    try:
        assert centre.catalogue.version == 0 and centre.catalogue_applied_at is None
        menu_name = centre.state.services["kra-pin"].name_en
        assert menu_name == "KRA PIN registration"  # version 0 is the shipped copy of the menu: nothing changes
        assert centre.apply_catalogue(national(3)) is True
        svc = centre.state.services["kra-pin"]
        assert (svc.name_en, svc.name_sw, svc.target_wait_s, svc.service_time_s) == (
            "KRA PIN (national v3)", "PIN ya KRA (toleo 3)", 1200, 540.0)
        assert svc.prefix == "K"  # the centre keeps its own ticket letter
        # the day's figures judge waits by the target the queue runs, as the board and the alerts do
        from centre_server.reports.live import live_day
        centre.execute(engine.IssueTicket(new_ticket_id(), "kra-pin"))
        rows = {r["service_id"]: r for r in live_day(centre)["services"]}
        assert rows["kra-pin"]["target_wait_s"] == 1200, rows["kra-pin"]
        assert centre.state.policy.priority_streak_limit == 5 and centre.state.policy.target_share == 0.9
        assert Priority.expectant not in centre.state.policy.priority_classes
        payload = centre.catalogue_payload()
        assert payload.version == 3 and payload.info("kra-pin").service.fee.amount_ksh == 300
        assert centre.service_payload("kra-pin").name_en == "KRA PIN (national v3)"
        assert centre.apply_catalogue(national(2)) is False  # never back to an older version
        assert centre.catalogue.version == 3
        assert catalogue_store.report_due(centre.db) is not None  # headquarters is to hear of it
        with pytest.raises(engine.QueueError) as err:
            centre.execute(engine.IssueTicket(new_ticket_id(), "kra-pin", Priority.expectant))
        assert err.value.code == "priority_not_allowed"
    finally:
        centre.close()


def test_a_restart_runs_the_newest_stored_version_and_keeps_every_offering(settings) -> None:
    centre = Centre(settings)
    try:
        catalogue_store.save_version(centre.db, national(4), 1.0)
        assert centre.apply_catalogue(national(4))
        waiting = centre.execute(engine.IssueTicket(new_ticket_id(), "kra-pin"))[0].data.ticket_id
        set_offering(centre, "kra-pin", OfferingStatus.suspended, REASON, by="manager")
        set_offering(centre, "birth-cert", OfferingStatus.not_offered, by="manager")
    finally:
        centre.close()
    again = Centre(settings)
    try:
        assert again.catalogue.version == 4 and again.catalogue_applied_at is not None
        assert again.state.services["kra-pin"].name_en == "KRA PIN (national v4)"
        info = again.catalogue_payload().info("kra-pin")
        assert info.offering.status is OfferingStatus.suspended and info.offering.reason == REASON
        assert info.offering.by == "manager" and info.offering.since is not None
        assert again.catalogue_payload().info("birth-cert").offering.status is OfferingStatus.not_offered
        assert again.state.tickets[waiting].state.value == "waiting"  # those waiting keep their place
        for sid, code in (("kra-pin", IssueRefusal.service_suspended), ("birth-cert", IssueRefusal.service_disabled)):
            with pytest.raises(engine.QueueError) as err:
                again.execute(engine.IssueTicket(new_ticket_id(), sid))
            assert err.value.code == code
        set_offering(again, "kra-pin", OfferingStatus.offered, by="manager")
        set_offering(again, "birth-cert", OfferingStatus.offered, by="manager")
        assert again.execute(engine.IssueTicket(new_ticket_id(), "kra-pin"))[0].data.number == "K002"
        assert again.execute(engine.IssueTicket(new_ticket_id(), "birth-cert"))
    finally:
        again.close()


def test_offerings_refuse_what_a_manager_cannot_decide(settings) -> None:
    centre = Centre(settings)
    try:
        with pytest.raises(Refusal) as err:
            set_offering(centre, "no-such-service", OfferingStatus.suspended, REASON)
        assert err.value.status == 404
        with pytest.raises(Refusal) as err:
            set_offering(centre, "kra-pin", OfferingStatus.suspended, None)
        assert err.value.status == 422
        centre.state.services["kra-pin"].enabled = False  # disabled in the menu: it can only be not offered
        with pytest.raises(Refusal) as err:
            set_offering(centre, "kra-pin", OfferingStatus.offered)
        assert err.value.status == 409 and err.value.code == "not_in_menu"
        assert set_offering(centre, "kra-pin", OfferingStatus.not_offered).status is OfferingStatus.not_offered
    finally:
        centre.close()


def test_headquarters_out_of_reach_changes_nothing_and_the_report_waits(settings) -> None:
    centre = Centre(settings)
    sync = CatalogueSync.for_centre(centre)
    try:
        set_offering(centre, "kra-pin", OfferingStatus.suspended, REASON, by="manager")
        due = catalogue_store.report_due(centre.db)
        assert due is not None
        with pytest.raises(SyncError):
            sync.sync_once()
        assert sync.last_error and sync.last_error.startswith("no connection")
        assert centre.catalogue.version == 0 and catalogue_store.report_due(centre.db) == due
        delays = [sync.backoff.delay(n, sync.rng) for n in (1, 4, 12)]
        assert delays[0] < delays[1] < delays[2] <= sync.backoff.cap_s
    finally:
        sync.close()
        centre.close()


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def api(settings, centre_dir):
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.centre = centre_dir
        yield client


def login(api, username: str) -> dict[str, str]:
    r = api.post("/api/v1/auth/login", json={"username": username, "password": api.centre.staff_password(username)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_manager_suspends_over_http_and_a_newcomer_is_refused_with_the_reason(api) -> None:
    kiosk = {"Authorization": f"Bearer {api.centre.bundle('kiosk-1')['token']}"}
    manager, clerk = login(api, "manager"), login(api, "clerk")
    api.cookies.clear()  # bearer tokens only: the board's cookie session is the next test's
    assert api.get("/healthz").json()["catalogue_version"] == 0
    assert api.post("/api/v1/tickets", json={"service_id": "kra-pin"}, headers=kiosk).status_code == 201
    body = {"status": "suspended", "reason": REASON.model_dump()}
    assert api.post("/api/v1/catalogue/kra-pin/offering", json=body, headers=clerk).status_code == 403
    assert api.post("/api/v1/catalogue/kra-pin/offering", json=body).status_code == 401
    r = api.post("/api/v1/catalogue/kra-pin/offering", json={"status": "suspended"}, headers=manager)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = api.post("/api/v1/catalogue/kra-pin/offering", json={"status": "suspended",
                 "reason": {"en": "x" * 241, "sw": "y"}}, headers=manager)
    assert r.status_code == 422
    for hostile in ("line1\nline2\u0000", "a\u202eb", "\u200b"):  # a NUL would reach SMS and the log
        r = api.post("/api/v1/catalogue/kra-pin/offering", json={"status": "suspended",
                     "reason": {"en": hostile, "sw": "sababu"}}, headers=manager)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", hostile
    assert api.get("/api/v1/catalogue/kra-pin").json()["offering"]["status"] == "offered"
    r = api.post("/api/v1/catalogue/..%2Fx/offering", json=body, headers=manager)
    assert r.status_code in (404, 422)
    r = api.post("/api/v1/catalogue/kra-pin/offering", json=body, headers=manager)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended" and r.json()["by"] == "manager"
    assert r.json()["since"].endswith("+03:00")  # the centre's local time, as every time it shows
    again = api.post("/api/v1/catalogue/kra-pin/offering", json=body, headers=manager)  # a double click
    assert again.status_code == 200 and again.json()["since"] == r.json()["since"]
    with sqlite3.connect(api.app.state.centre.settings.db_path) as db:  # nobody waiting is told twice
        assert db.execute("SELECT count(*) FROM events WHERE type = 'service_suspended'").fetchone()[0] == 1
    refused = api.post("/api/v1/tickets", json={"service_id": "kra-pin"}, headers=kiosk)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "service_suspended" and error["reason_sw"] == REASON.sw
    svc = next(s for s in api.get("/api/v1/services").json() if s["id"] == "kra-pin")
    assert svc["accepting"] is False and svc["refusal"] == "service_suspended" and svc["waiting"] == 1
    info = api.get("/api/v1/catalogue/kra-pin").json()
    assert info["offering"]["status"] == "suspended" and info["offering"]["reason"]["en"] == REASON.en
    status = api.get("/api/v1/catalogue/sync", headers=manager).json()
    assert status["report_pending"] is True and status["running_version"] == 0
    r = api.post("/api/v1/catalogue/kra-pin/offering", json={"status": "offered"}, headers=manager)
    assert r.status_code == 200 and r.json()["status"] == "offered"
    assert api.post("/api/v1/tickets", json={"service_id": "kra-pin"}, headers=kiosk).json()["number"] == "K002"
    r = api.post("/api/v1/catalogue/sync/now", headers=manager)  # HQ out of reach: said, not an error of the request
    assert r.status_code == 200 and r.json()["last_error"].startswith("no connection")
    assert r.json()["running_version"] == 0
    assert api.post("/api/v1/catalogue/sync/now", headers=clerk).status_code == 403


def test_the_board_session_needs_its_csrf_token_to_change_an_offering(api) -> None:
    r = api.post("/api/v1/auth/login", json={"username": "manager",
                                             "password": api.centre.staff_password("manager")})
    assert r.status_code == 200
    body = {"status": "not_offered"}
    no_token = api.post("/api/v1/catalogue/birth-cert/offering", json=body)
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "csrf"
    ok = api.post("/api/v1/catalogue/birth-cert/offering", json=body,
                  headers={"x-csrf-token": api.cookies.get("huduma_csrf")})
    assert ok.status_code == 200 and ok.json()["status"] == "not_offered"
