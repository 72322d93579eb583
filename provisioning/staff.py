"""Staff accounts: add clerks, managers and admins, reset passwords, disable and enable.

Passwords are generated here and shown once; the database keeps argon2 hashes.
A change that ends sessions also moves access.epoch, so a running server drops
the sessions it remembered from the next request on.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.store import accounts
from centre_server.store.accounts import bump_access_epoch, new_password
from provisioning.directory import CentreDirectory, ProvisionError, check_id

logger = logging.getLogger(__name__)

STAFF_ROLE_NAMES = ("clerk", "manager", "admin")


def _staff_row(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    row = accounts.find_staff(db, username)
    if row is None:
        raise ProvisionError(f"no such member of staff: {username}")
    return row


def add_staff(directory: Path | str, username: str, role: str, *, full_name: str = "",
              password: str | None = None) -> dict[str, Any]:
    """Add a member of staff with a generated password (stored as an argon2 hash)."""
    if role not in STAFF_ROLE_NAMES:
        raise ProvisionError("role must be clerk, manager or admin")
    check_id(username, "username")
    if password is not None and len(password) < 8:
        raise ProvisionError("password: at least 8 characters")
    with CentreDirectory(directory) as c:
        if accounts.find_staff(c.db, username):
            raise ProvisionError(f"{username} already exists (use reset-password)")
        password = password or new_password()
        accounts.add_staff(c.db, username, role, password, full_name=full_name)
        c.audit("add-staff", username=username, role=role)
        return {"username": username, "role": role, "password": password}


def list_staff(directory: Path | str) -> list[dict[str, Any]]:
    """The staff by role, and whether each is disabled or locked out now."""
    with CentreDirectory(directory) as c:
        return [{"username": r["username"], "role": r["role"], "full_name": r["full_name"] or "",
                 "disabled": bool(r["disabled"]),
                 "locked": bool(r["locked_until"] and r["locked_until"] > time.time())}
                for r in accounts.list_staff(c.db)]


def reset_password(directory: Path | str, username: str, *, password: str | None = None) -> dict[str, Any]:
    """A new password (generated unless given); ends the person's sessions and lifts a lock-out."""
    if password is not None and len(password) < 8:
        raise ProvisionError("password: at least 8 characters")
    with CentreDirectory(directory) as c:
        row = _staff_row(c.db, username)
        password = password or new_password()
        accounts.set_password(c.db, username, password)
        bump_access_epoch(c.directory)  # a running server forgets the sessions it remembered
        c.audit("reset-password", username=username)
        return {"username": username, "role": row["role"], "password": password}


def set_staff_disabled(directory: Path | str, username: str, disabled: bool = True) -> dict[str, Any]:
    """Disable a member of staff (their sessions end at once) or enable them again."""
    with CentreDirectory(directory) as c:
        row = _staff_row(c.db, username)
        accounts.set_staff_disabled(c.db, username, disabled)
        bump_access_epoch(c.directory)  # a running server forgets the sessions it remembered
        c.audit("disable-staff" if disabled else "enable-staff", username=username)
        return {"username": username, "role": row["role"], "disabled": disabled}
