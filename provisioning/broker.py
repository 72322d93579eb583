"""The broker's security: the server's own broker user, and Mosquitto's config, password and ACL files.

The registry in centre.db is the one source: the embedded broker reads it by
itself, and for Mosquitto these functions render it as files (with the same
rules by role, from centre_server.mqtt.access) and have Mosquitto reload them
whenever a device is enrolled, revoked or rotated.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import secrets
import signal
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.config import CONFIG_NAME, CentreSettings, load_settings
from centre_server.contract import Topics
from centre_server.mqtt.access import (
    SERVER_ROLE,
    SERVER_USERNAME,
    acl_for,
    load_users,
    mosquitto_hash,
    verify_mosquitto_hash,
)
from centre_server.store import accounts, database as storage
from provisioning import settings_file
from provisioning.directory import CentreDirectory, ProvisionError, actor

logger = logging.getLogger(__name__)

BROKER_DIR_KEY = "broker_config_dir"


def ensure_server_user(directory: Path, db: sqlite_utils.Database, settings: CentreSettings,
                       *, rotate: bool = False) -> str:
    """The server's own broker user, in the registry (role ``server``) and in centre.toml [mqtt]."""
    row = accounts.find_device(db, SERVER_USERNAME)
    username, password = settings.mqtt.username, settings.mqtt.password
    if (not rotate and row and username == SERVER_USERNAME and password
            and verify_mosquitto_hash(row["mqtt_password_hash"], password)):
        return username
    password = secrets.token_urlsafe(24)
    # The server has no API token: a token hash that no SHA-256 hex digest can equal.
    accounts.enrol_device(db, SERVER_USERNAME, SERVER_ROLE, role=SERVER_ROLE,
                          token_hash=f"no-api-token:{secrets.token_hex(16)}",
                          mqtt_password_hash=mosquitto_hash(password), counters=[],
                          note="the centre server's own broker user", replace=True)
    settings_file.set_values(directory / CONFIG_NAME, "mqtt", {"username": SERVER_USERNAME, "password": password})
    storage.audit(db, actor(), "server-broker-user", rotated=bool(row))
    return SERVER_USERNAME


@dataclass
class BrokerFiles:
    """What ``broker-config`` wrote, and whether a running Mosquitto was told to reload."""

    directory: Path
    conf: Path
    password_file: Path
    acl_file: Path
    systemd_dropin: Path
    users: int
    reloaded: str = ""
    notes: list[str] = field(default_factory=list)


def render_password_file(users: list[Any]) -> str:
    """Mosquitto's password file: ``username:$7$...`` for every user not revoked."""
    return "".join(f"{u.username}:{u.password_hash}\n" for u in users if not u.revoked)


def render_acl(users: list[Any], topics: Topics) -> str:
    """Mosquitto's ACL file from the same rules the embedded broker enforces."""
    out = [f"# Huduma Centre {topics.centre_id}: topic rules by role, written by huduma-provision broker-config.",
           "# Do not edit: rerun broker-config (revoke-device and rotate-device do it for you).",
           "# No rules before the first 'user' line: anonymous clients may do nothing.", ""]
    for u in users:
        if u.revoked:
            continue
        acl = acl_for(u, topics)
        out.append(f"# {u.role}{' counters ' + ','.join(u.counters) if u.counters else ''}")
        out.append(f"user {u.username}")
        if acl.everything:
            out.append("topic readwrite #")
        out += [f"topic read {t}" for t in acl.read if not acl.everything]
        out += [f"topic write {t}" for t in acl.write if not acl.everything]
        out.append("")
    return "\n".join(out)


def render_mosquitto_conf(out: Path, *, port: int, bind: str, user: str, centre_id: str,
                          max_packet: int = 262_144) -> str:
    """mosquitto.conf: no anonymous clients, our password and ACL files, a client's id its username."""
    return f"""# Mosquitto for Huduma Centre {centre_id}, written by huduma-provision broker-config.
# Run: mosquitto -c {out / 'mosquitto.conf'}   (systemd: see mosquitto.service.d/huduma.conf)
# Reload after revoke/rotate: kill -HUP $(cat {out / 'mosquitto.pid'})  or  systemctl reload mosquitto
user {user}
pid_file {out / 'mosquitto.pid'}
persistence true
persistence_location {out / 'data'}/
autosave_interval 60
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
log_timestamp_format %Y-%m-%dT%H:%M:%S
max_queued_messages 10000
# send each small message at once: without it calls reach the displays ~40 ms later (bench/bridge_latency.py)
set_tcp_nodelay true
per_listener_settings false
allow_anonymous false
password_file {out / 'passwd'}
acl_file {out / 'acl'}
# no packet over this many bytes: a bigger one disconnects its sender unread ([mqtt] max_packet_bytes)
max_packet_size {max_packet}

listener {port} {bind}
# a client's id is its username: no device's credentials can take the server's id (or another device's)
# and with it the server's subscriptions
use_username_as_clientid true
"""


