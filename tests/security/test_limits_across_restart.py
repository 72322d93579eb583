"""The per-phone ticket limit guards SMS (each ticket with a phone sends one): a restart, or a server in a crash
loop, gives no phone a fresh hour. The app is built twice over the same centre files, as a restart does."""

from __future__ import annotations

from fastapi.testclient import TestClient

from centre_server.http.app import create_app

PHONE = "0722000111"


def issue(client: TestClient, token: str, phone: str) -> int:
    r = client.post("/api/v1/tickets", json={"service_id": "posta", "phone": phone},
                    headers={"Authorization": f"Bearer {token}"})
    if r.status_code == 429:
        assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    return r.status_code


def test_a_restart_does_not_give_a_phone_more_tickets_in_the_hour(centre_dir) -> None:
    kiosk = centre_dir.bundle("kiosk-1")["token"]
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as client:
        assert [issue(client, kiosk, PHONE) for _ in range(6)] == [201] * 5 + [429]
    for _ in range(3):  # a crash loop: start, refuse, stop, again
        with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as client:
            assert issue(client, kiosk, PHONE) == 429
            assert issue(client, kiosk, "+254722000111") == 429  # the same phone, written otherwise
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as client:
        assert issue(client, kiosk, "0733000222") == 201  # another phone has its own hour
        sms = client.app.state.centre.db.execute("SELECT COUNT(*) FROM sms_outbox WHERE phone LIKE '%722000111'")
        assert sms.fetchone()[0] == 5  # five tickets, five SMS: no more across the restarts
