"""Creating a centre directory, and what a technician checks first: the summary and the audit log.

A centre directory holds ``centre.toml``, ``centre.db`` (the registry of devices
and staff lives in the same database the server reads, so a revoked token is
refused at once) and ``devices/<id>.json`` bundles with their QR codes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.config import CONFIG_NAME, DB_NAME, PlaceSettings, load_settings, render_config
from centre_server.contract import DEMO_HQ_URL, demo_hq_token
from centre_server.menu import builtin_menu, demo_counters
from centre_server.mqtt.access import SERVER_ROLE
from centre_server.store import accounts, admin, database as storage
from provisioning.broker import BROKER_DIR_KEY, ensure_server_user
from provisioning.bundles import mqtt_url_for_devices
from provisioning.devices import DEVICE_KINDS, add_device
from provisioning.directory import CentreDirectory, ProvisionError, actor
from provisioning.staff import STAFF_ROLE_NAMES, add_staff

logger = logging.getLogger(__name__)

DEMO_DEVICES: tuple[tuple[str, str, list[str]], ...] = (
    ("kiosk-1", "kiosk", []), ("kiosk-2", "kiosk", []), ("display-1", "display", []),
    ("bridge-1", "bridge", ["c01", "c02", "c03"]))
DEMO_STAFF = (("clerk", "clerk"), ("manager", "manager"), ("admin", "admin"))


DEMO_PLACE = PlaceSettings(county="Nairobi", town="Nairobi", latitude=-1.2864, longitude=36.8172)  # the GPO


def _place(county: str, town: str, location: str, first_demo: bool) -> PlaceSettings:
    """Where the centre is ([place] in centre.toml): what headquarters' public wait page shows."""
    for what, text in (("county", county), ("town", town)):
        if '"' in text or "\\" in text or any(ord(ch) < 32 for ch in text) or len(text) > 40:
            raise ProvisionError(f"{what}: at most 40 characters, no quotes or backslashes")
    lat = lon = None
    if location:
        try:
            lat, lon = (float(x) for x in location.split(","))
        except ValueError:
            raise ProvisionError(f"location {location!r}: write it as LAT,LON in decimal degrees, "
                                 f"e.g. -0.2833,36.0667") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ProvisionError("location: latitude between -90 and 90, longitude between -180 and 180")
    if not county and first_demo:
        return DEMO_PLACE
    if location and not county:
        raise ProvisionError("give the centre's --county with its --location")
    return PlaceSettings(county=county.strip(), town=town.strip(), latitude=lat, longitude=lon)


def init_centre(directory: Path | str, *, demo: bool = False, centre_id: str = "demo",
                centre_name: str | None = None, mqtt_url: str = "", public_url: str = "http://127.0.0.1:8000",
                force: bool = False, county: str = "", town: str = "", location: str = "",
                mqtt_port: int = 1883, short_targets: bool = False, demo_hq: bool = False) -> dict[str, Any]:
    """Create a centre directory with the built-in menu and counters; with ``demo``, devices and staff too
    (and with ``short_targets``, a demonstration's 2-minute targets and a breach SMS 30 s over them).

    ``demo_hq`` points it at ``huduma-hq --demo`` on this machine (http://127.0.0.1:8100, the public demo
    token). Only then: a demo centre made by a test or a bench must never report to a headquarters
    someone else runs (it would take their figures as its centre and hand it their callers' bookings)."""
    if short_targets and not demo:
        raise ProvisionError("--short-targets is for a demo centre only (add --demo): a real centre keeps "
                             "the national targets")
    if demo_hq and not demo:
        raise ProvisionError("--demo-hq is for a demo centre only (add --demo): a real centre is given its "
                             "headquarters' address and token in centre.toml [upstream]")
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
    place = _place(county, town, location, demo and centre_id == "demo")
    config = directory / CONFIG_NAME
    config.write_text(render_config(centre_id, name, demo=demo, mqtt_url=mqtt_url, public_url=public_url,
                                    place=place, mqtt_port=mqtt_port, short_targets=short_targets,
                                    hq_url=DEMO_HQ_URL if demo_hq else "",
                                    hq_token=demo_hq_token(centre_id) if demo_hq else ""))
    config.chmod(0o600)
    db = storage.connect(directory / DB_NAME)
    try:
        storage.save_menu(db, builtin_menu())
        storage.save_counters(db, demo_counters())
        storage.audit(db, actor(), "init", centre_id=centre_id, demo=demo)
        ensure_server_user(directory, db, load_settings(directory))
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


def show_centre(directory: Path | str, audit_entries: int = 10) -> dict[str, Any]:
    """What a technician checks first: identity, addresses, menu, counters, devices, staff, recent changes."""
    with CentreDirectory(directory) as c:
        s, db = c.settings, c.db
        devices = [d for d in accounts.list_devices(db) if d["role"] != SERVER_ROLE]
        staff = accounts.list_staff(db)
        services, services_enabled = admin.count_services(db)
        return {
            "centre_id": s.centre_id, "centre_name": s.centre_name, "directory": str(c.directory),
            "public_url": s.public_url, "timezone": s.timezone, "demo": s.demo,
            "mqtt_url_server": s.mqtt.url or f"embedded on {s.mqtt.embedded_host}:{s.mqtt.embedded_port}",
            "mqtt_url_devices": mqtt_url_for_devices(s), "mqtt_username": s.mqtt.username,
            "services": services,
            "services_enabled": services_enabled,
            "counters": len(admin.counter_ids(db)),
            "devices": {k: sum(1 for d in devices if d["kind"] == k and d["revoked_at"] is None)
                        for k in DEVICE_KINDS},
            "devices_revoked": sum(1 for d in devices if d["revoked_at"] is not None),
            "staff": {r: sum(1 for m in staff if m["role"] == r and not m["disabled"]) for r in STAFF_ROLE_NAMES},
            "staff_disabled": sum(1 for m in staff if m["disabled"]),
            "broker_config_dir": storage.get_meta(db, BROKER_DIR_KEY) or None,
            "recent_changes": _audit_rows(db, audit_entries),
        }


def _audit_rows(db: sqlite_utils.Database, limit: int, action: str | None = None) -> list[dict[str, Any]]:
    return [{**e, "at": dt.datetime.fromtimestamp(e["at"], dt.UTC).isoformat(timespec="seconds")}
            for e in admin.audit_entries(db, limit, action)]


def audit_log(directory: Path | str, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    """The newest audit entries first: every provisioning, staff and device change."""
    with CentreDirectory(directory) as c:
        return _audit_rows(c.db, limit, action)
