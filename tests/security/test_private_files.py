"""Personal data on disk (issue 16, attack 6): the centre's files are its user's alone, and a real centre
never keeps phone numbers in sms.log unless someone chose that."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx

from tests.conftest import BIN, Centre, CentreProcess, free_port
from tests.security.conftest import set_toml


def loose(path: Path) -> list[str]:
    """Everything under ``path`` (itself included) that its group or others may touch."""
    found = []
    for p in [path, *path.rglob("*")]:
        mode = stat.S_IMODE(p.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{p.relative_to(path.parent)} {oct(mode)}")
    return found


def test_files_are_private_whatever_the_umask(centre_dir: Centre, tmp_path: Path):
    """Under umask 022 (a shell's, or systemd's default) centre.db, its WAL, sms.log, bundles and backups
    were world-readable. Now the server tightens what exists at start and creates everything 0600/0700."""
    path = centre_dir.path
    (path / "sms.log").write_text("2026-12-06T09:00:00+03:00\t+254712345678\tYour ticket A001\n")
    for p in [path, *path.rglob("*")]:  # a centre made by an older version, under umask 022
        p.chmod(0o755 if p.is_dir() else 0o644)
    old = os.umask(0o022)
    try:
        server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt-port", str(free_port())],
                               log_path=tmp_path / "centre.log")
        server.start()
        try:
            kiosk = centre_dir.bundle("kiosk-1")["token"]
            r = httpx.post(server.url + "/api/v1/tickets", json={"service_id": "kra-pin"},
                           headers={"Authorization": f"Bearer {kiosk}"})
            assert r.status_code == 201, r.text
            assert (path / "centre.db-wal").exists()
            assert loose(path) == []
            backups = tmp_path / "backups"
            out = subprocess.run([str(BIN / "huduma-centre"), "backup", str(path), str(backups / "today")],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert loose(backups) == []
            assert (backups / "today" / "centre.db").is_file()
        finally:
            server.stop()
    finally:
        os.umask(old)
    assert loose(path) == []


def serve_briefly(path: Path, tmp_path: Path) -> subprocess.CompletedProcess | CentreProcess:
    """Start the centre; the finished process if it refused to start, else the running server."""
    server = CentreProcess(centre=Centre(path=path), port=free_port(), args=["--mqtt-port", str(free_port())],
                           log_path=tmp_path / f"centre-{free_port()}.log")
    try:
        server.start(timeout=30)
    except RuntimeError as err:  # it exited
        return subprocess.CompletedProcess(args=[], returncode=1, stdout="", stderr=str(err))
    return server


def test_a_real_centre_never_falls_back_to_the_sms_log(centre_dir: Centre, tmp_path: Path):
    """A production centre whose centre.toml names no SMS gateway used to write every phone number to
    sms.log for ever. Now it refuses to start and says what to set; naming a gateway (even "log") starts it."""
    toml = centre_dir.path / "centre.toml"
    set_toml(toml, "", "demo", "false")
    set_toml(toml, "payments", "enabled", "false")  # a real centre refuses the demo's M-Pesa credentials
    refused = serve_briefly(centre_dir.path, tmp_path)
    assert isinstance(refused, subprocess.CompletedProcess), "a production centre started with the log gateway"
    assert "no SMS gateway is named" in refused.stderr and 'sms_gateway = \\"none\\"' not in refused.stderr
    assert 'sms_gateway = "africastalking"' in refused.stderr and "Traceback" not in refused.stderr
    assert not (centre_dir.path / "sms.log").exists()
    for gateway in ('"none"', '"log"'):
        set_toml(toml, "channels", "sms_gateway", gateway)
        server = serve_briefly(centre_dir.path, tmp_path)
        assert isinstance(server, CentreProcess), f"sms_gateway = {gateway} did not start: {server}"
        server.stop()
