"""A power cut (kill -9) in the middle of closing the day: nothing half-closed, one summary, one outbox entry.

The cut is made at a known step of the close, not after a guessed delay: the
server runs with ``HUDUMA_DAYCLOSE_PAUSE_AT=<step>``, the close stops for good
at that step and says so in ``DIR/.dayclose-paused``, and only then is the
server killed. Each step is a different half-done close to recover from.

The centre sends to a headquarters that is not there (port 9): a demo centre
left to its default would send to whatever ``huduma-hq --demo`` runs on this
machine's port 8100, whose held revisions of the same key make the sender
re-queue above them (that is how a loaded machine once saw revisions [1, 5]).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx
import pytest

from centre_server.dayclose.closing import CLOSE_STEPS, PAUSE_ENV, PAUSE_MARK
from tests.conftest import set_upstream


@pytest.mark.parametrize("step", CLOSE_STEPS)
def test_power_cut_during_day_close(centre_server, monkeypatch, step):
    server = centre_server
    server.stop()
    set_upstream(server.centre.path)  # no headquarters: nothing but this centre decides the revisions
    monkeypatch.setenv(PAUSE_ENV, step)
    server.start()
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
    for _ in range(15):  # each called citizen comes and is served (a call over one only called is refused)
        clerk.post("/api/v1/counters/c12/call-next").raise_for_status()
        clerk.post("/api/v1/counters/c12/start").raise_for_status()
    manager_token = server.login("manager")

    def close() -> None:
        try:
            httpx.post(f"{server.url}/api/v1/day/close", headers={"Authorization": f"Bearer {manager_token}"},
                       timeout=120)
        except httpx.HTTPError:
            pass  # the power went

    mark = server.centre.path / PAUSE_MARK
    th = threading.Thread(target=close)
    th.start()
    deadline = time.monotonic() + 120
    while not mark.exists():  # the close has reached the step and stopped there
        assert server.proc.poll() is None, "the server died before the cut"
        assert time.monotonic() < deadline, f"the close never reached {step!r}: {server.log_path.read_text()[-2000:]}"
        time.sleep(0.02)
    assert mark.read_text() == step
    server.kill9()
    th.join()

    monkeypatch.delenv(PAUSE_ENV)
    mark.unlink()
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
    summary = json.loads(db.execute("SELECT data FROM daily_summaries WHERE date=?", [day]).fetchone()[0])
    assert summary["total"]["arrived"] == len(issued)
    assert summary["total"]["served"] == 14  # 15 called: 14 finished by the next call, the last by the close
    assert r.json()["revision"] == 1 and r.json()["new_revision"] == (step != "recorded")
