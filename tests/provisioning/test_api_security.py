"""API security: device tokens scoped by role, revocations and staff changes take effect at once, all audited.

The app runs in-process with its lifespan (TestClient); provisioning changes the
same centre.db underneath it, as the technician's tool does beside a running server.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from centre_server.http.app import create_app
from provisioning.centre import audit_log
from provisioning.counters import add_counter, assign_services, remove_counter
from provisioning.devices import add_device, revoke_device, rotate_device
from provisioning.services import edit_service, set_services_enabled
from provisioning.staff import add_staff, reset_password, set_staff_disabled


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client: TestClient, token: str, service: str = "passport"):
    return client.post("/api/v1/tickets", json={"service_id": service},
                       headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex})


@pytest.fixture
def api(centre):
    with TestClient(create_app(centre.path)) as client:
        yield client


def login(client: TestClient, centre, username: str, password: str | None = None):
    import json

    if not password:
        password = json.loads((centre.path / "demo-credentials.json").read_text())["staff"][username]["password"]
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_device_tokens_are_scoped_by_role(api, centre):
    kiosk, display, bridge = (centre.bundle(d)["token"] for d in ("kiosk-1", "display-1", "bridge-1"))
    assert issue(api, kiosk).status_code == 201
    for token in (display, bridge):
        r = issue(api, token)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    for token in (kiosk, display, bridge):  # no device is a clerk or a manager
        assert api.post("/api/v1/counters/c01/open", json={}, headers=bearer(token)).status_code == 403
        assert api.post("/api/v1/counters/c01/call-next", headers=bearer(token)).status_code == 403
        assert api.get("/api/v1/stats/live", headers=bearer(token)).status_code == 403
    assert api.get("/api/v1/services", headers=bearer(display)).status_code == 200


def test_revoked_device_token_is_refused_at_once(api, centre):
    token = centre.bundle("kiosk-2")["token"]
    assert issue(api, token).status_code == 201
    revoke_device(centre.path, "kiosk-2", reason="stolen")
    r = issue(api, token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"


def test_rotated_device_old_token_refused_new_accepted(api, centre):
    old = centre.bundle("kiosk-1")["token"]
    fresh = rotate_device(centre.path, "kiosk-1")
    assert issue(api, old).status_code == 401
    assert issue(api, fresh["token"]).status_code == 201
    assert centre.bundle("kiosk-1")["token"] == fresh["token"]  # the bundle file was rewritten


def test_reinstated_device_works_again(api, centre):
    revoke_device(centre.path, "kiosk-2")
    fresh = rotate_device(centre.path, "kiosk-2", reinstate=True)
    assert issue(api, fresh["token"]).status_code == 201


def test_disabled_staff_session_ends_at_once(api, centre):
    r = login(api, centre, "clerk")
    token = r.json()["token"]
    assert api.post("/api/v1/counters/c01/open", json={}, headers=bearer(token)).status_code == 200
    set_staff_disabled(centre.path, "clerk", True)
    assert api.post("/api/v1/counters/c01/pause", headers=bearer(token)).status_code == 401
    assert login(api, centre, "clerk").status_code == 403
    set_staff_disabled(centre.path, "clerk", False)
    assert login(api, centre, "clerk").status_code == 200


def test_reset_password_ends_sessions_and_old_password(api, centre):
    token = login(api, centre, "manager").json()["token"]
    fresh = reset_password(centre.path, "manager")
    assert api.get("/api/v1/stats/live", headers=bearer(token)).status_code == 401
    assert login(api, centre, "manager").status_code == 401  # the old password
    new_token = login(api, centre, "manager", fresh["password"]).json()["token"]
    assert api.get("/api/v1/stats/live", headers=bearer(new_token)).status_code == 200


def test_server_broker_user_has_no_api_token(api, centre):
    """The server's registry row must never authenticate an HTTP caller."""
    import sqlite3

    with sqlite3.connect(centre.path / "centre.db") as db:
        (stored,) = db.execute("SELECT token_hash FROM devices WHERE id='centre-server'").fetchone()
    assert api.get("/api/v1/stats/live", headers=bearer(stored)).status_code == 401


def test_every_change_is_audited(centre):
    add_device(centre.path, "kiosk", "kiosk-9", qr=False)
    rotate_device(centre.path, "kiosk-9")
    revoke_device(centre.path, "kiosk-9", reason="replaced")
    add_staff(centre.path, "wanjiku", "clerk")
    reset_password(centre.path, "wanjiku")
    set_staff_disabled(centre.path, "wanjiku", True)
    set_services_enabled(centre.path, ["passport"], False)
    edit_service(centre.path, "passport", target_wait_min=25)
    assign_services(centre.path, "c05", ["birth-cert"])
    add_counter(centre.path, "c31", services=["kra-pin"])
    remove_counter(centre.path, "c31")
    actions = [e["action"] for e in audit_log(centre.path, limit=11)]
    assert actions == ["remove-counter", "add-counter", "assign-services", "edit-service", "disable-services",
                       "disable-staff", "reset-password", "add-staff", "revoke-device", "rotate-device",
                       "add-device"]
    entries = audit_log(centre.path, action="revoke-device")
    assert entries[0]["detail"] == {"device_id": "kiosk-9", "reason": "replaced"}
    assert entries[0]["actor"].startswith("provision")
    # no secret ever reaches the audit log
    text = repr(audit_log(centre.path, limit=1000))
    assert centre.bundle("kiosk-1")["token"] not in text and "password\": \"" not in text
