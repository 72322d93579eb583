"""Centre -> headquarters: a real HQ process on a real PostgreSQL, the centre's outbox and sender, a proxy we cut."""

from __future__ import annotations

import json
import random
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from centre_server.config import load_settings
from centre_server.dayclose import closing, records, upstream
from centre_server.queue import engine
from centre_server.sim.daysim import simulate_engine_day
from centre_server.store import database as storage
from tests.centre_server.test_dayclose import Day
from tests.conftest import BIN, set_upstream, wait_until

FAST = upstream.Backoff(base_s=0.05, cap_s=0.4)


def sender_for(directory: Path, url: str, token: str) -> upstream.Sender:
    settings = load_settings(directory)
    return upstream.Sender(settings.db_path, url, token, backoff=FAST, poll_s=0.1, timeout_s=5,
                           rng=random.Random(1))


def outbox(directory: Path) -> list[dict]:
    db = storage.connect(directory / "centre.db")
    try:
        return [dict(zip(("key", "attempts", "sent_at", "last_error"), r))
                for r in db.execute("SELECT key, attempts, sent_at, last_error FROM outbox ORDER BY id").fetchall()]
    finally:
        db.conn.close()


def stored_rows(pg_url: str, centre_id: str) -> list[tuple]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT date, revision, key FROM summaries WHERE centre_id=%s ORDER BY date",
                            [centre_id]).fetchall()


def receipts(hq, centre_id: str) -> dict[str, dict]:
    return {r["key"]: r for r in hq.client().get("/api/v1/receipts", params={"centre_id": centre_id}).json()}


def test_a_closed_day_reaches_headquarters_exactly_as_computed(centre_dir, hq, pg_url) -> None:
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    day = Day(centre_dir.path)
    day.build()
    result = closing.close_with_centre(day.centre)
    day.centre.close()
    sender = sender_for(centre_dir.path, hq.url, token)
    try:
        assert sender.send_due() == 1
        assert sender.send_due() == 0  # nothing left
    finally:
        sender.close()
    held = hq.client().get(f"/api/v1/summaries/demo/{result.date}").json()
    assert held["revision"] == 1 and held["key"] == f"demo:{result.date}:1"
    assert held["summary"] == result.summary  # every figure, as the centre computed it
    assert stored_rows(pg_url, "demo") == [(result.date, 1, f"demo:{result.date}:1")]
    [row] = outbox(centre_dir.path)
    assert row["sent_at"] is not None and row["attempts"] == 1


def test_a_link_that_drops_mid_request_stores_one_revision(centre_dir, hq, proxy, pg_url) -> None:
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    day = Day(centre_dir.path)
    day.build()
    result = closing.close_with_centre(day.centre)
    day.centre.close()
    proxy.mode, proxy.cuts = "cut", 1  # HQ gets the request and answers; the answer never arrives
    sender = sender_for(centre_dir.path, proxy.url, token)
    try:
        assert sender.send_due() == 0
        [row] = outbox(centre_dir.path)
        assert row["sent_at"] is None and row["attempts"] == 1 and row["last_error"]
        assert proxy.swallowed == 1
        # the link returns: the retry is delivered, HQ recognises the key
        wait_until(lambda: sender.send_due(now=1e12) == 1, timeout=10, what="the retry")
    finally:
        sender.close()
    key = f"demo:{result.date}:1"
    rec = receipts(hq, "demo")
    assert rec[key]["deliveries"] == 2 and rec[key]["outcome"] == "stored"
    assert stored_rows(pg_url, "demo") == [(result.date, 1, key)]
    [row] = outbox(centre_dir.path)
    assert row["sent_at"] is not None and row["attempts"] == 2


