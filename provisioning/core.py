"""The centre directory: create it, enrol devices, add staff, lock the broker down.

The CLI (provisioning/cli.py) is a thin layer over these functions. A centre
directory holds ``centre.toml``, ``centre.db`` (the registry of devices and
staff lives in the same database the server reads, so a revoked token is
refused at once) and ``devices/<id>.json`` bundles with their QR codes.

Every change is written to the audit table with the name of the person who ran
the tool. Menu and counter changes are read by the server when it starts:
restart it after editing them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import re
import secrets
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import sqlite_utils

from centre_server.config import CONFIG_NAME, CentreSettings, load_settings, render_config
from centre_server.contract import DeviceBundle, Role, Topics
from centre_server.menu import MenuError, builtin_menu, demo_counters, menu_csv, parse_menu
from centre_server.mqtt.access import (
    SERVER_ROLE,
    SERVER_USERNAME,
    acl_for,
    load_users,
    mosquitto_hash,
    verify_mosquitto_hash,
)
from centre_server.queue.engine import Counter, Service
from centre_server.store import database as storage
from centre_server.store.accounts import bump_access_epoch, hash_password, new_password, new_token, token_hash

logger = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DEVICE_KINDS = ("kiosk", "display", "bridge")
STAFF_ROLE_NAMES = ("clerk", "manager", "admin")
DEMO_DEVICES: tuple[tuple[str, str, list[str]], ...] = (
    ("kiosk-1", "kiosk", []), ("kiosk-2", "kiosk", []), ("display-1", "display", []),
    ("bridge-1", "bridge", ["c01", "c02", "c03"]))
DEMO_STAFF = (("clerk", "clerk"), ("manager", "manager"), ("admin", "admin"))
RESERVED_IDS = {SERVER_USERNAME}
BROKER_DIR_KEY = "broker_config_dir"
RESTART_NOTE = "the centre server reads this when it starts: restart it to apply (systemctl restart huduma-centre)"

class ProvisionError(Exception):
    """A technician's mistake, said plainly."""


def _actor() -> str:
    """Who ran the tool, for the audit log."""
    try:
        return f"provision:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "provision"


# --------------------------------------------------------------------------
# Opening a centre
# --------------------------------------------------------------------------


def storage_db_name() -> str:
    from centre_server.config import DB_NAME

    return DB_NAME


def _open(directory: Path | str) -> tuple[CentreSettings, sqlite_utils.Database]:
    settings = load_settings(directory)
    if not settings.db_path.is_file():
        raise ProvisionError(f"{settings.db_path} not found: create the centre with `huduma-provision init`")
    return settings, storage.connect(settings.db_path)


class _Centre:
    """An open centre directory: settings and database, closed on exit."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.settings, self.db = _open(directory)

    def __enter__(self) -> _Centre:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.conn.close()

    def audit(self, action: str, **detail: Any) -> None:
        storage.audit(self.db, _actor(), action, **detail)


def _set_toml_values(path: Path, section: str, values: dict[str, str]) -> None:
    """Set string keys of one ``[section]`` in a toml file, keeping its comments and layout."""
    lines = path.read_text().splitlines()
    current, done = "", set()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if current == section:
                break
            current = stripped[1:-1].strip()
            continue
        if current != section:
            continue
        m = re.match(r"^(\s*)([A-Za-z0-9_]+)(\s*=\s*)(\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S+)(.*)$", line)
        if m and m.group(2) in values:
            lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{json.dumps(values[m.group(2)])}{m.group(5)}"
            done.add(m.group(2))
    missing = [k for k in values if k not in done]
    if missing:
        out, inserted, current = [], False, ""
        for line in lines:
            out.append(line)
            stripped = line.strip()
            if stripped == f"[{section}]" and not inserted:
                out.extend(f"{k} = {json.dumps(values[k])}" for k in missing)
                inserted = True
        if not inserted:
            out += ["", f"[{section}]", *(f"{k} = {json.dumps(values[k])}" for k in missing)]
        lines = out
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it now holds the server's broker password


def _ensure_server_user(directory: Path, db: sqlite_utils.Database, settings: CentreSettings,
                        *, rotate: bool = False) -> str:
    """The server's own broker user, in the registry (role ``server``) and in centre.toml [mqtt]."""
    row = db.execute("SELECT mqtt_password_hash FROM devices WHERE id=?", [SERVER_USERNAME]).fetchone()
    username, password = settings.mqtt.username, settings.mqtt.password
    if (not rotate and row and username == SERVER_USERNAME and password
            and verify_mosquitto_hash(row[0], password)):
        return username
    password = secrets.token_urlsafe(24)
    with db.conn:
        db.conn.execute("DELETE FROM devices WHERE id=?", [SERVER_USERNAME])
        # The server has no API token: a token hash that no SHA-256 hex digest can equal.
        db.conn.execute(
            "INSERT INTO devices(id, kind, role, token_hash, mqtt_username, mqtt_password_hash, counters,"
            " created_at, note) VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?)",
            [SERVER_USERNAME, SERVER_ROLE, SERVER_ROLE, f"no-api-token:{secrets.token_hex(16)}",
             SERVER_USERNAME, mosquitto_hash(password), time.time(), "the centre server's own broker user"])
    _set_toml_values(directory / CONFIG_NAME, "mqtt", {"username": SERVER_USERNAME, "password": password})
    storage.audit(db, _actor(), "server-broker-user", rotated=bool(row))
    return SERVER_USERNAME


