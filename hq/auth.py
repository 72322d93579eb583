"""Headquarters staff: accounts with argon2 password hashes, sessions in a cookie, CSRF tokens, lock-out.

Today one role, ``admin`` (edits the national catalogue); ``viewer`` and
``agent`` (issue 22) fit the same table. A session is an opaque token in an
HttpOnly, SameSite=Strict cookie, stored hashed with its own CSRF token, which
every form carries back. Five wrong passwords lock an account for 15 minutes;
an unknown name answers exactly as a known one would (and costs the same
argon2 work), so the login page does not tell which names exist. Requests
per address are limited too, so one machine cannot try many names.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hq.store import Store, StoreError

logger = logging.getLogger(__name__)

SESSION_COOKIE = "hq_session"
SESSION_HOURS = 12
LOCKOUT_AFTER = 5
LOCKOUT_MINUTES = 15
LOGINS_PER_MINUTE_PER_ADDRESS = 20

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS hq_accounts (username TEXT PRIMARY KEY, role TEXT NOT NULL, "
    "password_hash TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, "
    "failed_logins INTEGER NOT NULL DEFAULT 0, locked_until DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS hq_sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, "
    "role TEXT NOT NULL, csrf TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL)",
]

USERNAME_PATTERN = r"[a-z0-9][a-z0-9._-]{1,39}"


class HqRole(StrEnum):
    """Who a member of headquarters' staff is: admin now; viewer and agent come with issue 22."""

    admin = "admin"
    viewer = "viewer"
    agent = "agent"


