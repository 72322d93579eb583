"""Staff administration as an admin does it in the browser: add, disable, enable, reset, unlock, change a role.

The same accounts the technician's tool (``huduma-provision``) keeps, through the
same functions of ``accounts``; here each change also names the admin who made
it in the audit log, and no change may leave the centre without an admin who can
log in (the last enabled admin cannot be disabled or demoted), nor lock out the
admin making it (nobody disables or demotes their own account here).

A change that ends sessions (disable, a new password, a new role) must also move
``access.epoch`` (``accounts.bump_access_epoch``) so a running server forgets the
sessions it remembered: the caller does that, it knows the centre's directory.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from typing import Any

import sqlite_utils

from centre_server.contract import STAFF_ROLES, Role
from centre_server.store import accounts, database as storage

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # as huduma-provision's ids
STAFF_ACTIONS = ("add-staff", "reset-password", "disable-staff", "enable-staff", "change-role", "unlock-staff")
ROLE_ORDER = (Role.clerk, Role.manager, Role.admin)


class StaffError(Exception):
    """A change the centre refuses, with a code the page translates and words for the API."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def staff_view(row: dict[str, Any], now: float) -> dict[str, Any]:
    """One account as the admin page shows it: never its hash."""
    locked_until = row.get("locked_until")
    locked = bool(locked_until and locked_until > now)
    return {"username": row["username"], "role": row["role"], "full_name": row.get("full_name") or "",
            "disabled": bool(row.get("disabled")), "locked": locked,
            "locked_until": locked_until if locked else None,
            "failed_logins": int(row.get("failed_logins") or 0), "created_at": row.get("created_at")}


def staff_list(db: sqlite_utils.Database, now: float | None = None) -> list[dict[str, Any]]:
    """Every member of staff, by role then name."""
    now = time.time() if now is None else now
    return [staff_view(r, now) for r in accounts.list_staff(db)]


def staff_audit(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """The newest staff changes first: who made them, when, and to whom (from every tool)."""
    import json

    marks = ",".join("?" for _ in STAFF_ACTIONS)
    rows = db.execute(f"SELECT id, at, actor, action, detail FROM audit WHERE action IN ({marks}) "
                      "ORDER BY id DESC LIMIT ?", [*STAFF_ACTIONS, limit]).fetchall()
    return [{"id": r[0], "at": r[1], "actor": r[2], "action": r[3], "detail": json.loads(r[4] or "{}")}
            for r in rows]


def _row(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    row = accounts.find_staff(db, username)
    if row is None:
        raise StaffError(404, "no_such_staff", f"no member of staff is called {username!r}")
    return row


def _role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        role = None
    if role not in STAFF_ROLES:
        raise StaffError(422, "bad_role", "role must be clerk, manager or admin")
    assert role is not None
    return role


def _other_admins(db: sqlite_utils.Database, username: str) -> int:
    """Enabled admins besides ``username``: someone left who can still administer the centre."""
    return db.execute("SELECT COUNT(*) FROM staff WHERE role='admin' AND COALESCE(disabled, 0)=0 AND username != ?",
                      [username]).fetchone()[0]


def _keeps_an_admin(db: sqlite_utils.Database, row: dict[str, Any], actor: str, what: str) -> None:
    """Refuse to disable or demote oneself, or the last enabled admin."""
    if row["username"] == actor:
        raise StaffError(409, "own_account", f"you cannot {what} your own account: ask another admin")
    if row["role"] == Role.admin.value and not row.get("disabled") and _other_admins(db, row["username"]) == 0:
        raise StaffError(409, "last_admin", f"{row['username']} is the last admin: add another admin first")


def add(db: sqlite_utils.Database, actor: str, username: str, role: str, full_name: str = "") -> dict[str, Any]:
    """A new account with a generated password, returned once (only its hash is kept)."""
    username = username.strip()
    if not USERNAME.match(username):
        raise StaffError(422, "bad_username", "username: lower-case letters, digits, '-' and '_' only (up to 40)")
    r = _role(role)
    full_name = " ".join(full_name.split())
    if any(unicodedata.category(ch).startswith("C") for ch in full_name):
        raise StaffError(422, "bad_full_name", "full name: letters, spaces and punctuation only")
    if len(full_name) > 80:
        raise StaffError(422, "bad_full_name", "full name: at most 80 characters")
    password = accounts.new_password()
    with db.conn:
        if accounts.find_staff(db, username) is not None:
            raise StaffError(409, "staff_exists", f"{username} already exists")
        accounts.add_staff(db, username, r.value, password, full_name=full_name)
        storage.audit(db, actor, "add-staff", username=username, role=r.value)
    logger.info("%s added %s (%s)", actor, username, r.value)
    return {**staff_view(_row(db, username), time.time()), "password": password}


def reset_password(db: sqlite_utils.Database, actor: str, username: str) -> dict[str, Any]:
    """A new generated password, returned once; ends the person's sessions and lifts a lock-out."""
    password = accounts.new_password()
    with db.conn:
        _row(db, username)
        accounts.set_password(db, username, password)
        storage.audit(db, actor, "reset-password", username=username)
    return {**staff_view(_row(db, username), time.time()), "password": password}


def set_disabled(db: sqlite_utils.Database, actor: str, username: str, disabled: bool) -> dict[str, Any]:
    """Disable an account (its sessions end at once) or enable it again."""
    with db.conn:
        row = _row(db, username)
        if disabled:
            _keeps_an_admin(db, row, actor, "disable")
        accounts.set_staff_disabled(db, username, disabled)
        storage.audit(db, actor, "disable-staff" if disabled else "enable-staff", username=username)
    return staff_view(_row(db, username), time.time())


def set_role(db: sqlite_utils.Database, actor: str, username: str, role: str) -> dict[str, Any]:
    """Another role; the person's sessions end, so the new role holds from their next login."""
    r = _role(role)
    with db.conn:
        row = _row(db, username)
        if row["role"] == r.value:
            return staff_view(row, time.time())
        if row["role"] == Role.admin.value:
            _keeps_an_admin(db, row, actor, "demote")
        elif row["username"] == actor:
            raise StaffError(409, "own_account", "you cannot change your own role: ask another admin")
        db.conn.execute("UPDATE staff SET role=? WHERE username=?", [r.value, username])
        db.conn.execute("DELETE FROM sessions WHERE username=?", [username])
        storage.audit(db, actor, "change-role", username=username, role=r.value, was=row["role"])
    return staff_view(_row(db, username), time.time())


def unlock(db: sqlite_utils.Database, actor: str, username: str) -> dict[str, Any]:
    """Lift a lock-out after too many failed logins (the password stays)."""
    with db.conn:
        row = _row(db, username)
        db.conn.execute("UPDATE staff SET failed_logins=0, locked_until=NULL WHERE username=?", [username])
        storage.audit(db, actor, "unlock-staff", username=username,
                      was_locked=bool(row.get("locked_until") and row["locked_until"] > time.time()))
    return staff_view(_row(db, username), time.time())