def init_centre(directory: Path | str, *, demo: bool = False, centre_id: str = "demo",
                centre_name: str | None = None, mqtt_url: str = "", public_url: str = "http://127.0.0.1:8000",
                force: bool = False) -> dict[str, Any]:
    """Create a centre directory with the built-in menu and counters; with ``demo``, devices and staff too."""
    directory = Path(directory)
    if (directory / CONFIG_NAME).exists() and not force:
        raise ProvisionError(f"{directory} already holds a centre (use --force to start it again)")
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,39}$", centre_id):
        raise ProvisionError("centre id: lower-case letters, digits and '-' only, e.g. 'nairobi-gpo'")
    if mqtt_url and not re.match(r"^mqtts?://[^/\s]+$", mqtt_url):
        raise ProvisionError(f"MQTT URL {mqtt_url!r}: write it as mqtt://host:port")
    if not re.match(r"^https?://[^/\s]+", public_url):
        raise ProvisionError(f"public URL {public_url!r}: write it as http://192.168.1.10:8000")
    directory.mkdir(parents=True, exist_ok=True)
    if force:
        for name in ("centre.db", "centre.db-wal", "centre.db-shm"):
            (directory / name).unlink(missing_ok=True)
        for old in (directory / "devices").glob("*.*") if (directory / "devices").is_dir() else []:
            old.unlink()
    name = centre_name or ("Huduma Centre GPO (demo)" if demo else "Huduma Centre")
    if '"' in name or "\\" in name:
        raise ProvisionError("centre name: no quotes or backslashes")
    config = directory / CONFIG_NAME
    config.write_text(render_config(centre_id, name, demo=demo, mqtt_url=mqtt_url, public_url=public_url))
    config.chmod(0o600)
    db = storage.connect(directory / storage_db_name())
    try:
        storage.save_menu(db, builtin_menu())
        storage.save_counters(db, demo_counters())
        storage.audit(db, _actor(), "init", centre_id=centre_id, demo=demo)
        _ensure_server_user(directory, db, load_settings(directory))
    finally:
        db.conn.close()
    result: dict[str, Any] = {"directory": str(directory), "centre_id": centre_id, "centre_name": name,
                              "services": len(builtin_menu()), "counters": len(demo_counters())}
    if demo:
        creds: dict[str, Any] = {"staff": {}, "devices": {}}
        for username, role in DEMO_STAFF:
            creds["staff"][username] = {"role": role, "password": add_staff(directory, username, role)["password"]}
        for device_id, kind, counters in DEMO_DEVICES:
            bundle = add_device(directory, kind, device_id, counters=counters, qr=False)  # `bundle` draws QRs
            creds["devices"][device_id] = {"kind": kind, "token": bundle["token"],
                                           "bundle": str(directory / "devices" / f"{device_id}.json")}
            if kind == "kiosk":
                creds["devices"][device_id]["staff_pin"] = bundle["kiosk"]["staff_pin"]
        path = directory / "demo-credentials.json"
        path.write_text(json.dumps(creds, indent=2))
        path.chmod(0o600)
        result["credentials"] = creds
    return result


