"""The day-close commands as a technician types them: clear one-line errors, readable output."""

from __future__ import annotations

import json
import subprocess

from tests.centre_server.test_dayclose import set_upstream
from tests.conftest import BIN


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
