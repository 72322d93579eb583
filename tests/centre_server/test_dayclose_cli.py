"""The day-close commands as a technician types them: clear one-line errors, readable output."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import BIN, set_upstream


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "huduma-centre"), *args], capture_output=True, text=True, timeout=120)


def test_close_day_refuses_bad_dates_in_one_line(centre_dir) -> None:
    set_upstream(centre_dir.path)
    for bad, words in (("2026-02-30", "not a calendar date"), ("02/03/2026", "must be YYYY-MM-DD"),
                       ("2999-01-01", "has not begun yet")):
        out = run("close-day", str(centre_dir.path), "--date", bad)
        assert out.returncode == 1 and words in out.stderr and "Traceback" not in out.stderr, out.stderr
    out = run("close-day", str(centre_dir.path / "nowhere"))
    assert out.returncode == 1 and "huduma-provision init" in out.stderr


def test_simulate_close_and_sync_status_read_well(centre_dir) -> None:
    set_upstream(centre_dir.path)
    out = run("simulate-day", str(centre_dir.path), "--date", "2026-03-01", "--citizens", "30")
    assert out.returncode == 0, out.stderr
    assert "simulated 2026-03-01: 30 citizens" in out.stdout and "queued as demo:2026-03-01:1" in out.stdout
    out = run("close-day", str(centre_dir.path), "--date", "yesterday")  # nothing happened here yet
    assert out.returncode == 1 and "before the centre's first records" in out.stderr
    out = run("close-day", str(centre_dir.path), "--date", "today", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["revision"] == 1 and result["total"]["arrived"] == 0
    out = run("sync-status", str(centre_dir.path))
    assert out.returncode == 0
    assert "headquarters: http://127.0.0.1:9" in out.stdout and "pending 2, delivered 0" in out.stdout
    assert "PENDING demo:2026-03-01:1" in out.stdout
    out = run("sync-now", str(centre_dir.path))  # nothing listens on port 9: both stay queued
    assert out.returncode == 1 and "delivered 0, still pending 2" in out.stdout
    out = run("sync-status", str(centre_dir.path), "--json")
    pending = json.loads(out.stdout)["pending"]
    assert [p["attempts"] for p in pending] == [1, 1] and all(p["last_error"] for p in pending)


def test_simulate_day_refuses_a_day_with_real_tickets_unless_forced(centre_server) -> None:
    """`simulate-day --date today` beside a live centre queued 400 simulated citizens over the real ones."""
    import sqlite3

    server = centre_server
    server.stop()
    set_upstream(server.centre.path)
    server.start()
    kiosk = server.client(server.centre.bundle("kiosk-1")["token"])
    for _ in range(3):
        assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).status_code == 201
    out = run("simulate-day", str(server.centre.path), "--date", "today", "--citizens", "30")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "3 real tickets at this centre" in out.stderr and "--force" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    db = sqlite3.connect(server.centre.path / "centre.db")
    assert db.execute("SELECT COUNT(*) FROM daily_summaries").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    out = run("simulate-day", str(server.centre.path), "--date", "today", "--citizens", "30", "--force")
    assert out.returncode == 0, out.stderr
    assert "30 citizens" in out.stdout
    [(data,)] = db.execute("SELECT data FROM daily_summaries").fetchall()
    assert json.loads(data)["simulated"] is True
    out = run("simulate-day", str(server.centre.path), "--date", "2026-03-01", "--citizens", "30")
    assert out.returncode == 0, out.stderr  # a day with no real tickets needs no --force