def _loopback(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback or ip_address(host).is_unspecified
    except ValueError:
        return False


def _mqtt_url_for_devices(settings: CentreSettings) -> str:
    """The broker as devices on the LAN reach it: never 127.0.0.1 when the server has a LAN address."""
    lan_host = urlparse(settings.public_url).hostname or "127.0.0.1"
    if settings.mqtt.url:
        parsed = urlparse(settings.mqtt.url)
        if _loopback(parsed.hostname) and not _loopback(lan_host):
            return f"{parsed.scheme}://{lan_host}:{parsed.port or 1883}"
        return settings.mqtt.url
    host = settings.mqtt.embedded_host
    if _loopback(host):
        host = lan_host
    return f"mqtt://{host}:{settings.mqtt.embedded_port}"


def show_centre(directory: Path | str, audit_entries: int = 10) -> dict[str, Any]:
    """What a technician checks first: identity, addresses, menu, counters, devices, staff, recent changes."""
    with _Centre(directory) as c:
        s, db = c.settings, c.db
        devices = list(db.query("SELECT id, kind, revoked_at FROM devices WHERE role != ?", [SERVER_ROLE]))
        staff = list(db.query("SELECT role, disabled FROM staff"))
        return {
            "centre_id": s.centre_id, "centre_name": s.centre_name, "directory": str(c.directory),
            "public_url": s.public_url, "timezone": s.timezone, "demo": s.demo,
            "mqtt_url_server": s.mqtt.url or f"embedded on {s.mqtt.embedded_host}:{s.mqtt.embedded_port}",
            "mqtt_url_devices": _mqtt_url_for_devices(s), "mqtt_username": s.mqtt.username,
            "services": db.execute("SELECT COUNT(*) FROM services").fetchone()[0],
            "services_enabled": db.execute("SELECT COUNT(*) FROM services WHERE enabled=1").fetchone()[0],
            "counters": db.execute("SELECT COUNT(*) FROM counters").fetchone()[0],
            "devices": {k: sum(1 for d in devices if d["kind"] == k and d["revoked_at"] is None)
                        for k in DEVICE_KINDS},
            "devices_revoked": sum(1 for d in devices if d["revoked_at"] is not None),
            "staff": {r: sum(1 for m in staff if m["role"] == r and not m["disabled"]) for r in STAFF_ROLE_NAMES},
            "staff_disabled": sum(1 for m in staff if m["disabled"]),
            "broker_config_dir": storage.get_meta(db, BROKER_DIR_KEY) or None,
            "recent_changes": _audit_rows(db, audit_entries),
        }


def _audit_rows(db: sqlite_utils.Database, limit: int, action: str | None = None) -> list[dict[str, Any]]:
    where, args = ("WHERE action=?", [action]) if action else ("", [])
    rows = db.query(f"SELECT id, at, actor, action, detail FROM audit {where} ORDER BY id DESC LIMIT ?",
                    [*args, limit])
    return [{"id": r["id"], "at": dt.datetime.fromtimestamp(r["at"], dt.UTC).isoformat(timespec="seconds"),
             "actor": r["actor"], "action": r["action"], "detail": json.loads(r["detail"] or "{}")} for r in rows]


def audit_log(directory: Path | str, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    """The newest audit entries first: every provisioning, staff and device change."""
    with _Centre(directory) as c:
        return _audit_rows(c.db, limit, action)


# --------------------------------------------------------------------------
# Services (the menu)
# --------------------------------------------------------------------------


def _services(db: sqlite_utils.Database) -> list[Service]:
    return [storage.service_from_row(r) for r in db.query("SELECT * FROM services ORDER BY position, id")]


def list_services(directory: Path | str) -> list[dict[str, Any]]:
    with _Centre(directory) as c:
        return [{"id": s.id, "prefix": s.prefix, "name_en": s.name_en, "name_sw": s.name_sw,
                 "category": s.category, "target_wait_min": round(s.target_wait_s / 60, 2),
                 "service_time_min": round(s.service_time_s / 60, 2), "enabled": s.enabled}
                for s in _services(c.db)]


def _known_services(db: sqlite_utils.Database, ids: list[str]) -> None:
    known = {r[0] for r in db.execute("SELECT id FROM services")}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ProvisionError(f"no such service: {', '.join(unknown)} (see `huduma-provision services list`)")


def set_services_enabled(directory: Path | str, service_ids: list[str], enabled: bool) -> list[str]:
    """Offer services at the kiosks again, or stop offering them (tickets already issued stay)."""
    if not service_ids:
        raise ProvisionError("name at least one service")
    with _Centre(directory) as c:
        _known_services(c.db, service_ids)
        with c.db.conn:
            c.db.conn.executemany("UPDATE services SET enabled=? WHERE id=?", [(int(enabled), i) for i in service_ids])
        c.audit("enable-services" if enabled else "disable-services", services=service_ids)
        return service_ids


def edit_service(directory: Path | str, service_id: str, *, target_wait_min: float | None = None,
                 service_time_min: float | None = None, name_en: str | None = None, name_sw: str | None = None,
                 prefix: str | None = None) -> dict[str, Any]:
    """Change a service's target wait (its service level), typical service time, names or prefix."""
    changes: dict[str, Any] = {}
    if target_wait_min is not None:
        if not 1 <= target_wait_min <= 600:
            raise ProvisionError("target wait: between 1 and 600 minutes")
        changes["target_wait_s"] = int(target_wait_min * 60)
    if service_time_min is not None:
        if not 0.5 <= service_time_min <= 240:
            raise ProvisionError("service time: between 0.5 and 240 minutes")
        changes["service_time_s"] = float(service_time_min * 60)
    for key, value in (("name_en", name_en), ("name_sw", name_sw)):
        if value is not None:
            if not value.strip():
                raise ProvisionError(f"{key}: may not be empty")
            changes[key] = value.strip()
    if prefix is not None:
        prefix = prefix.strip().upper()
        if not (1 <= len(prefix) <= 2 and prefix.isalpha()):
            raise ProvisionError("prefix: one or two letters, e.g. B or BC")
        changes["prefix"] = prefix
    if not changes:
        raise ProvisionError("nothing to change: give --target-min, --service-min, --name-en, --name-sw or --prefix")
    with _Centre(directory) as c:
        _known_services(c.db, [service_id])
        if "prefix" in changes and c.db.execute("SELECT id FROM services WHERE prefix=? AND id!=?",
                                                [changes["prefix"], service_id]).fetchone():
            raise ProvisionError(f"prefix {changes['prefix']} is already used by another service")
        c.db.table("services").update(service_id, changes)
        c.audit("edit-service", service_id=service_id, **changes)
    return {"id": service_id, **changes}


def export_menu(directory: Path | str) -> str:
    """The menu as CSV (the same columns ``import_menu`` reads), for editing in a spreadsheet."""
    with _Centre(directory) as c:
        return menu_csv(_services(c.db))


def import_menu(directory: Path | str, text: str) -> dict[str, Any]:
    """Replace the menu from CSV: new services are added, listed ones updated, missing ones disabled.

    Services are never deleted: the day's tickets and old reports name them.
    """
    try:
        services = parse_menu(text)
    except MenuError as err:
        raise ProvisionError(f"menu not imported: {err}") from None
    if not services:
        raise ProvisionError("menu not imported: the file lists no services")
    with _Centre(directory) as c:
        old = {s.id: s for s in _services(c.db)}
        new_ids = {s.id for s in services}
        missing = [sid for sid in old if sid not in new_ids]
        taken = {old[sid].prefix: sid for sid in missing}
        clash = [s.id for s in services if s.prefix in taken]
        if clash:
            raise ProvisionError(f"menu not imported: prefix of {', '.join(clash)} belongs to a service the file "
                                 "leaves out (it stays, disabled); choose another prefix")
        with c.db.conn:
            storage.save_menu(c.db, services)
            for j, sid in enumerate(missing):
                c.db.conn.execute("UPDATE services SET enabled=0, position=? WHERE id=?", [len(services) + j, sid])
        added = [s.id for s in services if s.id not in old]
        c.audit("import-menu", added=added, updated=len(services) - len(added), disabled=missing)
        return {"added": added, "updated": len(services) - len(added), "disabled": missing}


# --------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------


def _counter_row(db: sqlite_utils.Database, counter_id: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM counters WHERE id=?", [counter_id]), None)
    if row is None:
        raise ProvisionError(f"no such counter: {counter_id} (see `huduma-provision counters list`)")
    return row


def list_counters(directory: Path | str) -> list[dict[str, Any]]:
    with _Centre(directory) as c:
        bridges = _bridges_by_counter(c.db)
        return [{"id": r["id"], "name": r["name"], "state": r["state"],
                 "services": json.loads(r["services"] or "[]"), "bridges": bridges.get(r["id"], [])}
                for r in c.db.query("SELECT * FROM counters ORDER BY position, id")]


def _bridges_by_counter(db: sqlite_utils.Database) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in db.query("SELECT id, counters FROM devices WHERE kind='bridge' AND revoked_at IS NULL"):
        for cid in json.loads(r["counters"] or "[]"):
            out.setdefault(cid, []).append(r["id"])
    return out


def _split(ids: Sequence[str] | str) -> list[str]:
    if isinstance(ids, str):
        ids = ids.split(",")
    return [i.strip() for i in ids if i.strip()]


def add_counter(directory: Path | str, counter_id: str, *, name: str | None = None,
                services: Sequence[str] | str = ()) -> dict[str, Any]:
    """Add a counter (closed) serving ``services`` in order of skill."""
    if not ID_PATTERN.match(counter_id):
        raise ProvisionError("counter id: lower-case letters, digits, '-' and '_' only, e.g. c31")
    services = _split(services)
    with _Centre(directory) as c:
        if c.db.execute("SELECT 1 FROM counters WHERE id=?", [counter_id]).fetchone():
            raise ProvisionError(f"counter {counter_id} already exists (use `counters assign` to change it)")
        _known_services(c.db, services)
        name = (name or counter_id.lstrip("c").lstrip("0") or counter_id).strip()
        position = c.db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM counters").fetchone()[0]
        c.db.conn.execute(
            f"INSERT INTO counters ({', '.join(storage.COUNTER_COLS)}) VALUES "
            f"({', '.join('?' * len(storage.COUNTER_COLS))})",
            storage.counter_row(Counter(id=counter_id, name=name, services=services), position))
        c.audit("add-counter", counter_id=counter_id, name=name, services=services)
    return {"id": counter_id, "name": name, "services": services}


def remove_counter(directory: Path | str, counter_id: str) -> str:
    """Remove a closed counter no bridge drives."""
    with _Centre(directory) as c:
        row = _counter_row(c.db, counter_id)
        if row["state"] != "closed" or row["ticket_id"]:
            raise ProvisionError(f"counter {counter_id} is {row['state']}: close it at the clerk terminal first")
        bridges = _bridges_by_counter(c.db).get(counter_id, [])
        if bridges:
            raise ProvisionError(f"counter {counter_id} is driven by {', '.join(bridges)}: "
                                 "rotate that bridge with other --counters first")
        c.db.conn.execute("DELETE FROM counters WHERE id=?", [counter_id])
        c.audit("remove-counter", counter_id=counter_id)
    return counter_id


def assign_services(directory: Path | str, counter_id: str, services: list[str] | str,
                    name: str | None = None) -> dict[str, Any]:
    """Set the services a counter serves, in order of skill (and optionally its name)."""
    services = _split(services)
    if not services:
        raise ProvisionError("name at least one service, e.g. --services birth-cert,death-cert")
    with _Centre(directory) as c:
        _counter_row(c.db, counter_id)
        _known_services(c.db, services)
        changes: dict[str, Any] = {"services": json.dumps(services)}
        if name:
            changes["name"] = name.strip()
        c.db.table("counters").update(counter_id, changes)
        c.audit("assign-services", counter_id=counter_id, services=services, name=name)
    return {"id": counter_id, "services": services, **({"name": name} if name else {})}


# --------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------


def _device_row(db: sqlite_utils.Database, device_id: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM devices WHERE id=?", [device_id]), None)
    if row is None:
        raise ProvisionError(f"no such device: {device_id} (see `huduma-provision list-devices`)")
    return row


def _check_counters(db: sqlite_utils.Database, kind: str, counters: list[str]) -> None:
    if counters and kind != "bridge":
        raise ProvisionError("only a bridge drives counters: leave out --counters")
    known = {r[0] for r in db.execute("SELECT id FROM counters")}
    unknown = [c for c in counters if c not in known]
    if unknown:
        raise ProvisionError(f"no such counter: {', '.join(unknown)}")


def _bundle(settings: CentreSettings, device_id: str, kind: str, token: str, mqtt_password: str,
            counters: list[str]) -> dict[str, Any]:
    bundle = DeviceBundle(centre_id=settings.centre_id, centre_name=settings.centre_name,
                          device_id=device_id, kind=kind, role=Role(kind), token=token,
                          server_url=settings.public_url, mqtt_url=_mqtt_url_for_devices(settings),
                          mqtt_username=device_id, mqtt_password=mqtt_password, counters=list(counters))
    return bundle.model_dump(mode="json")


def new_staff_pin(digits: int = 6) -> str:
    """A random staff PIN for a kiosk's reprint screen; never one repeated digit (0000, 1111...)."""
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(digits))
        if len(set(pin)) > 1:
            return pin


def _with_kiosk_pin(directory: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A kiosk's bundle carries its staff PIN (``kiosk.staff_pin``): the one written at enrolment
    (kept through rotations and rebuilt bundles), or a new random one. Never a shared default."""
    if data.get("kind") != "kiosk":
        return data
    section: dict[str, Any] = {}
    saved = Path(directory) / "devices" / f"{data['device_id']}.json"
    if saved.is_file():
        try:
            old = json.loads(saved.read_text()).get("kiosk")
            if isinstance(old, dict):
                section = dict(old)
        except (ValueError, AttributeError):
            section = {}
    pin = str(section.get("staff_pin") or "")
    if not (pin.isdigit() and 4 <= len(pin) <= 12 and len(set(pin)) > 1):
        section["staff_pin"] = new_staff_pin()
    data["kiosk"] = section
    return data


def _write_bundle(directory: Path, data: dict[str, Any], out: Path | None = None,
                  qr: bool = True) -> dict[str, Path]:
    """The bundle as ``<id>.json`` (mode 0600) and as a scannable ``<id>.png`` QR code."""
    folder = Path(out) if out else directory / "devices"
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{data['device_id']}.json"
    json_path.write_text(json.dumps(data, indent=2))
    json_path.chmod(0o600)
    png_path = folder / f"{data['device_id']}.png"
    if not qr:
        return {"json": json_path}
    bundle_qr(data).save(png_path)
    png_path.chmod(0o600)
    return {"json": json_path, "png": png_path}


def bundle_qr(data: dict[str, Any]) -> Any:
    """A QR code of the bundle's compact JSON with a bilingual label a technician can stick on the device."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(json.dumps(data, separators=(",", ":")))
    qr.make(fit=True)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    lines = [
        (f"{data['device_id']}  ·  {data['kind']}", 26),
        (data.get("centre_name", ""), 18),
        (f"{data['server_url']}  ·  {data['mqtt_url']}", 15),
        ("Contains this device's password: keep it safe.", 15),
        ("Ina nenosiri la kifaa hiki: kihifadhi salama.", 15),
    ]
    pad, gap = 16, 6
    fonts = [ImageFont.load_default(size) for _, size in lines]
    height = code.height + pad + sum(size + gap for _, size in lines) + pad
    width = max(code.width, 560)
    img = Image.new("RGB", (width, height), "white")
    img.paste(code, ((width - code.width) // 2, 0))
    draw = ImageDraw.Draw(img)
    y = code.height
    for (text, size), font in zip(lines, fonts):
        w = draw.textlength(text, font=font)
        draw.text(((width - w) / 2, y), text, fill="black", font=font)
        y += size + gap
    return img


def add_device(directory: Path | str, kind: str, device_id: str, *, counters: list[str] | None = None,
               note: str = "", reload_pid: int | None = None, qr: bool = True) -> dict[str, Any]:
    """Enrol a device: a fresh API token and MQTT password, stored hashed; writes and returns its bundle.

    The bundle is written as DIR/devices/<id>.json and, with ``qr``, as a QR code PNG beside it.
    """
    if kind not in DEVICE_KINDS:
        raise ProvisionError(f"kind must be one of {', '.join(DEVICE_KINDS)}")
    if not ID_PATTERN.match(device_id):
        raise ProvisionError("device id: lower-case letters, digits, '-' and '_' only, e.g. 'kiosk-3'")
    if device_id in RESERVED_IDS:
        raise ProvisionError(f"{device_id} is the server's own broker user: choose another id")
    counters = _split(counters or [])
    with _Centre(directory) as c:
        row = c.db.execute("SELECT revoked_at FROM devices WHERE id=?", [device_id]).fetchone()
        if row:
            hint = "rotate-device --reinstate" if row[0] else "rotate-device or bundle"
            raise ProvisionError(f"device {device_id} is already enrolled (use {hint})")
        if kind == "bridge" and not counters:
            raise ProvisionError("a bridge needs the counters it drives, e.g. --counters c01,c02")
        _check_counters(c.db, kind, counters)
        token, mqtt_password = new_token(), secrets.token_urlsafe(18)
        with c.db.conn:
            c.db.conn.execute(
                "INSERT INTO devices(id, kind, role, token_hash, mqtt_username, mqtt_password_hash, counters,"
                " created_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [device_id, kind, kind, token_hash(token), device_id, mosquitto_hash(mqtt_password),
                 json.dumps(counters), time.time(), note])
        c.audit("add-device", device_id=device_id, kind=kind, counters=counters)
        # a stale copy's PIN is not this kiosk's
        (c.directory / "devices" / f"{device_id}.json").unlink(missing_ok=True)
        data = _with_kiosk_pin(c.directory, _bundle(c.settings, device_id, kind, token, mqtt_password, counters))
        _write_bundle(c.directory, data, qr=qr)
        _after_registry_change(c, reload_pid)
        return data


def list_devices(directory: Path | str, *, include_revoked: bool = True) -> list[dict[str, Any]]:
    """Every broker user: devices and the server's own, with their state."""
    with _Centre(directory) as c:
        rows = c.db.query("SELECT * FROM devices ORDER BY kind, id")
        out = []
        for r in rows:
            if r["revoked_at"] is not None and not include_revoked:
                continue
            out.append({"id": r["id"], "kind": r["kind"], "role": r["role"],
                        "counters": json.loads(r["counters"] or "[]"),
                        "state": "revoked" if r["revoked_at"] is not None else "active",
                        "created_at": dt.datetime.fromtimestamp(r["created_at"], dt.UTC).isoformat(
                            timespec="seconds") if r["created_at"] else None,
                        "revoked_at": dt.datetime.fromtimestamp(r["revoked_at"], dt.UTC).isoformat(
                            timespec="seconds") if r["revoked_at"] else None,
                        "note": r["note"] or "",
                        "bundle": str(c.directory / "devices" / f"{r['id']}.json")
                        if (c.directory / "devices" / f"{r['id']}.json").is_file() else None})
        return out


def revoke_device(directory: Path | str, device_id: str, *, reason: str = "",
                  reload_pid: int | None = None) -> dict[str, Any]:
    """Refuse a device from now on: its API token at once, its broker login after the broker reloads."""
    with _Centre(directory) as c:
        row = _device_row(c.db, device_id)
        if row["role"] == SERVER_ROLE:
            raise ProvisionError("the server's own broker user cannot be revoked (rotate it instead)")
        if row["revoked_at"] is not None:
            raise ProvisionError(f"device {device_id} is already revoked")
        note = (row["note"] or "") + (f" | revoked: {reason}" if reason else "")
        with c.db.conn:
            c.db.conn.execute("UPDATE devices SET revoked_at=?, note=? WHERE id=?", [time.time(), note, device_id])
        for suffix in (".json", ".png"):
            (c.directory / "devices" / f"{device_id}{suffix}").unlink(missing_ok=True)
        c.audit("revoke-device", device_id=device_id, reason=reason)
        return {"device_id": device_id, "revoked": True, **_after_registry_change(c, reload_pid)}


def rotate_device(directory: Path | str, device_id: str, *, reinstate: bool = False,
                  counters: list[str] | str | None = None, out: Path | None = None,
                  reload_pid: int | None = None) -> dict[str, Any]:
    """New token and broker password for a device (the old ones stop working); writes its new bundle."""
    with _Centre(directory) as c:
        row = _device_row(c.db, device_id)
        if row["role"] == SERVER_ROLE:
            _ensure_server_user(c.directory, c.db, c.settings, rotate=True)
            return {"device_id": device_id, "server": True,
                    "note": "the server's broker password changed in centre.toml: restart the centre server",
                    **_after_registry_change(c, reload_pid)}
        if row["revoked_at"] is not None and not reinstate:
            raise ProvisionError(f"device {device_id} is revoked: add --reinstate to enrol it again")
        new_counters = json.loads(row["counters"] or "[]") if counters is None else _split(counters)
        _check_counters(c.db, row["kind"], new_counters)
        if row["kind"] == "bridge" and not new_counters:
            raise ProvisionError("a bridge needs the counters it drives, e.g. --counters c01,c02")
        token, mqtt_password = new_token(), secrets.token_urlsafe(18)
        with c.db.conn:
            c.db.conn.execute("UPDATE devices SET token_hash=?, mqtt_password_hash=?, counters=?, revoked_at=NULL "
                              "WHERE id=?", [token_hash(token), mosquitto_hash(mqtt_password),
                                             json.dumps(new_counters), device_id])
        c.audit("rotate-device", device_id=device_id, reinstated=row["revoked_at"] is not None,
                counters=new_counters)
        data = _with_kiosk_pin(c.directory, _bundle(c.settings, device_id, row["kind"], token, mqtt_password,
                                                    new_counters))
        paths = _write_bundle(c.directory, data)
        if out:
            paths = _write_bundle(c.directory, data, out)
        return {**data, "files": {k: str(v) for k, v in paths.items()}, **_after_registry_change(c, reload_pid)}


def device_bundle(directory: Path | str, device_id: str, *, out: Path | None = None,
                  rotate: bool = False, reload_pid: int | None = None) -> dict[str, Any]:
    """Write a device's bundle (JSON and QR PNG) to ``out``.

    Tokens are stored hashed, so a bundle can only be rebuilt from the copy
    written at enrolment. If that copy is gone or no longer valid (or
    ``rotate``), the device gets new credentials and its old ones stop working.
    """
    directory = Path(directory)
    with _Centre(directory) as c:
        row = _device_row(c.db, device_id)
        if row["role"] == SERVER_ROLE:
            raise ProvisionError("the server has no bundle: its broker credentials are in centre.toml")
        if row["revoked_at"] is not None:
            raise ProvisionError(f"device {device_id} is revoked: `rotate-device {device_id} --reinstate` first")
        saved = directory / "devices" / f"{device_id}.json"
        data: dict[str, Any] | None = None
        if saved.is_file() and not rotate:
            try:
                old = json.loads(saved.read_text())
                if (token_hash(old.get("token", "")) == row["token_hash"]
                        and verify_mosquitto_hash(row["mqtt_password_hash"], old.get("mqtt_password"))):
                    data = _with_kiosk_pin(directory, _bundle(c.settings, device_id, row["kind"], old["token"],
                                                              old["mqtt_password"],
                                                              json.loads(row["counters"] or "[]")))
            except (ValueError, AttributeError):
                data = None
        if data is not None:
            paths = _write_bundle(directory, data)
            if out:
                paths = _write_bundle(directory, data, out)
            c.audit("bundle", device_id=device_id, rotated=False)
            return {**data, "rotated": False, "files": {k: str(v) for k, v in paths.items()}}
    result = rotate_device(directory, device_id, out=out, reload_pid=reload_pid)
    with _Centre(directory) as c:
        c.audit("bundle", device_id=device_id, rotated=True)
    return {**result, "rotated": True}


# --------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------


def add_staff(directory: Path | str, username: str, role: str, *, full_name: str = "",
              password: str | None = None) -> dict[str, Any]:
    """Add a member of staff with a generated password (stored as an argon2 hash)."""
    if role not in STAFF_ROLE_NAMES:
        raise ProvisionError("role must be clerk, manager or admin")
    if not ID_PATTERN.match(username):
        raise ProvisionError("username: lower-case letters, digits, '-' and '_' only")
    if password is not None and len(password) < 8:
        raise ProvisionError("password: at least 8 characters")
    with _Centre(directory) as c:
        if c.db.execute("SELECT 1 FROM staff WHERE username=?", [username]).fetchone():
            raise ProvisionError(f"{username} already exists (use reset-password)")
        password = password or new_password()
        with c.db.conn:
            c.db.conn.execute("INSERT INTO staff(username, role, password_hash, full_name, disabled, failed_logins,"
                              " created_at) VALUES (?, ?, ?, ?, 0, 0, ?)",
                              [username, role, hash_password(password), full_name, time.time()])
        c.audit("add-staff", username=username, role=role)
        return {"username": username, "role": role, "password": password}


def _staff_row(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    row = next(db.query("SELECT * FROM staff WHERE username=?", [username]), None)
    if row is None:
        raise ProvisionError(f"no such member of staff: {username}")
    return row


def list_staff(directory: Path | str) -> list[dict[str, Any]]:
    with _Centre(directory) as c:
        return [{"username": r["username"], "role": r["role"], "full_name": r["full_name"] or "",
                 "disabled": bool(r["disabled"]),
                 "locked": bool(r["locked_until"] and r["locked_until"] > time.time())}
                for r in c.db.query("SELECT * FROM staff ORDER BY role, username")]


def reset_password(directory: Path | str, username: str, *, password: str | None = None) -> dict[str, Any]:
    """A new password (generated unless given); ends the person's sessions and lifts a lock-out."""
    if password is not None and len(password) < 8:
        raise ProvisionError("password: at least 8 characters")
    with _Centre(directory) as c:
        row = _staff_row(c.db, username)
        password = password or new_password()
        with c.db.conn:
            c.db.conn.execute("UPDATE staff SET password_hash=?, failed_logins=0, locked_until=NULL WHERE username=?",
                              [hash_password(password), username])
            c.db.conn.execute("DELETE FROM sessions WHERE username=?", [username])
        bump_access_epoch(c.directory)  # a running server forgets the sessions it remembered
        c.audit("reset-password", username=username)
        return {"username": username, "role": row["role"], "password": password}


def set_staff_disabled(directory: Path | str, username: str, disabled: bool = True) -> dict[str, Any]:
    """Disable a member of staff (their sessions end at once) or enable them again."""
    with _Centre(directory) as c:
        row = _staff_row(c.db, username)
        with c.db.conn:
            c.db.conn.execute("UPDATE staff SET disabled=? WHERE username=?", [int(disabled), username])
            if disabled:
                c.db.conn.execute("DELETE FROM sessions WHERE username=?", [username])
        bump_access_epoch(c.directory)  # a running server forgets the sessions it remembered
        c.audit("disable-staff" if disabled else "enable-staff", username=username)
        return {"username": username, "role": row["role"], "disabled": disabled}


# --------------------------------------------------------------------------
# Mosquitto
# --------------------------------------------------------------------------


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


def _registry_users(db: sqlite_utils.Database) -> list[Any]:
    return list(load_users(db.conn).values())


def _write_broker_files(c: _Centre, out: Path) -> tuple[Path, Path, int]:
    users = _registry_users(c.db)
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


def _after_registry_change(c: _Centre, reload_pid: int | None = None) -> dict[str, Any]:
    """Tell a running server (its token cache), rewrite the broker files where broker-config put
    them, and have Mosquitto reload them."""
    bump_access_epoch(c.directory)
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
    with _Centre(directory) as c:
        out.mkdir(parents=True, exist_ok=True)
        (out / "data").mkdir(exist_ok=True)
        _ensure_server_user(c.directory, c.db, c.settings)
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
