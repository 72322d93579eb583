"""A power cut (kill -9) in the middle of closing the day: nothing half-closed, one summary, one outbox entry."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest


@pytest.mark.parametrize("cut_after_s", [0.0, 0.03, 0.15])
def test_power_cut_during_day_close(centre_server, cut_after_s):
    server = centre_server
    kiosks = [server.client(server.centre.bundle(k)["token"]) for k in ("kiosk-1", "kiosk-2")]
    services = ["kra-pin", "helb", "posta", "id-card-new"]
    issued = []
    for i in range(160):
        body = {"service_id": services[i % 4]}
        if i % 5 == 0:
            body["phone"] = f"07{i:08d}"
        r = kiosks[i % 2].post("/api/v1/tickets", json=body)  # two kiosks: each is rate limited
        assert r.status_code == 201, r.text
        issued.append(r.json())
    clerk = server.client(server.login("clerk"))
    clerk.post("/api/v1/counters/c12/open", json={"services": ["kra-pin"]}).raise_for_status()
    for _ in range(15):
        clerk.post("/api/v1/counters/c12/call-next").raise_for_status()
    manager_token = server.login("manager")

    def close() -> None:
        try:
            httpx.post(f"{server.url}/api/v1/day/close", headers={"Authorization": f"Bearer {manager_token}"},
                       timeout=30)
        except httpx.HTTPError:
            pass  # the power went

    th = threading.Thread(target=close)
    th.start()
    time.sleep(cut_after_s)
    server.kill9()
    th.join()

    server.start()
    manager = server.client(server.login("manager"))
    r = manager.post("/api/v1/day/close")
    assert r.status_code == 200, r.text
    day = r.json()["date"]
    db = sqlite3.connect(server.centre.path / "centre.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    states = dict(db.execute("SELECT state, COUNT(*) FROM tickets WHERE day=? GROUP BY state", [day]))
    assert sum(states.values()) == len(issued)
    assert not {"waiting", "called", "serving"} & set(states), f"a ticket left open: {states}"
    revisions = [r for (r,) in db.execute("SELECT revision FROM daily_summaries WHERE date=? ORDER BY revision", [day])]
    assert revisions == [1], f"the cut close and the re-close made revisions {revisions}"
    keys = [k for (k,) in db.execute("SELECT key FROM outbox WHERE key LIKE ?", [f"%:{day}:%"])]
    assert len(keys) == len(revisions), "a summary without its outbox entry, or queued twice"
    assert db.execute("SELECT COUNT(*) FROM tickets WHERE day=? AND phone IS NOT NULL", [day]).fetchone()[0] == 0
    import json

    summary = json.loads(db.execute("SELECT data FROM daily_summaries WHERE date=?", [day]).fetchone()[0])
    assert summary["total"]["arrived"] == len(issued)
