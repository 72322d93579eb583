"""Storage: what is committed is what a restart reloads, transfers included."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from centre_server.http.app import create_app
from centre_server.store.database import MIGRATIONS, connect


def _login(client: TestClient, centre_dir, user: str) -> dict:
    r = client.post("/api/v1/auth/login", json={"username": user, "password": centre_dir.staff_password(user)})
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_transfers_keep_every_row_and_numbering_survives_a_restart(centre_dir):
    kiosk = {"Authorization": f"Bearer {centre_dir.bundle('kiosk-1')['token']}"}
    with TestClient(create_app(centre_dir.path)) as c:
        clerk = _login(c, centre_dir, "clerk")
        a = [c.post("/api/v1/tickets", json={"service_id": "id-card-new"}, headers=kiosk).json() for _ in range(3)]
        b = c.post("/api/v1/tickets", json={"service_id": "birth-cert"}, headers=kiosk).json()
        c.post("/api/v1/counters/c01/open", json={"services": ["id-card-new"]}, headers=clerk)
        # A003 is called first? no: A001 (longest wait); send A001..A003 to birth certificates
        for _ in range(3):
            c.post("/api/v1/counters/c01/call-next", headers=clerk)
            assert c.post("/api/v1/counters/c01/transfer", json={"service_id": "birth-cert"},
                          headers=clerk).status_code == 200
    db = sqlite3.connect(centre_dir.path / "centre.db")
    assert db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 4, "a transfer overwrote a ticket row"
    with TestClient(create_app(centre_dir.path)) as c:
        nxt_a = c.post("/api/v1/tickets", json={"service_id": "id-card-new"}, headers=kiosk).json()
        nxt_b = c.post("/api/v1/tickets", json={"service_id": "birth-cert"}, headers=kiosk).json()
    assert (nxt_a["number"], nxt_b["number"]) == ("A004", "B002"), "numbering after a restart went wrong"
    assert {t["number"] for t in a} == {"A001", "A002", "A003"} and b["number"] == "B001"


def test_migrations_bring_any_version_up(tmp_path):
    db = connect(tmp_path / "x.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.conn.close()
    again = connect(tmp_path / "x.db")  # idempotent on an up-to-date database
    assert again.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_whose_hub_made_the_booking_table_migrates_on(tmp_path):
    """Before migration 7 the channels' hub made ``booking_confirmations`` at start: such a database moves on."""
    from centre_server.store.migrations import MIGRATIONS as steps, migrate

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    import sqlite_utils

    old = sqlite_utils.Database(conn)
    for number, step in enumerate(steps[:6], start=1):
        step(old)
        conn.execute(f"PRAGMA user_version={number}")
    conn.execute("CREATE TABLE booking_confirmations (appt_id TEXT PRIMARY KEY, code TEXT NOT NULL, "
                 "tries INTEGER NOT NULL DEFAULT 0, expires_at REAL NOT NULL)")
    conn.execute("INSERT INTO booking_confirmations VALUES ('a1', '123456', 0, 1.0)")
    assert migrate(old) == len(steps) >= 7  # every later step runs too
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(steps)
    assert conn.execute("SELECT code FROM booking_confirmations").fetchall() == [("123456",)]  # kept
