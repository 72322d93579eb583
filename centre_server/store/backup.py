"""Backups of a centre directory: SQLite's online backup, safe while the server serves.

A backup is a folder holding a consistent copy of ``centre.db`` (taken page by
page with SQLite's backup API, so writers are never blocked for long and the
copy is a single point in time), ``centre.toml`` and the device bundles.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from centre_server.config import CONFIG_NAME, DB_NAME

logger = logging.getLogger(__name__)

MANIFEST = "backup.json"


class BackupError(Exception):
    """A backup or restore that cannot be done, said plainly."""


def backup(directory: Path | str, out: Path | str) -> dict:
    """Copy the centre at ``directory`` into the new folder ``out``; returns the manifest."""
    directory, out = Path(directory), Path(out)
    db_path = directory / DB_NAME
    if not db_path.is_file():
        raise BackupError(f"{directory} holds no centre database ({DB_NAME})")
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} exists and is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(out / DB_NAME)
    try:
        src.backup(dst, pages=256, sleep=0.005)  # small steps: the server keeps writing meanwhile
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
        tickets = dst.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
        last_seq = dst.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    finally:
        src.close()
        dst.close()
    for name in (CONFIG_NAME, "demo-credentials.json"):
        if (directory / name).is_file():
            shutil.copy2(directory / name, out / name)
    if (directory / "devices").is_dir():
        shutil.copytree(directory / "devices", out / "devices")
    manifest = {"taken_at": datetime.now().astimezone().isoformat(), "source": str(directory.resolve()),
                "tickets": tickets, "last_event_seq": last_seq, "seconds": round(time.time() - started, 3)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    logger.info("backup of %s to %s: %s tickets, event %s", directory, out, tickets, last_seq)
    return manifest


def restore(backup_dir: Path | str, directory: Path | str, *, force: bool = False) -> dict:
    """Make ``directory`` a centre again from a backup folder. Stop the server first."""
    backup_dir, directory = Path(backup_dir), Path(directory)
    if not (backup_dir / MANIFEST).is_file() or not (backup_dir / DB_NAME).is_file():
        raise BackupError(f"{backup_dir} is not a backup made by `huduma-centre backup`")
    if (directory / DB_NAME).exists() and not force:
        raise BackupError(f"{directory} already holds a centre: use --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (directory / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
    shutil.copy2(backup_dir / DB_NAME, directory / DB_NAME)
    for name in (CONFIG_NAME, "demo-credentials.json"):
        if (backup_dir / name).is_file():
            shutil.copy2(backup_dir / name, directory / name)
    if (backup_dir / "devices").is_dir():
        shutil.copytree(backup_dir / "devices", directory / "devices", dirs_exist_ok=True)
    return json.loads((backup_dir / MANIFEST).read_text())


def nightly(directory: Path, target: Path, keep: int) -> Path:
    """One dated backup under ``target``; older ones beyond ``keep`` are removed."""
    out = target / f"centre-{datetime.now().strftime('%Y-%m-%d-%H%M%S')}"
    backup(directory, out)
    old = sorted(p for p in target.glob("centre-*") if p.is_dir())
    for p in old[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
    return out
