"""Who is calling: device tokens, staff passwords and sessions, all stored hashed.

The registry of devices and the staff accounts live here too: the server checks
callers against them and the technician's tool (huduma-provision) changes them,
through the same functions.

Passwords are argon2 hashes (slow on purpose). Tokens are 256-bit random
strings, so a SHA-256 of them is enough and keeps every request fast.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mmap
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from centre_server.contract import Role

logger = logging.getLogger(__name__)

SESSION_COOKIE = "huduma_session"  # the staff pages' session: an opaque token, stored hashed here

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_password() -> str:
    """A password a clerk can type: three groups of four letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a device or a member of staff."""

    name: str  # device id or username
    role: Role
    kind: str  # "device" or "staff"
    counters: tuple[str, ...] = ()
    csrf: str | None = None
    token_hash: str | None = None

    def has(self, *roles: Role) -> bool:
        return self.role in roles


class LoginError(Exception):
    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def principal_for_token(db: sqlite_utils.Database, token: str, now: float | None = None) -> Principal | None:
    """The device or staff session a bearer token belongs to; None when unknown, revoked or expired."""
    found = _principal_for_hash(db, token_hash(token), time.time() if now is None else now)
    return found[0] if found else None


def _principal_for_hash(db: sqlite_utils.Database, h: str, now: float) -> tuple[Principal, float] | None:
    """The principal and until when it holds (a session's expiry; a device's token has none)."""
    row = db.execute("SELECT id, role, counters FROM devices WHERE token_hash=? AND revoked_at IS NULL",
                     [h]).fetchone()
    if row:
        return Principal(name=row[0], role=Role(row[1]), kind="device",
                         counters=tuple(json.loads(row[2] or "[]")), token_hash=h), float("inf")
    row = db.execute(
        "SELECT s.username, s.role, s.csrf, s.expires_at FROM sessions s JOIN staff u ON u.username = s.username "
        "WHERE s.token_hash=? AND s.expires_at > ? AND COALESCE(u.disabled, 0) = 0", [h, now]).fetchone()
    if row:
        return Principal(name=row[0], role=Role(row[1]), kind="staff", csrf=row[2], token_hash=h), float(row[3])
    return None


ACCESS_EPOCH = "access.epoch"


def bump_access_epoch(directory: Path | str) -> None:
    """Tell a running centre server that access changed (a device revoked or rotated, a clerk
    disabled or given a new password).

    The server maps this 8-byte counter into memory and drops every remembered
    token when it moves: the change holds from the next request on.

    The counter is rewritten in place, never truncated: a running server reads it through
    ``mmap``, and a read while the file was empty killed the server with SIGBUS.
    """
    path = Path(directory) / ACCESS_EPOCH
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two technicians at once still count twice
        raw = os.pread(fd, 8, 0)
        n = int.from_bytes(raw, "little") + 1 if len(raw) == 8 else 1
        os.pwrite(fd, n.to_bytes(8, "little"), 0)  # 8 bytes over 8 bytes: the size never drops
        os.fsync(fd)
    finally:
        os.close(fd)


class AccessEpoch:
    """The access.epoch counter, read from shared memory: no system call, so the event loop never
    lets go of the GIL to ask (a query per request cost a third of a ticket's time)."""

    def __init__(self, directory: Path | str) -> None:
        path = Path(directory) / ACCESS_EPOCH
        if not path.exists() or path.stat().st_size < 8:
            bump_access_epoch(directory)
        self._file = open(path, "rb")
        self._map = mmap.mmap(self._file.fileno(), 8, access=mmap.ACCESS_READ)

    def __call__(self) -> int:
        return int.from_bytes(self._map[:8], "little")

    def close(self) -> None:
        self._map.close()
        self._file.close()


class PrincipalCache:
    """Who a token belongs to, remembered until access changes.

    Without it every request costs a query on the event loop (a third of a
    ticket's time, and a clerk's call waited on it). An entry holds while
    ``epoch`` (access.epoch, moved by ``huduma-provision`` on every revoke,
    rotate, disable-staff and reset-password) stays where it was, never past a
    session's expiry, and never longer than ``ttl``; a logout through the API
    forgets its session at once. Unknown tokens are never remembered, so
    guessing cannot fill it.
    """

    def __init__(self, epoch: Callable[[], int] | None = None, ttl: float = 60.0, size: int = 10_000) -> None:
        self.epoch = epoch or (lambda: 0)
        self.ttl, self.size = ttl, size
        self._entries: dict[str, tuple[Principal, int, float]] = {}  # token hash -> (who, epoch, until)

    def lookup(self, db: sqlite_utils.Database, token: str, now: float | None = None) -> Principal | None:
        h = token_hash(token)
        now = time.time() if now is None else now
        epoch = self.epoch()
        hit = self._entries.get(h)
        if hit is not None and hit[1] == epoch and hit[2] > now:
            return hit[0]
        found = _principal_for_hash(db, h, now)
        if found is None:
            self._entries.pop(h, None)
            return None
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[h] = (found[0], epoch, min(now + self.ttl, found[1]))
        return found[0]

    def forget(self, token_hash_: str) -> None:
        """A session ended here (a logout): refused from the next request on."""
        self._entries.pop(token_hash_, None)


class UnknownUserFailures:
    """Failed logins under names that are not staff, counted as a real account's are.

    Without it a real user is locked out (429) after five failures while an unknown
    name is refused (401) for ever, so anyone could tell who works here. In memory,
    bounded: a name nobody has is worth nothing to keep across a restart.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: dict[str, tuple[int, float | None]] = {}  # username -> (failures, locked until)
        self._lock = threading.Lock()

    def get(self, username: str) -> tuple[int, float | None]:
        with self._lock:
            return self._entries.get(username, (0, None))

    def set(self, username: str, failures: int, locked_until: float | None) -> None:
        with self._lock:
            if username not in self._entries and len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[username] = (failures, locked_until)


_unknown_failures = UnknownUserFailures()


def _locked_out(locked_until: float, now: float) -> LoginError:
    minutes = max(1, int((locked_until - now + 59) // 60))
    return LoginError("locked_out", f"too many failed logins: try again in {minutes} min", 429)


def login(db: sqlite_utils.Database, username: str, password: str, *, session_minutes: int,
          lockout_after: int, lockout_minutes: int, now: float | None = None,
          unknown: UnknownUserFailures | None = None) -> tuple[str, Role, float, str]:
    """Check a password; returns (token, role, expires_at, csrf). Locks out after repeated failures.

    An unknown name, a locked account and a wrong password answer exactly as a real
    account would, and every path verifies one argon2 hash, so neither the answer nor
    its time tells whether a name belongs to staff. That an account is disabled is said
    only to someone who knows its password.
    """
    now = time.time() if now is None else now
    unknown = _unknown_failures if unknown is None else unknown
    row = db.execute("SELECT password_hash, role, disabled, failed_logins, locked_until FROM staff "
                     "WHERE username=?", [username]).fetchone()
    if row is None:
        verify_password(None, password)
        failures, locked_until = unknown.get(username)
        if locked_until and locked_until > now:
            raise _locked_out(locked_until, now)
        failures += 1
        lock = now + lockout_minutes * 60 if failures >= lockout_after else None
        unknown.set(username, 0 if lock else failures, lock)
        raise LoginError("bad_credentials", "wrong username or password")
    pw_hash, role, disabled, failures, locked_until = row
    if locked_until and locked_until > now:
        verify_password(None, password)  # the same work as any other answer
        raise _locked_out(locked_until, now)
    if not verify_password(pw_hash, password):
        failures = (failures or 0) + 1
        lock = now + lockout_minutes * 60 if failures >= lockout_after else None
        with db.conn:
            db.conn.execute("UPDATE staff SET failed_logins=?, locked_until=? WHERE username=?",
                            [0 if lock else failures, lock, username])
        raise LoginError("bad_credentials", "wrong username or password")
    if disabled:
        raise LoginError("disabled", "this account is disabled: ask the centre manager", 403)
    token, csrf = new_token(), secrets.token_urlsafe(16)
    expires = now + session_minutes * 60
    with db.conn:
        db.conn.execute("UPDATE staff SET failed_logins=0, locked_until=NULL WHERE username=?", [username])
        db.conn.execute("DELETE FROM sessions WHERE expires_at < ?", [now])
        db.conn.execute("INSERT INTO sessions(token_hash, username, role, created_at, expires_at, csrf) "
                        "VALUES (?, ?, ?, ?, ?, ?)", [token_hash(token), username, role, now, expires, csrf])
    return token, Role(role), expires, csrf


def logout(db: sqlite_utils.Database, token: str) -> None:
    end_session(db, token_hash(token))


def logged_out(db: sqlite_utils.Database, names: set[str], now: float) -> set[str]:
    """Of ``names``, the members of staff with no live session (logged out, expired or disabled): a counter
    such a person still holds has nobody at it. A name that is no staff account (a keypad's) is never in it."""
    if not names:
        return set()
    marks = ",".join("?" * len(names))
    staff = {r[0] for r in db.execute(f"SELECT username FROM staff WHERE username IN ({marks})", [*names])}
    here = {r[0] for r in db.execute(
        f"SELECT s.username FROM sessions s JOIN staff u ON u.username = s.username WHERE s.username IN ({marks})"
        " AND s.expires_at > ? AND COALESCE(u.disabled, 0) = 0", [*names, now])}
    return staff - here


def end_session(db: sqlite_utils.Database, session_hash: str) -> None:
    """End one staff session, named by its token's hash (a logout)."""
    with db.conn:
        db.conn.execute("DELETE FROM sessions WHERE token_hash=?", [session_hash])


# --------------------------------------------------------------------------
# Staff accounts, as the centre's technician keeps them
# --------------------------------------------------------------------------


def find_staff(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    return next(db.query("SELECT * FROM staff WHERE username=?", [username]), None)


def list_staff(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every member of staff, by role then name."""
    return list(db.query("SELECT * FROM staff ORDER BY role, username"))


def add_staff(db: sqlite_utils.Database, username: str, role: str, password: str, *, full_name: str = "") -> None:
    """A new account; the password is stored as an argon2 hash."""
    with db.conn:
        db.conn.execute("INSERT INTO staff(username, role, password_hash, full_name, disabled, failed_logins,"
                        " created_at) VALUES (?, ?, ?, ?, 0, 0, ?)",
                        [username, role, hash_password(password), full_name, time.time()])


def set_password(db: sqlite_utils.Database, username: str, password: str) -> None:
    """A new password: lifts a lock-out and ends the person's sessions (a running server must also
    be told, with ``bump_access_epoch``, to forget the ones it remembered)."""
    with db.conn:
        db.conn.execute("UPDATE staff SET password_hash=?, failed_logins=0, locked_until=NULL WHERE username=?",
                        [hash_password(password), username])
        db.conn.execute("DELETE FROM sessions WHERE username=?", [username])


def set_staff_disabled(db: sqlite_utils.Database, username: str, disabled: bool) -> None:
    """Disable an account (its sessions end) or enable it again."""
    with db.conn:
        db.conn.execute("UPDATE staff SET disabled=? WHERE username=?", [int(disabled), username])
        if disabled:
            db.conn.execute("DELETE FROM sessions WHERE username=?", [username])


# --------------------------------------------------------------------------
# The device registry: kiosks, displays, bridges and the server's own broker user
# --------------------------------------------------------------------------


def find_device(db: sqlite_utils.Database, device_id: str) -> dict[str, Any] | None:
    """A device's row, revoked or not."""
    return next(db.query("SELECT * FROM devices WHERE id=?", [device_id]), None)


def list_devices(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every registered device (and the server's broker user), by kind then id."""
    return list(db.query("SELECT * FROM devices ORDER BY kind, id"))


def enrol_device(db: sqlite_utils.Database, device_id: str, kind: str, *, role: str, token_hash: str,
                 mqtt_password_hash: str, counters: list[str], note: str = "", replace: bool = False) -> None:
    """Register a device, its broker username its id; with ``replace``, in place of a row of that id."""
    with db.conn:
        if replace:
            db.conn.execute("DELETE FROM devices WHERE id=?", [device_id])
        db.conn.execute(
            "INSERT INTO devices(id, kind, role, token_hash, mqtt_username, mqtt_password_hash, counters,"
            " created_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [device_id, kind, role, token_hash, device_id, mqtt_password_hash, json.dumps(counters),
             time.time(), note])


def revoke_device(db: sqlite_utils.Database, device_id: str, note: str) -> None:
    """Refuse a device's token from now on (``note`` says why)."""
    with db.conn:
        db.conn.execute("UPDATE devices SET revoked_at=?, note=? WHERE id=?", [time.time(), note, device_id])


def set_device_credentials(db: sqlite_utils.Database, device_id: str, *, token_hash: str,
                           mqtt_password_hash: str, counters: list[str]) -> None:
    """New credentials (and counters) for a device; a revoked one is reinstated."""
    with db.conn:
        db.conn.execute("UPDATE devices SET token_hash=?, mqtt_password_hash=?, counters=?, revoked_at=NULL "
                        "WHERE id=?", [token_hash, mqtt_password_hash, json.dumps(counters), device_id])


def bridge_counters(db: sqlite_utils.Database, device_id: str) -> tuple[str, ...] | None:
    """The counters an unrevoked bridge drives; None when ``device_id`` is no such bridge."""
    row = db.execute("SELECT role, counters FROM devices WHERE id=? AND revoked_at IS NULL", [device_id]).fetchone()
    if row is None or row[0] != "bridge":
        return None
    try:
        return tuple(json.loads(row[1] or "[]"))
    except ValueError:
        return ()


def bridges_by_counter(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """For each counter, the unrevoked bridges that drive it."""
    out: dict[str, list[str]] = {}
    for r in db.query("SELECT id, counters FROM devices WHERE kind='bridge' AND revoked_at IS NULL"):
        for cid in json.loads(r["counters"] or "[]"):
            out.setdefault(cid, []).append(r["id"])
    return out
