"""The database's disk fills up while kiosks issue tickets: clear errors, no corruption, recovery."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest

from tests.conftest import IN_CI, Centre, CentreProcess, free_port


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs: room for a centre, not for much more."""
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("mounting a small tmpfs needs root")
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_gives_clear_errors_and_recovers(centre_dir, mosquitto, small_disk, tmp_path):
    path = small_disk / "centre"
    shutil.copytree(centre_dir.path, path)
    centre = Centre(path=path, credentials=centre_dir.credentials)
    server = CentreProcess(centre=centre, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "server.log")
    server.start()
    ballast = small_disk / "ballast"
    try:
        kiosk = server.client(centre.bundle("kiosk-1")["token"])
        ok = [kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}) for _ in range(5)]
        assert all(r.status_code == 201 for r in ok)
        # fill the disk to the last byte
        with open(ballast, "wb", buffering=0) as f:  # unbuffered: a partly written block is not flushed again at close
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        refused = []
        for _ in range(30):
            r = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"},
                           headers={"Idempotency-Key": f"full-{_}"})
            if r.status_code != 201:
                refused.append(r)
        assert refused, "the disk never filled"
        for r in refused:
            assert r.status_code == 503 and r.json()["error"]["code"] in ("storage_full", "storage_unavailable")
        assert server.client().get("/healthz").status_code == 200  # still alive
        # space comes back: issue works again, numbering carries on without a gap or a duplicate
        ballast.unlink()
        after = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert after.status_code == 201, after.text
    finally:
        server.stop()
        ballast.unlink(missing_ok=True)
    db = sqlite3.connect(path / "centre.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    numbers = [n for (n,) in db.execute("SELECT number FROM tickets WHERE service_id='kra-pin' ORDER BY seq")]
    assert numbers == [f"K{i:03d}" for i in range(1, len(numbers) + 1)]
    for r in ok:
        assert db.execute("SELECT number FROM tickets WHERE id=?", [r.json()["id"]]).fetchone()[0] == r.json()["number"]
    assert "Traceback" not in (tmp_path / "server.log").read_text()
