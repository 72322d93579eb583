"""Headquarters staff: accounts with argon2 password hashes, sessions in a cookie, CSRF tokens, lock-out.

Three roles, each covering the one below it: ``viewer`` (the board, the
figures), ``agent`` (the call-centre console, and what a viewer sees), ``admin``
(the catalogue and the staff accounts, and everything else). A session is an opaque token in an
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
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hq.store import Store, StoreError

logger = logging.getLogger(__name__)

SESSION_COOKIE = "hq_session"
SESSION_HOURS = 12  # absolute: a session ends this long after the login, however busy
SESSION_IDLE_MINUTES = 30  # idle: a terminal left logged in ends its session after this long untouched
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
    "CREATE TABLE IF NOT EXISTS hq_staff_audit (at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, "
    "action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS hq_staff_audit_by_time ON hq_staff_audit (at)",
]

USERNAME_PATTERN = r"[a-z0-9][a-z0-9._-]{1,39}"


class HqRole(StrEnum):
    """Who a member of headquarters' staff is; each role may do what the roles below it may."""

    admin = "admin"
    viewer = "viewer"
    agent = "agent"

    def covers(self, needed: HqRole) -> bool:
        """admin covers agent covers viewer: an agent answering a caller may also read the board."""
        return ROLE_RANK[self] >= ROLE_RANK[needed]


ROLE_RANK = {HqRole.viewer: 1, HqRole.agent: 2, HqRole.admin: 3}


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
        try:  # sessions made before idle expiry existed: add the column they lack (once)
            with self.store.tx() as cur:
                cur.execute("SELECT last_seen FROM hq_sessions LIMIT 1")
        except Exception:  # noqa: BLE001 - sqlite3 and psycopg name the missing column differently
            with self.store.tx() as cur:
                cur.execute("ALTER TABLE hq_sessions ADD COLUMN last_seen DOUBLE PRECISION")

    # -------------------------------------------------------------- administration (audited)

    def audit(self, cur: Any, actor: str, action: str, subject: str, detail: str = "") -> None:
        """One line of who changed what among headquarters' staff (and the console's records)."""
        cur.execute("INSERT INTO hq_staff_audit(at, actor, action, subject, detail) VALUES (?,?,?,?,?)",
                    [time.time(), actor, action, subject, detail[:500]])

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.store.tx() as cur:
            cur.execute("SELECT at, actor, action, subject, detail FROM hq_staff_audit ORDER BY at DESC LIMIT ?",
                        [limit])
            return [dict(zip(("at", "actor", "action", "subject", "detail"), r)) for r in cur.fetchall()]

    def create(self, actor: str, username: str, role: HqRole) -> str:
        """An admin adds a member of staff; returns the generated first password (shown once)."""
        password = new_password()
        self.add(username, role, password)
        with self.store.tx() as cur:
            self.audit(cur, actor, "account_added", username, str(role))
        return password

    def set_role(self, actor: str, username: str, role: HqRole) -> None:
        """A new role takes effect at once: the account's sessions end (it logs in again with the new role)."""
        with self.store.tx() as cur:
            cur.execute("SELECT role FROM hq_accounts WHERE username=?", [username])
            row = cur.fetchone()
            if row is None:
                raise StoreError("no_account", f"no account {username!r}", 404)
            if row[0] == str(role):
                return
            self._not_last_admin(cur, username, actor, leaving=row[0] == HqRole.admin)
            cur.execute("UPDATE hq_accounts SET role=? WHERE username=?", [str(role), username])
            cur.execute("DELETE FROM hq_sessions WHERE username=?", [username])
            self.audit(cur, actor, "role_changed", username, f"{row[0]} -> {role}")

    def set_disabled(self, actor: str, username: str, disabled: bool) -> None:
        """Disable (sessions end at once) or enable an account; an admin cannot disable themself."""
        if disabled and username == actor:
            raise StoreError("own_account", "you cannot disable your own account", 409)
        with self.store.tx() as cur:
            cur.execute("SELECT role, disabled FROM hq_accounts WHERE username=?", [username])
            row = cur.fetchone()
            if row is None:
                raise StoreError("no_account", f"no account {username!r}", 404)
            if bool(row[1]) == disabled:
                return
            if disabled:
                self._not_last_admin(cur, username, actor, leaving=row[0] == HqRole.admin)
            cur.execute("UPDATE hq_accounts SET disabled=? WHERE username=?", [int(disabled), username])
            cur.execute("DELETE FROM hq_sessions WHERE username=?", [username])
            self.audit(cur, actor, "account_disabled" if disabled else "account_enabled", username)

    def reset(self, actor: str, username: str) -> str:
        """A new generated password (lifts a lock-out, ends the account's sessions); returns it, shown once."""
        with self.store.tx() as cur:
            cur.execute("SELECT role FROM hq_accounts WHERE username=?", [username])
            row = cur.fetchone()
        if row is None:
            raise StoreError("no_account", f"no account {username!r}", 404)
        password = new_password()
        self.add(username, HqRole(row[0]), password, replace=True)
        with self.store.tx() as cur:
            self.audit(cur, actor, "password_reset", username)
        return password

    @staticmethod
    def _not_last_admin(cur: Any, username: str, actor: str, *, leaving: bool) -> None:
        if not leaving:
            return
        cur.execute("SELECT COUNT(*) FROM hq_accounts WHERE role='admin' AND disabled=0 AND username<>?", [username])
        if cur.fetchone()[0] == 0:
            raise StoreError("last_admin", "headquarters would have no admin left", 409)

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
            cur.execute("INSERT INTO hq_sessions(token_hash, username, role, csrf, created_at, expires_at, last_seen) "
                        "VALUES (?,?,?,?,?,?,?)", [_token_hash(token), username, role, csrf, now, expires, now])
        logger.info("headquarters login: %s", username)
        return token, Staff(username, HqRole(role), csrf, expires)

    def session(self, token: str | None, now: float | None = None) -> Staff | None:
        """The staff member a session cookie belongs to; None when unknown, expired (idle or absolute) or disabled.

        Each use moves the idle clock on (written at most once a minute, so a
        busy page does not write on every request).
        """
        if not token:
            return None
        now = time.time() if now is None else now
        idle_since = now - SESSION_IDLE_MINUTES * 60
        with self.store.tx() as cur:
            cur.execute("SELECT s.username, s.role, s.csrf, s.expires_at, COALESCE(s.last_seen, s.created_at) "
                        "FROM hq_sessions s JOIN hq_accounts a ON a.username = s.username "
                        "WHERE s.token_hash=? AND s.expires_at > ? AND a.disabled = 0", [_token_hash(token), now])
            row = cur.fetchone()
            if row is None or row[4] <= idle_since:
                if row is not None:
                    cur.execute("DELETE FROM hq_sessions WHERE token_hash=?", [_token_hash(token)])
                    logger.info("headquarters session of %s ended: idle %s min", row[0], SESSION_IDLE_MINUTES)
                return None
            if now - row[4] > 60:
                cur.execute("UPDATE hq_sessions SET last_seen=? WHERE token_hash=?", [now, _token_hash(token)])
        return Staff(row[0], HqRole(row[1]), row[2], row[3])

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
