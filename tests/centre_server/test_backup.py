"""Backups while serving, restored into a fresh directory and served from there."""

from __future__ import annotations

import subprocess
import threading

import httpx

from tests.conftest import BIN, CentreProcess, free_port


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "huduma-centre"), *args], capture_output=True, text=True, timeout=120)


def test_backup_while_serving_then_restore_and_serve(centre_server, mosquitto, tmp_path):
    kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
    before = [kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).json() for _ in range(20)]
    stop = threading.Event()

    def keep_issuing() -> None:  # the centre keeps serving during the backup
        with httpx.Client(base_url=centre_server.url,
                          headers={"Authorization": f"Bearer {centre_server.centre.bundle('kiosk-2')['token']}"}) as c:
            while not stop.is_set():
                c.post("/api/v1/tickets", json={"service_id": "helb"})

    th = threading.Thread(target=keep_issuing)
    th.start()
    try:
        r = run("backup", str(centre_server.centre.path), str(tmp_path / "bk"))
    finally:
        stop.set()
        th.join()
    assert r.returncode == 0, r.stderr
    assert "backed up" in r.stdout
    again = run("backup", str(centre_server.centre.path), str(tmp_path / "bk"))
    assert again.returncode != 0 and "not empty" in again.stderr and "Traceback" not in again.stderr

    fresh = tmp_path / "restored"
    r = run("restore", str(tmp_path / "bk"), str(fresh))
    assert r.returncode == 0, r.stderr
    assert run("restore", str(tmp_path / "bk"), str(fresh)).returncode != 0  # no silent overwrite
    centre_server.stop()
    centre_server.centre.path = fresh
    server = CentreProcess(centre=centre_server.centre, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "restored.log")
    server.start()
    try:
        c = server.client()
        for t in before:
            assert c.get(f"/api/v1/tickets/{t['id']}").json()["number"] == t["number"]
        k = server.client(centre_server.centre.bundle("kiosk-1")["token"])
        nxt = k.post("/api/v1/tickets", json={"service_id": "kra-pin"}).json()
        assert nxt["number"] == "K021"  # numbering carries on from the backup
    finally:
        server.stop()


def test_backup_of_nothing_is_a_clear_error(tmp_path):
    r = run("backup", str(tmp_path / "none"), str(tmp_path / "out"))
    assert r.returncode != 0 and "no centre database" in r.stderr and "Traceback" not in r.stderr