def _write_broker_files(c: CentreDirectory, out: Path) -> tuple[Path, Path, int]:
    users = list(load_users(c.db.conn).values())
    topics = Topics(c.settings.centre_id)
    passwd, acl = out / "passwd", out / "acl"
    for path, text in ((passwd, render_password_file(users)), (acl, render_acl(users, topics))):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        os.replace(tmp, path)  # Mosquitto never reads half a file
    return passwd, acl, sum(1 for u in users if not u.revoked)


def reload_broker(pid: int | None = None, pid_file: Path | None = None) -> str:
    """Send SIGHUP to Mosquitto so it re-reads its password and ACL files; says what happened."""
    if pid is None and pid_file is not None:
        try:
            pid = int(Path(pid_file).read_text().strip())
        except (OSError, ValueError):
            return ""
    if pid is None:
        return ""
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return f"no process {pid}: Mosquitto is not running, start it (systemctl start mosquitto)"
    except PermissionError:
        return f"not allowed to signal process {pid}: run `sudo systemctl reload mosquitto`"
    return f"Mosquitto (pid {pid}) reloaded its password and ACL files"


def after_registry_change(c: CentreDirectory, reload_pid: int | None = None) -> dict[str, Any]:
    """Tell a running server (its token cache), rewrite the broker files where broker-config put
    them, and have Mosquitto reload them."""
    accounts.bump_access_epoch(c.directory)
    where = storage.get_meta(c.db, BROKER_DIR_KEY)
    if not where:
        return {"broker": "embedded broker re-reads the registry by itself; no Mosquitto files configured"}
    out = Path(where)
    if not out.is_dir():
        return {"broker": f"broker files folder {out} is gone: run broker-config again"}
    _write_broker_files(c, out)
    reloaded = reload_broker(reload_pid, out / "mosquitto.pid" if reload_pid is None else None)
    return {"broker": reloaded or f"wrote {out}/passwd and acl: run `systemctl reload mosquitto` to apply"}


def broker_config(directory: Path | str, out: Path | str, *, port: int = 1883, bind: str = "0.0.0.0",
                  user: str | None = None, reload_pid: int | None = None) -> BrokerFiles:
    """Write mosquitto.conf, the password file and the ACL file for this centre into ``out``.

    The folder is remembered: revoke-device, rotate-device and add-device
    rewrite its files and signal Mosquitto (its pid file, or ``reload_pid``).
    """
    out = Path(out).resolve()
    if not 1 <= port <= 65535:
        raise ProvisionError("port: 1 to 65535")
    try:
        ip_address(bind)
    except ValueError:
        raise ProvisionError(f"bind address {bind!r}: an IP address such as 0.0.0.0 or 192.168.1.10") from None
    if user is None:
        try:
            user = getpass.getuser()
        except Exception:
            user = "mosquitto"
    if not re.match(r"^[a-z_][a-z0-9_-]*$", user):
        raise ProvisionError(f"user {user!r}: a system user name")
    with CentreDirectory(directory) as c:
        out.mkdir(parents=True, exist_ok=True)
        (out / "data").mkdir(exist_ok=True)
        ensure_server_user(c.directory, c.db, c.settings)
        c.settings = load_settings(c.directory)
        passwd, acl, users = _write_broker_files(c, out)
        conf = out / "mosquitto.conf"
        conf.write_text(render_mosquitto_conf(out, port=port, bind=bind, user=user, centre_id=c.settings.centre_id,
                                              max_packet=c.settings.mqtt.max_packet_bytes))
        dropin = out / "mosquitto.service.d" / "huduma.conf"
        dropin.parent.mkdir(exist_ok=True)
        dropin.write_text("# Copy to /etc/systemd/system/mosquitto.service.d/huduma.conf, then\n"
                          "# systemctl daemon-reload && systemctl restart mosquitto\n"
                          "[Service]\nExecStart=\n"
                          f"ExecStart=/usr/sbin/mosquitto -c {conf}\n")
        with c.db.conn:
            storage.set_meta(c.db.conn, BROKER_DIR_KEY, str(out))
        c.audit("broker-config", out=str(out), port=port, bind=bind, users=users)
        files = BrokerFiles(directory=out, conf=conf, password_file=passwd, acl_file=acl, systemd_dropin=dropin,
                            users=users)
        files.reloaded = reload_broker(reload_pid, out / "mosquitto.pid" if reload_pid is None else None)
        if user == "root":
            files.notes.append("Mosquitto will run as root: run broker-config as the centre's own user "
                               "(sudo -u huduma huduma-provision ...) or pass --user")
        server_url = c.settings.mqtt.url
        if not server_url:
            files.notes.append(f"centre.toml [mqtt] url is empty (embedded broker): set url = "
                               f"\"mqtt://127.0.0.1:{port}\" to use this Mosquitto, then restart the server")
        return files