def test_a_week_of_outage_then_recovery_delivers_every_day_once(centre_dir, hq, proxy, pg_url) -> None:
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    set_upstream(centre_dir.path, proxy.url, token)
    settings = load_settings(centre_dir.path)
    db = storage.connect(settings.db_path)
    days = [(date(2026, 3, 2) + timedelta(days=i)).isoformat() for i in range(7)]
    for d in days:  # a week of closed days (simulated through the engine) piles up in the outbox
        data = simulate_engine_day(d, centre_id="demo", centre_name=settings.centre_name, citizens=25, seed=3)
        records.record_summary(db, data)
    db.conn.close()
    proxy.mode = "down"
    sender = sender_for(centre_dir.path, proxy.url, token)
    sender.start()
    try:
        wait_until(lambda: all(r["attempts"] >= 3 for r in outbox(centre_dir.path)), timeout=30,
                   what="retries during the outage")
        status = subprocess.run([str(BIN / "huduma-centre"), "sync-status", str(centre_dir.path)],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0
        assert "pending 7, delivered 0" in status.stdout
        assert all(f"demo:{d}:1" in status.stdout for d in days)
        assert "last error" in status.stdout
        assert stored_rows(pg_url, "demo") == []
        proxy.mode = "up"
        wait_until(lambda: all(r["sent_at"] for r in outbox(centre_dir.path)), timeout=30, what="recovery")
    finally:
        sender.stop()
    assert [r[0] for r in stored_rows(pg_url, "demo")] == days
    rec = receipts(hq, "demo")
    assert sorted(rec) == sorted(f"demo:{d}:1" for d in days)
    assert all(r["deliveries"] == 1 and r["outcome"] == "stored" for r in rec.values())
    status = subprocess.run([str(BIN / "huduma-centre"), "sync-status", str(centre_dir.path), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout)["pending_count"] == 0


def test_a_revision_replaces_its_predecessor(centre_dir, hq, pg_url) -> None:
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    day = Day(centre_dir.path)
    day.build()
    day.run("10:30", engine.CallNext("c01"))  # T4, served before the close and not yet rated
    day.run("10:31", engine.StartService("c01"))
    day.run("10:35", engine.Complete("c01"))
    first = closing.close_with_centre(day.centre)
    sender = sender_for(centre_dir.path, hq.url, token)
    try:
        assert sender.send_due() == 1
        day.run("10:40", engine.GiveFeedback(rating=1, ticket_id="T4"))  # a late correction: (4 + 2 + 1) / 3
        second = closing.close_with_centre(day.centre)
        assert second.revision == 2
        assert sender.send_due() == 1
    finally:
        sender.close()
        day.centre.close()
    held = hq.client().get(f"/api/v1/summaries/demo/{first.date}").json()
    assert held["revision"] == 2 and held["summary"]["total"]["satisfaction_mean"] == 2.33
    assert stored_rows(pg_url, "demo") == [(first.date, 2, f"demo:{first.date}:2")]
    # revision 1 arriving late (a replayed request) changes nothing
    db = storage.connect(centre_dir.path / "centre.db")
    old = upstream.payload_of(db, f"demo:{first.date}:1")
    db.conn.close()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": old["key"]}
    r = httpx.post(hq.url + "/api/v1/summaries", json=old, headers=headers)
    assert r.status_code == 200 and r.json()["outcome"] == "duplicate" and r.json()["revision_held"] == 2
    assert stored_rows(pg_url, "demo") == [(first.date, 2, f"demo:{first.date}:2")]


def test_headquarters_refuses_bad_requests_clearly(hq) -> None:
    token = hq.add_centre("nakuru", "Huduma Centre Nakuru")
    other = hq.add_centre("kisumu", "Huduma Centre Kisumu")
    data = simulate_engine_day("2026-03-02", centre_id="nakuru", centre_name="Huduma Centre Nakuru", citizens=10)
    body = {"key": "nakuru:2026-03-02:1", "centre_id": "nakuru", "date": "2026-03-02", "revision": 1, "summary": data}
    url = hq.url + "/api/v1/summaries"

    def post(json_body=None, token_: str | None = token, key: str | None = "nakuru:2026-03-02:1", **kw):
        headers = {"Idempotency-Key": key} if key else {}
        if token_:
            headers["Authorization"] = f"Bearer {token_}"
        return httpx.post(url, json=json_body, headers=headers, **kw)

    cases = [
        (post(body, token_=None), 401, "not_authenticated"),
        (post(body, token_="not-a-token"), 401, "bad_token"),
        (post(body, token_=other), 403, "wrong_centre"),
        (post({**body, "key": "nakuru:2026-03-02:7"}), 422, "bad_key"),
        (post(body, key="nakuru:2026-03-02:9"), 422, "bad_key"),
        (post({**body, "date": "2026-02-30", "key": "nakuru:2026-02-30:1"}, key="nakuru:2026-02-30:1"), 422, None),
        (post({**body, "summary": {"total": 3}}), 422, "bad_summary"),
        (httpx.post(url, content=b"{not json", headers={"Authorization": f"Bearer {token}",
                                                          "Content-Type": "application/json"}), 422, None),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        err = response.json()["error"]
        assert err["message"]
        if code:
            assert err["code"] == code
    ok = post(body)
    assert ok.status_code == 201 and ok.json()["outcome"] == "stored"
    # the same key with different figures is refused: a changed day needs a new revision
    changed = json.loads(json.dumps(body))
    changed["summary"]["total"]["arrived"] += 1
    clash = post(changed)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "key_reused"
    assert clash.json()["error"]["revision_held"] == 1
    assert hq.client().get("/api/v1/summaries/nakuru/2026-03-02").json()["summary"] == data
    # revisions out of order: 3 arrives before 2; 2 is acknowledged (the centre may stop sending it) but not held
    for revision, expected, status in ((3, "stored", 201), (2, "superseded", 200)):
        key = f"nakuru:2026-03-02:{revision}"
        r = post({**changed, "key": key, "revision": revision}, key=key)
        assert (r.status_code, r.json()["outcome"], r.json()["revision_held"]) == (status, expected, 3)
    held = hq.client().get("/api/v1/summaries/nakuru/2026-03-02").json()
    assert held["revision"] == 3 and held["summary"] == changed["summary"]


def test_a_rebuilt_centre_reusing_a_revision_number_is_re_queued_above_it(centre_dir, tmp_path, hq, pg_url) -> None:
    """A centre set up again from scratch numbers its revisions from 1 again: nothing is lost or mixed up."""
    import shutil

    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    old_dir, new_dir = centre_dir.path, tmp_path / "rebuilt"
    shutil.copytree(old_dir, new_dir)  # the same centre, provisioned afresh
    for directory, citizens in ((old_dir, 20), (new_dir, 30)):
        set_upstream(directory, hq.url, token)
        db = storage.connect(directory / "centre.db")
        records.record_summary(db, simulate_engine_day("2026-03-02", centre_id="demo", centre_name="GPO",
                                                        citizens=citizens))
        db.conn.close()
        sender = sender_for(directory, hq.url, token)
        try:
            if directory == new_dir:  # another install of "demo": refused and held until an admin re-binds it
                assert sender.send_due() == 0
                from hq.store import Store

                assert Store(hq.store_url).rebind_install("demo")  # what the centres page's "Re-bind" does
                assert sender.send_due(now=time.time() + 86400) == 1  # its next try, after the backoff
            else:
                assert sender.send_due() == 1
        finally:
            sender.close()
    held = hq.client().get("/api/v1/summaries/demo/2026-03-02").json()
    assert held["revision"] == 2 and held["summary"]["total"]["arrived"] == 30
    rows = outbox(new_dir)
    assert [r["key"] for r in rows] == ["demo:2026-03-02:1", "demo:2026-03-02:2"]
    assert "re-queued as demo:2026-03-02:2" in rows[0]["last_error"] and rows[1]["sent_at"]
    db = storage.connect(new_dir / "centre.db")
    assert records.load_summary(db, "2026-03-02")["revision"] == 2
    db.conn.close()


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday"])
def test_board_and_exports_refuse_bad_dates(hq, bad: str) -> None:
    for path in ("/", "/api/v1/board", "/export.csv"):
        r = hq.client().get(path, params={"date" if path != "/export.csv" else "to": bad})
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_date"


def test_the_running_centre_server_closes_and_syncs_by_itself(centre_dir, mosquitto, hq, pg_url, tmp_path,
                                                              monkeypatch) -> None:
    """The real server process: manager closes over HTTP, the server's sender delivers, phones erased."""
    from tests.conftest import CentreProcess, free_port

    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    set_upstream(centre_dir.path, hq.url, token)
    monkeypatch.setenv("HUDUMA_SYNC_RETRY_MIN_S", "0.1")
    monkeypatch.setenv("HUDUMA_SYNC_POLL_S", "0.2")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        kiosk = centre_dir.bundle("kiosk-1")["token"]
        with server.client(kiosk) as c:
            r = c.post("/api/v1/tickets", json={"service_id": "kra-pin", "phone": "+254722000000"},
                       headers={"Idempotency-Key": "k-1"})
            assert r.status_code == 201, r.text
        # the command line refuses to write behind the running server's back ...
        out = subprocess.run([str(BIN / "huduma-centre"), "close-day", str(centre_dir.path)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and "a centre server is running" in out.stderr
        assert "Traceback" not in out.stderr
        # ... and closes through it with a manager's login
        out = subprocess.run([str(BIN / "huduma-centre"), "close-day", str(centre_dir.path), "--url", server.url,
                              "--user", "manager", "--json"], capture_output=True, text=True, timeout=60,
                             env={**__import__("os").environ, "HUDUMA_PASSWORD": centre_dir.staff_password("manager")})
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["revision"] == 1 and result["cancelled"] == 1 and result["phones_erased"] == 1
        today = result["date"]
        wait_until(lambda: stored_rows(pg_url, "demo"), timeout=20, what="the server's sender")
        held = hq.client().get(f"/api/v1/summaries/demo/{today}").json()
        assert held["summary"]["total"]["arrived"] == 1 and held["summary"]["total"]["cancelled"] == 1
        manager = server.login("manager")
        with server.client(manager) as c:
            st = c.get("/api/v1/sync/status").json()
            assert st["pending_count"] == 0 and st["recently_sent"][0]["key"] == f"demo:{today}:1"
            got = c.get(f"/api/v1/day/summaries/{today}").json()
            assert got["revision"] == 1 and got["total"]["arrived"] == 1
            assert c.get("/api/v1/day/summaries/2020-01-01").status_code == 404
            assert c.post("/api/v1/day/close", params={"date": "2999-01-01"}).status_code == 422
        with server.client(kiosk) as c:
            assert c.post("/api/v1/day/close").status_code == 403
        # the demo's step: a simulated day recorded beside the running server reaches HQ through its sender
        out = subprocess.run([str(BIN / "huduma-centre"), "simulate-day", str(centre_dir.path), "--date", "yesterday",
                              "--citizens", "25"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
        wait_until(lambda: len(stored_rows(pg_url, "demo")) == 2, timeout=30, what="the simulated day at HQ")
        held = hq.client().get(f"/api/v1/summaries/demo/{yesterday}").json()
        assert held["summary"]["simulated"] is True and held["summary"]["total"]["arrived"] == 25
    finally:
        server.stop()


def test_the_centre_keeps_serving_while_headquarters_hangs(centre_dir, mosquitto, tmp_path, monkeypatch) -> None:
    """HQ accepts connections and never answers: the sender waits on its own thread; tickets keep coming."""
    import socket

    from tests.conftest import CentreProcess, free_port

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # the kernel completes connections; nobody ever reads or answers
    set_upstream(centre_dir.path, f"http://127.0.0.1:{hole.getsockname()[1]}", "token")
    monkeypatch.setenv("HUDUMA_SYNC_POLL_S", "0.2")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        manager = server.login("manager")
        with server.client(manager) as c:
            assert c.post("/api/v1/day/close").status_code == 200  # queued; the sender now hangs on HQ
        kiosk = centre_dir.bundle("kiosk-1")["token"]
        with server.client(kiosk) as c:
            # the day is closed, so the kiosk is told so (not left hanging behind the sender)
            answers = [c.post("/api/v1/tickets", json={"service_id": "helb"},
                              headers={"Idempotency-Key": f"h-{i}"}) for i in range(10)]
            assert [(r.status_code, r.json()["error"]["code"]) for r in answers] == [(409, "day_closed")] * 10
            assert c.get("/api/v1/services").status_code == 200
        with server.client(manager) as c:
            st = c.get("/api/v1/sync/status").json()
            assert st["pending_count"] == 1 and st["sent_count"] == 0
    finally:
        server.stop()
        hole.close()
