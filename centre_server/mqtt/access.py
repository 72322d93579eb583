"""Who may connect to the centre's broker, and which topics each may touch.

One set of rules for both brokers: provisioning renders them as Mosquitto's
password and ACL files (``huduma-provision broker-config``), and the embedded
amqtt broker enforces them through the two plugins below, reading the same
device registry (the ``devices`` table of centre.db). The registry is re-read
when the database changes (``PRAGMA data_version``, a counter SQLite keeps in
memory, is checked on every decision), so revoking or rotating a device takes
effect at once, without restarting the centre.

Rules by role (base ``huduma/{centre_id}``):

- server: everything.
- display: read ``state/#``, ``event/#``, ``server/availability``; write its
  own ``device/{id}/availability`` and ``device/{id}/status``.
- kiosk: read ``state/#`` and ``server/availability``; write its own
  availability and status.
- bridge: write ``cmd/counter/{c}`` and ``cmd/feedback/{c}`` for its counters only
  and its own availability and status; read ``reply/{id}``,
  ``state/counter/{c}`` for its counters and ``server/availability``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centre_server.contract import TOPIC_ROOT, Topics

logger = logging.getLogger(__name__)

SERVER_ROLE = "server"
OBSERVER_ROLE = "observer"  # anonymous, read-only: only where a demo centre allows it
SERVER_USERNAME = "centre-server"  # the server's own broker user; a reserved device id


# --------------------------------------------------------------------------
# Mosquitto password hashes
# --------------------------------------------------------------------------


def mosquitto_hash(password: str, iterations: int = 101, salt: bytes | None = None) -> str:
    """A hash in Mosquitto 2's ``$7$`` format (PBKDF2-SHA512), as ``mosquitto_passwd`` writes it."""
    import os

    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_mosquitto_hash(password_hash: str | None, password: str | None) -> bool:
    """Check a password against a Mosquitto ``$7$`` (PBKDF2-SHA512) or ``$6$`` (salted SHA-512) hash."""
    if not password_hash or password is None:
        return False
    parts = password_hash.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
            mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
        elif len(parts) == 4 and parts[1] == "6":
            salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            mine = hashlib.sha512(password.encode() + salt).digest()
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(mine, digest)


# --------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MqttUser:
    """One broker user: a device, or the server itself."""

    username: str
    device_id: str
    role: str
    password_hash: str
    counters: tuple[str, ...] = ()
    revoked: bool = False