_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    """A password an admin can type: four groups of four letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


@dataclass(frozen=True)
class Staff:
    """A logged-in member of headquarters' staff (the session's owner)."""

    username: str
    role: HqRole
    csrf: str
    expires_at: float

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(sent or "", self.csrf)


class LoginRefused(StoreError):
    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(code, message, status)


class AddressLimit:
    """At most ``per_minute`` login attempts per client address (in memory: a restart forgives)."""

    def __init__(self, per_minute: int = LOGINS_PER_MINUTE_PER_ADDRESS) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._seen.setdefault(address, deque())
            while q and q[0] < now - 60:
                q.popleft()
            if len(q) >= self.per_minute:
                return False
            q.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses
                for k in [k for k, v in self._seen.items() if not v or v[-1] < now - 60]:
                    del self._seen[k]
            return True


class Accounts:
    """Headquarters' staff accounts and sessions, in headquarters' database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # unknown names are locked out like real ones (in memory), so a lock-out does not tell a name exists
        self._unknown: dict[str, tuple[int, float | None]] = {}
        self._unknown_lock = threading.Lock()

    def migrate(self) -> None:
        with self.store.tx() as cur:
            for stmt in SCHEMA:
                cur.execute(stmt)

    def add(self, username: str, role: HqRole, password: str, *, replace: bool = False) -> None:
        """A new account (or, with ``replace``, a new password and role: lifts a lock-out, ends its sessions)."""
        pw = _hasher.hash(password)
        with self.store.tx() as cur:
            cur.execute("SELECT username FROM hq_accounts WHERE username=?", [username])
            if cur.fetchone():
                if not replace:
                    raise StoreError("account_exists", f"{username!r} exists already (use --new-password)")
                cur.execute("UPDATE hq_accounts SET role=?, password_hash=?, failed_logins=0, locked_until=NULL, "
                            "disabled=0 WHERE username=?", [str(role), pw, username])
                cur.execute("DELETE FROM hq_sessions WHERE username=?", [username])
            else:
                cur.execute("INSERT INTO hq_accounts(username, role, password_hash, created_at) VALUES (?,?,?,?)",
                            [username, str(role), pw, time.time()])
        logger.info("headquarters account %s (%s) %s", username, role, "reset" if replace else "added")

    def list(self) -> list[dict[str, object]]:
        with self.store.tx() as cur:
            cur.execute("SELECT username, role, disabled, locked_until FROM hq_accounts ORDER BY username")
            return [{"username": r[0], "role": r[1], "disabled": bool(r[2]), "locked_until": r[3]}
                    for r in cur.fetchall()]

    def login(self, username: str, password: str, now: float | None = None) -> tuple[str, Staff]:
        """Check a password; returns (session token, staff). Locks the account after repeated failures."""
        now = time.time() if now is None else now
        username = username.strip().lower()[:40]
        with self.store.tx() as cur:
            cur.execute("SELECT password_hash, role, disabled, failed_logins, locked_until FROM hq_accounts "
                        "WHERE username=?", [username])
            row = cur.fetchone()
        if row is None:
            _verify(None, password)
            with self._unknown_lock:
                failures, locked_until = self._unknown.get(username, (0, None))
                if not (locked_until and locked_until > now):
                    failures += 1
                    lock = now + LOCKOUT_MINUTES * 60 if failures >= LOCKOUT_AFTER else None
                    if len(self._unknown) > 10_000:
                        self._unknown.clear()
                    self._unknown[username] = (0 if lock else failures, lock)
            if locked_until and locked_until > now:
                raise _locked(locked_until, now)
            raise LoginRefused("bad_credentials", "wrong username or password")
        pw_hash, role, disabled, failures, locked_until = row
        if locked_until and locked_until > now:
            _verify(None, password)
            raise _locked(locked_until, now)
        if not _verify(pw_hash, password):
            failures = (failures or 0) + 1
            lock = now + LOCKOUT_MINUTES * 60 if failures >= LOCKOUT_AFTER else None
            with self.store.tx() as cur:
                cur.execute("UPDATE hq_accounts SET failed_logins=?, locked_until=? WHERE username=?",
                            [0 if lock else failures, lock, username])
            if lock:
                logger.warning("headquarters account %s locked for %s min after %s failed logins",
                               username, LOCKOUT_MINUTES, LOCKOUT_AFTER)
            raise LoginRefused("bad_credentials", "wrong username or password")
        if disabled:
            raise LoginRefused("disabled", "this account is disabled", 403)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = now + SESSION_HOURS * 3600
        with self.store.tx() as cur:
            cur.execute("UPDATE hq_accounts SET failed_logins=0, locked_until=NULL WHERE username=?", [username])
            cur.execute("DELETE FROM hq_sessions WHERE expires_at < ?", [now])
            cur.execute("INSERT INTO hq_sessions(token_hash, username, role, csrf, created_at, expires_at) "
                        "VALUES (?,?,?,?,?,?)", [_token_hash(token), username, role, csrf, now, expires])
        logger.info("headquarters login: %s", username)
        return token, Staff(username, HqRole(role), csrf, expires)

    def session(self, token: str | None, now: float | None = None) -> Staff | None:
        """The staff member a session cookie belongs to; None when unknown, expired or the account disabled."""
        if not token:
            return None
        now = time.time() if now is None else now
        with self.store.tx() as cur:
            cur.execute("SELECT s.username, s.role, s.csrf, s.expires_at FROM hq_sessions s "
                        "JOIN hq_accounts a ON a.username = s.username "
                        "WHERE s.token_hash=? AND s.expires_at > ? AND a.disabled = 0", [_token_hash(token), now])
            row = cur.fetchone()
        return Staff(row[0], HqRole(row[1]), row[2], row[3]) if row else None

    def logout(self, token: str | None) -> None:
        if token:
            with self.store.tx() as cur:
                cur.execute("DELETE FROM hq_sessions WHERE token_hash=?", [_token_hash(token)])


def _locked(locked_until: float, now: float) -> LoginRefused:
    minutes = max(1, int((locked_until - now + 59) // 60))
    return LoginRefused("locked_out", f"too many failed logins: try again in {minutes} min", 429)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password[:200]) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
