"""The centre directory: create it, enrol devices, add staff. The CLI is a thin layer over this.

A centre directory holds ``centre.toml``, ``centre.db`` (the registry of
devices and staff lives in the same database the server reads, so a revoked
token is refused at once) and ``devices/<id>.json`` bundles.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from centre_server import storage
from centre_server.auth import hash_password, new_password, new_token, token_hash
from centre_server.config import CONFIG_NAME, CentreSettings, load_settings, render_config
from centre_server.contract import DeviceBundle, Role
from centre_server.menu import builtin_menu, demo_counters

logger = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DEVICE_KINDS = ("kiosk", "display", "bridge")
DEMO_DEVICES = (("kiosk-1", "kiosk", []), ("kiosk-2", "kiosk", []), ("display-1", "display", []),
                ("bridge-1", "bridge", ["c01", "c02", "c03"]))
DEMO_STAFF = (("clerk", "clerk"), ("manager", "manager"), ("admin", "admin"))


class ProvisionError(Exception):
    """A technician's mistake, said plainly."""


def mosquitto_hash(password: str, iterations: int = 101) -> str:
    """A password hash in Mosquitto's own ``$7$`` format (PBKDF2-SHA512), for its password file."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def init_centre(directory: Path | str, *, demo: bool = False, centre_id: str = "demo",
                centre_name: str | None = None, mqtt_url: str = "", public_url: str = "http://127.0.0.1:8000",
                force: bool = False) -> dict[str, Any]:
    """Create a centre directory with the built-in menu and counters; with ``demo``, devices and staff too."""
    directory = Path(directory)
    if (directory / CONFIG_NAME).exists() and not force:
        raise ProvisionError(f"{directory} already holds a centre (use --force to start it again)")
    if not ID_PATTERN.match(centre_id):
        raise ProvisionError("centre id: lower-case letters, digits and '-' only, e.g. 'nairobi-gpo'")
    directory.mkdir(parents=True, exist_ok=True)
    if force:
        for name in ("centre.db", "centre.db-wal", "centre.db-shm"):
            (directory / name).unlink(missing_ok=True)
    name = centre_name or ("Huduma Centre GPO (demo)" if demo else "Huduma Centre")
    (directory / CONFIG_NAME).write_text(render_config(centre_id, name, demo=demo, mqtt_url=mqtt_url,
                                                       public_url=public_url))
    db = storage.connect(directory / storage_db_name())
    storage.save_menu(db, builtin_menu())
    storage.save_counters(db, demo_counters())
    storage.audit(db, "provision", "init", centre_id=centre_id, demo=demo)
    result: dict[str, Any] = {"directory": str(directory), "centre_id": centre_id, "centre_name": name,
                              "services": len(builtin_menu()), "counters": len(demo_counters())}
    if demo:
        creds: dict[str, Any] = {"staff": {}, "devices": {}}
        for username, role in DEMO_STAFF:
            creds["staff"][username] = {"role": role, "password": add_staff(directory, username, role)["password"]}
        for device_id, kind, counters in DEMO_DEVICES:
            bundle = add_device(directory, kind, device_id, counters=counters)
            creds["devices"][device_id] = {"kind": kind, "token": bundle["token"],
                                           "bundle": str(directory / "devices" / f"{device_id}.json")}
        path = directory / "demo-credentials.json"
        path.write_text(json.dumps(creds, indent=2))
        path.chmod(0o600)
        result["credentials"] = creds
    db.conn.close()
    return result


def storage_db_name() -> str:
    from centre_server.config import DB_NAME

    return DB_NAME


def _open(directory: Path | str) -> tuple[CentreSettings, Any]:
    settings = load_settings(directory)
    return settings, storage.connect(settings.db_path)


def _mqtt_url_for_devices(settings: CentreSettings) -> str:
    if settings.mqtt.url:
        return settings.mqtt.url
    host = settings.mqtt.embedded_host
    if host in ("0.0.0.0", "::", ""):
        host = urlparse(settings.public_url).hostname or "127.0.0.1"
    return f"mqtt://{host}:{settings.mqtt.embedded_port}"


def add_device(directory: Path | str, kind: str, device_id: str, *, counters: list[str] | None = None,
               note: str = "") -> dict[str, Any]:
    """Enrol a device: a fresh API token and MQTT password, stored hashed; returns its bundle."""
    if kind not in DEVICE_KINDS:
        raise ProvisionError(f"kind must be one of {', '.join(DEVICE_KINDS)}")
    if not ID_PATTERN.match(device_id):
        raise ProvisionError("device id: lower-case letters, digits, '-' and '_' only, e.g. 'kiosk-3'")
    settings, db = _open(directory)
    try:
        if db.execute("SELECT 1 FROM devices WHERE id=?", [device_id]).fetchone():
            raise ProvisionError(f"device {device_id} is already enrolled (rotate its credentials instead)")
        known = {r[0] for r in db.execute("SELECT id FROM counters")}
        unknown = [c for c in counters or [] if c not in known]
        if unknown:
            raise ProvisionError(f"no such counter: {', '.join(unknown)}")
        token, mqtt_password = new_token(), secrets.token_urlsafe(18)
        with db.conn:
            db.conn.execute(
                "INSERT INTO devices(id, kind, role, token_hash, mqtt_username, mqtt_password_hash, counters,"
                " created_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [device_id, kind, kind, token_hash(token), device_id, mosquitto_hash(mqtt_password),
                 json.dumps(counters or []), time.time(), note])
        storage.audit(db, "provision", "add-device", device_id=device_id, kind=kind, counters=counters or [])
        bundle = DeviceBundle(centre_id=settings.centre_id, centre_name=settings.centre_name,
                              device_id=device_id, kind=kind, role=Role(kind), token=token,
                              server_url=settings.public_url, mqtt_url=_mqtt_url_for_devices(settings),
                              mqtt_username=device_id, mqtt_password=mqtt_password,
                              counters=list(counters or []))
        data = bundle.model_dump(mode="json")
        out = Path(directory) / "devices"
        out.mkdir(exist_ok=True)
        path = out / f"{device_id}.json"
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
        return data
    finally:
        db.conn.close()


def add_staff(directory: Path | str, username: str, role: str, *, full_name: str = "",
              password: str | None = None) -> dict[str, Any]:
    """Add a member of staff with a generated password (stored as an argon2 hash)."""
    if role not in ("clerk", "manager", "admin"):
        raise ProvisionError("role must be clerk, manager or admin")
    if not ID_PATTERN.match(username):
        raise ProvisionError("username: lower-case letters, digits, '-' and '_' only")
    _, db = _open(directory)
    try:
        if db.execute("SELECT 1 FROM staff WHERE username=?", [username]).fetchone():
            raise ProvisionError(f"{username} already exists (use reset-password)")
        password = password or new_password()
        with db.conn:
            db.conn.execute("INSERT INTO staff(username, role, password_hash, full_name, disabled, failed_logins,"
                            " created_at) VALUES (?, ?, ?, ?, 0, 0, ?)",
                            [username, role, hash_password(password), full_name, time.time()])
        storage.audit(db, "provision", "add-staff", username=username, role=role)
        return {"username": username, "role": role, "password": password}
    finally:
        db.conn.close()