@dataclass(frozen=True)
class Acl:
    """Topic filters a user may read (subscribe and receive) and write (publish)."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    everything: bool = False


def acl_for(user: MqttUser, topics: Topics) -> Acl:
    """The topics one user may touch: the single source of the rules for both brokers."""
    if user.revoked:
        return Acl()
    if user.role == SERVER_ROLE:
        return Acl(read=("#",), write=("#",), everything=True)
    base = topics.base
    if user.role == OBSERVER_ROLE:  # the broker carries one centre: "huduma/+/…" is this centre
        return Acl(read=tuple(f"{TOPIC_ROOT}/+/{rest}" for rest in (
            "state/#", "event/#", "server/availability", "device/+/availability", "device/+/status")))
    own = (topics.device_availability(user.device_id), topics.device_status(user.device_id))
    if user.role == "display":
        return Acl(read=(f"{base}/state/#", f"{base}/event/#", topics.server_availability), write=own)
    if user.role == "kiosk":
        return Acl(read=(f"{base}/state/#", topics.server_availability), write=own)
    if user.role == "bridge":
        counters = [c for c in user.counters if c]
        return Acl(read=(topics.reply(user.device_id), *(topics.counter_state(c) for c in counters),
                         topics.server_availability),
                   write=(*(topics.cmd_counter(c) for c in counters), *(topics.cmd_feedback(c) for c in counters),
                          *own))
    return Acl()


def filter_covers(allowed: str, requested: str) -> bool:
    """Whether every topic ``requested`` (a topic or a filter) can match is inside filter ``allowed``.

    ``huduma/x/state/#`` covers ``huduma/x/state/counter/+`` but not ``huduma/x/#``:
    a subscription wider than the rule is refused, as Mosquitto refuses it.
    """
    want, have = requested.split("/"), allowed.split("/")
    for i, level in enumerate(have):
        if level == "#":
            return True
        if i >= len(want):
            return False
        if level == "+":
            if want[i] == "#":
                return False
            continue
        if want[i] != level:
            return False
    return len(want) == len(have)


def may_read(acl: Acl, topic_or_filter: str) -> bool:
    return acl.everything or any(filter_covers(a, topic_or_filter) for a in acl.read)


def may_write(acl: Acl, topic: str) -> bool:
    if "+" in topic or "#" in topic:
        return False
    return acl.everything or any(filter_covers(a, topic) for a in acl.write)


# --------------------------------------------------------------------------
# Client ids
# --------------------------------------------------------------------------


def client_id_claimants(client_id: str, usernames: set[str]) -> set[str]:
    """The users a client id belongs to: the one it names exactly, else every user whose name it
    starts with (``bridge-1-3f2a``) or ends with (``kiosk-demo-kiosk-1``), a dash between.

    A broker hands a client id to whoever connects with it last and drops the one before, so an id
    must belong to its user alone: a display's credentials may not take the server's id (and with
    it the server's subscriptions to every command).
    """
    if client_id in usernames:
        return {client_id}
    return {u for u in usernames if u and (client_id.startswith(u + "-") or client_id.endswith("-" + u))}


def may_use_client_id(user: MqttUser, client_id: str, usernames: set[str]) -> bool:
    """A user may use an id that is its own alone; an anonymous watcher only one nobody's owns."""
    if not client_id:
        return False  # the broker would make one up: refused, so every connection has a known owner
    owners = client_id_claimants(client_id, usernames)
    if user.role == OBSERVER_ROLE:
        return not owners
    return owners == {user.username}


# --------------------------------------------------------------------------
# The registry in centre.db
# --------------------------------------------------------------------------


def load_users(conn: sqlite3.Connection) -> dict[str, MqttUser]:
    """Every broker user in the devices table, revoked ones included (marked)."""
    users: dict[str, MqttUser] = {}
    rows = conn.execute("SELECT id, role, mqtt_username, mqtt_password_hash, counters, revoked_at "
                        "FROM devices ORDER BY id").fetchall()
    for device_id, role, username, pw_hash, counters, revoked_at in rows:
        if not username or not pw_hash:
            continue
        try:
            counter_list = tuple(json.loads(counters or "[]"))
        except ValueError:
            counter_list = ()
        users[username] = MqttUser(username=username, device_id=device_id, role=role, password_hash=pw_hash,
                                   counters=counter_list, revoked=revoked_at is not None)
    return users


class Registry:
    """The device registry as the broker sees it, re-read when the database changes."""

    def __init__(self, db_path: Path | str, centre_id: str, *, ttl: float = 0.0,
                 server_username: str = "", server_password: str = "", anonymous_read: bool = False) -> None:
        self.db_path = str(db_path)
        self.anonymous_read = anonymous_read
        self.observer = MqttUser(username="", device_id="anonymous", role=OBSERVER_ROLE, password_hash="")
        self.topics = Topics(centre_id)
        self.ttl = ttl
        self.server_username, self.server_password = server_username, server_password
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._users: dict[str, MqttUser] = {}
        self._version: int | None = None
        self._checked = 0.0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self.db_path, timeout=5, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=5000")
        return self._conn

    def refresh(self, force: bool = False) -> None:
        """Re-read the devices table if another connection changed the database since the last read."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._checked < self.ttl:
                return
            self._checked = now
            try:
                conn = self._connection()
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if force or version != self._version or not self._users:
                    self._users = load_users(conn)
                    self._version = version
            except sqlite3.Error:
                logger.warning("cannot read the device registry in %s: keeping the last one", self.db_path,
                               exc_info=True)

    def user(self, username: str | None) -> MqttUser | None:
        if not username:
            return self.observer if self.anonymous_read else None
        if self.server_username and username == self.server_username:
            return MqttUser(username=username, device_id=username, role=SERVER_ROLE, password_hash="")
        self.refresh()
        return self._users.get(username)

    def authenticate(self, username: str | None, password: str | None) -> MqttUser | None:
        """The user if the password is right and the device not revoked; else None."""
        if not username and not password and self.anonymous_read:
            return self.observer
        if not username or password is None:
            return None
        if self.server_username and username == self.server_username:
            ok = hmac.compare_digest(password.encode(), self.server_password.encode())
            return self.user(username) if ok else None
        self.refresh(force=True)  # a CONNECT always sees the newest registry
        user = self._users.get(username)
        if user is None or user.revoked or not verify_mosquitto_hash(user.password_hash, password):
            return None
        return user

    def usernames(self) -> set[str]:
        """Every name a client id may belong to: devices (revoked ones too) and the server."""
        self.refresh()
        return set(self._users) | ({self.server_username} if self.server_username else set())

    def connect_refusal(self, username: str | None, password: str | None, client_id: str | None) -> str | None:
        """Why a CONNECT must be refused before the broker touches any session, or None.

        Checked before amqtt looks the client id up: amqtt drops the old session of an id
        (its subscriptions included) before it asks the authentication plugin, so a login
        that is refused later has already cut the id's owner off.
        """
        user = self.authenticate(username, password)
        if user is None:
            return "bad credentials"
        if not may_use_client_id(user, client_id or "", self.usernames()):
            return f"client id {client_id!r} is not {user.username or 'an anonymous watcher'}'s own"
        return None

    def acl(self, username: str | None) -> Acl:
        user = self.user(username)
        return acl_for(user, self.topics) if user else Acl()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_registries: dict[tuple[str, str], Registry] = {}
_registries_lock = threading.Lock()


def shared_registry(db_path: str, centre_id: str, ttl: float, server_username: str, server_password: str,
                    anonymous_read: bool = False) -> Registry:
    """One registry per broker, shared by its auth and topic plugins."""
    key = (str(db_path), centre_id)
    with _registries_lock:
        reg = _registries.get(key)
        if reg is None or (reg.server_username, reg.server_password, reg.anonymous_read) != (
                server_username, server_password, anonymous_read):
            reg = Registry(db_path, centre_id, ttl=ttl, server_username=server_username,
                           server_password=server_password, anonymous_read=anonymous_read)
            _registries[key] = reg
        return reg


# --------------------------------------------------------------------------
# amqtt plugins
# --------------------------------------------------------------------------

try:  # the plugins need amqtt; the rules above do not (provisioning imports them)
    from amqtt.contexts import Action
    from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
except ImportError:  # pragma: no cover - amqtt is a server dependency
    BaseAuthPlugin = BaseTopicPlugin = object
    Action: Any = None  # type: ignore[no-redef]  # never used without amqtt: the plugins below need it


@dataclass
class _PluginConfig:
    db_path: str = ""
    centre_id: str = "demo"
    ttl: float = 0.0
    server_username: str = ""
    server_password: str = ""
    anonymous_read: bool = False


def _registry_of(config: Any) -> Registry:
    return shared_registry(config.db_path, config.centre_id, config.ttl, config.server_username,
                           config.server_password, getattr(config, "anonymous_read", False))


def _release(config: Any) -> None:
    """Close the registry's database connection when its broker shuts down."""
    with _registries_lock:
        reg = _registries.pop((str(config.db_path), config.centre_id), None)
    if reg is not None:
        reg.close()


class RegistryAuthPlugin(BaseAuthPlugin):
    """amqtt authentication against the centre's device registry: no anonymous, no revoked devices."""

    @dataclass
    class Config(_PluginConfig):
        pass

    async def authenticate(self, *, session: Any) -> bool | None:
        registry = _registry_of(self.config)
        user = registry.authenticate(session.username, session.password)
        if user is None:
            logger.warning("MQTT connection refused: user %r (client %s)", session.username, session.client_id)
            return False
        if session.will_flag and session.will_topic and not may_write(acl_for(user, registry.topics),
                                                                      session.will_topic):
            logger.warning("MQTT connection refused: %s may not set a last will on %s", user.username,
                           session.will_topic)
            return False
        # remembered so that rotating the password cuts off connections made with the old one
        session.huduma_password_hash = user.password_hash
        return True

    async def close(self) -> None:
        _release(self.config)


class RegistryTopicPlugin(BaseTopicPlugin):
    """amqtt topic rules from the registry: the same ACL the Mosquitto files carry."""

    @dataclass
    class Config(_PluginConfig):
        pass

    async def topic_filtering(self, *, session: Any = None, topic: str | None = None,
                              action: Any = None) -> bool | None:
        if session is None or not topic:
            return False
        registry = _registry_of(self.config)
        user = registry.user(session.username)
        logged_in_with = getattr(session, "huduma_password_hash", None)
        if user is None or (logged_in_with is not None and logged_in_with != user.password_hash):
            acl = Acl()  # unknown now, or connected with credentials that were rotated since
        else:
            acl = acl_for(user, registry.topics)
        if action == Action.PUBLISH:
            allowed = may_write(acl, topic)
        elif action == Action.SUBSCRIBE and user is not None and user.role == OBSERVER_ROLE:
            # a watcher may ask for anything ("huduma/#"), as Mosquitto grants it; what it
            # is sent is still only what it may read (RECEIVE is checked per message)
            allowed = topic == "#" or topic.startswith(TOPIC_ROOT + "/")
        else:  # SUBSCRIBE (a filter) and RECEIVE (a topic) both need read access
            allowed = may_read(acl, topic)
        if not allowed and action != Action.RECEIVE:
            logger.info("MQTT %s refused: %s on %s", action, session.username, topic)
        return allowed

    async def close(self) -> None:
        _release(self.config)


def embedded_plugins(db_path: Path | str, centre_id: str, *, server_username: str = "",
                     server_password: str = "", ttl: float = 0.0,
                     anonymous_read: bool = False) -> dict[str, dict[str, Any]]:
    """The amqtt ``plugins`` section that locks the embedded broker down to the registry.

    ``anonymous_read`` (demo centres) lets a plain ``mosquitto_sub`` watch state and events, read-only.
    """
    cfg = {"db_path": str(db_path), "centre_id": centre_id, "ttl": ttl, "server_username": server_username,
           "server_password": server_password, "anonymous_read": anonymous_read}
    return {f"{__name__}.RegistryAuthPlugin": dict(cfg), f"{__name__}.RegistryTopicPlugin": dict(cfg)}
