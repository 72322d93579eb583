"""An open centre directory: its settings and database, and who is changing it.

Every provisioning command opens the directory the same way, refuses the same
way when it holds no centre, and writes its change to the audit table with the
name of the person who ran the tool.
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.config import CentreSettings, load_settings
from centre_server.store import database as storage

logger = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_ID = 40
RESTART_NOTE = "the centre server reads this when it starts: restart it to apply (systemctl restart huduma-centre)"


class ProvisionError(Exception):
    """A technician's mistake, said plainly."""


def actor() -> str:
    """Who ran the tool, for the audit log."""
    try:
        return f"provision:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "provision"


def split_ids(ids: Iterable[str] | str) -> list[str]:
    """Ids given as a list or as ``a,b,c``, blanks left out."""
    if isinstance(ids, str):
        ids = ids.split(",")
    return [i.strip() for i in ids if i.strip()]


class CentreDirectory:
    """An open centre directory: settings and database, closed on exit."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.settings: CentreSettings = load_settings(directory)
        if not self.settings.db_path.is_file():
            raise ProvisionError(f"{self.settings.db_path} not found: create the centre with `huduma-provision init`")
        self.db: sqlite_utils.Database = storage.connect(self.settings.db_path)

    def __enter__(self) -> CentreDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.conn.close()

    def audit(self, action: str, **detail: Any) -> None:
        storage.audit(self.db, actor(), action, **detail)


def check_id(value: str, what: str, example: str = "") -> None:
    """Refuse an id for a device, a counter or a member of staff, saying what is wrong with it: a 300-character
    id was told it held a forbidden character when it was only too long."""
    if len(value) > MAX_ID:
        raise ProvisionError(f"{what}: too long ({len(value)} characters; at most {MAX_ID})")
    if not ID_PATTERN.match(value):
        e_g = f", e.g. {example}" if example else ""
        raise ProvisionError(f"{what}: lower-case letters, digits, '-' and '_' only{e_g}")
