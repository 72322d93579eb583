"""Kiosks, displays and bridges: enrol, list, revoke, rotate, and rebuild their bundles.

Tokens and broker passwords are stored hashed in the registry the server reads,
so a revoked device is refused at once; every change also rewrites the
Mosquitto files (see provisioning.broker) and tells a running server.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.mqtt.access import SERVER_ROLE, SERVER_USERNAME, mosquitto_hash, verify_mosquitto_hash
from centre_server.store import accounts, admin
from centre_server.store.accounts import new_token, token_hash
from provisioning.broker import after_registry_change, ensure_server_user
from provisioning.bundles import bundle_data, saved_bundle, with_kiosk_pin, write_bundle
from provisioning.directory import CentreDirectory, ProvisionError, check_id, split_ids

logger = logging.getLogger(__name__)

DEVICE_KINDS = ("kiosk", "display", "bridge")
RESERVED_IDS = {SERVER_USERNAME}


def _device_row(db: sqlite_utils.Database, device_id: str) -> dict[str, Any]:
    row = accounts.find_device(db, device_id)
    if row is None:
        raise ProvisionError(f"no such device: {device_id} (see `huduma-provision list-devices`)")
    return row


def _check_counters(db: sqlite_utils.Database, kind: str, counters: list[str]) -> None:
    if counters and kind != "bridge":
        raise ProvisionError("only a bridge drives counters: leave out --counters")
    known = admin.counter_ids(db)
    unknown = [c for c in counters if c not in known]
    if unknown:
        raise ProvisionError(f"no such counter: {', '.join(unknown)}")


def _iso(at: float | None) -> str | None:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds") if at else None


def add_device(directory: Path | str, kind: str, device_id: str, *, counters: list[str] | None = None,
               note: str = "", reload_pid: int | None = None, qr: bool = True) -> dict[str, Any]:
    """Enrol a device: a fresh API token and MQTT password, stored hashed; writes and returns its bundle.

    The bundle is written as DIR/devices/<id>.json and, with ``qr``, as a QR code PNG beside it.
    """
    if kind not in DEVICE_KINDS:
        raise ProvisionError(f"kind must be one of {', '.join(DEVICE_KINDS)}")
    check_id(device_id, "device id", "'kiosk-3'")
    if device_id in RESERVED_IDS:
        raise ProvisionError(f"{device_id} is the server's own broker user: choose another id")
    counters = split_ids(counters or [])
    with CentreDirectory(directory) as c:
        row = accounts.find_device(c.db, device_id)
        if row:
            hint = "rotate-device --reinstate" if row["revoked_at"] else "rotate-device or bundle"
            raise ProvisionError(f"device {device_id} is already enrolled (use {hint})")
        if kind == "bridge" and not counters:
            raise ProvisionError("a bridge needs the counters it drives, e.g. --counters c01,c02")
        _check_counters(c.db, kind, counters)
        token, mqtt_password = new_token(), secrets.token_urlsafe(18)
        accounts.enrol_device(c.db, device_id, kind, role=kind, token_hash=token_hash(token),
                              mqtt_password_hash=mosquitto_hash(mqtt_password), counters=counters, note=note)
        c.audit("add-device", device_id=device_id, kind=kind, counters=counters)
        saved_bundle(c.directory, device_id).unlink(missing_ok=True)  # a stale copy's PIN is not this kiosk's
        data = with_kiosk_pin(c.directory, bundle_data(c.settings, device_id, kind, token, mqtt_password, counters))
        write_bundle(c.directory, data, qr=qr)
        after_registry_change(c, reload_pid)
        return data


def list_devices(directory: Path | str, *, include_revoked: bool = True) -> list[dict[str, Any]]:
    """Every broker user: devices and the server's own, with their state."""
    with CentreDirectory(directory) as c:
        out = []
        for r in accounts.list_devices(c.db):
            if r["revoked_at"] is not None and not include_revoked:
                continue
            saved = saved_bundle(c.directory, r["id"])
            out.append({"id": r["id"], "kind": r["kind"], "role": r["role"],
                        "counters": json.loads(r["counters"] or "[]"),
                        "state": "revoked" if r["revoked_at"] is not None else "active",
                        "created_at": _iso(r["created_at"]), "revoked_at": _iso(r["revoked_at"]),
                        "note": r["note"] or "", "bundle": str(saved) if saved.is_file() else None})
        return out


def revoke_device(directory: Path | str, device_id: str, *, reason: str = "",
                  reload_pid: int | None = None) -> dict[str, Any]:
    """Refuse a device from now on: its API token at once, its broker login after the broker reloads."""
    with CentreDirectory(directory) as c:
        row = _device_row(c.db, device_id)
        if row["role"] == SERVER_ROLE:
            raise ProvisionError("the server's own broker user cannot be revoked (rotate it instead)")
        if row["revoked_at"] is not None:
            raise ProvisionError(f"device {device_id} is already revoked")
        accounts.revoke_device(c.db, device_id, (row["note"] or "") + (f" | revoked: {reason}" if reason else ""))
        for suffix in (".json", ".png"):
            saved_bundle(c.directory, device_id).with_suffix(suffix).unlink(missing_ok=True)
        c.audit("revoke-device", device_id=device_id, reason=reason)
        return {"device_id": device_id, "revoked": True, **after_registry_change(c, reload_pid)}


def rotate_device(directory: Path | str, device_id: str, *, reinstate: bool = False,
                  counters: list[str] | str | None = None, out: Path | None = None,
                  reload_pid: int | None = None) -> dict[str, Any]:
    """New token and broker password for a device (the old ones stop working); writes its new bundle."""
    with CentreDirectory(directory) as c:
        row = _device_row(c.db, device_id)
        if row["role"] == SERVER_ROLE:
            ensure_server_user(c.directory, c.db, c.settings, rotate=True)
            return {"device_id": device_id, "server": True,
                    "note": "the server's broker password changed in centre.toml: restart the centre server",
                    **after_registry_change(c, reload_pid)}
        if row["revoked_at"] is not None and not reinstate:
            raise ProvisionError(f"device {device_id} is revoked: add --reinstate to enrol it again")
        new_counters = json.loads(row["counters"] or "[]") if counters is None else split_ids(counters)
        _check_counters(c.db, row["kind"], new_counters)
        if row["kind"] == "bridge" and not new_counters:
            raise ProvisionError("a bridge needs the counters it drives, e.g. --counters c01,c02")
        token, mqtt_password = new_token(), secrets.token_urlsafe(18)
        accounts.set_device_credentials(c.db, device_id, token_hash=token_hash(token),
                                        mqtt_password_hash=mosquitto_hash(mqtt_password), counters=new_counters)
        c.audit("rotate-device", device_id=device_id, reinstated=row["revoked_at"] is not None,
                counters=new_counters)
        data = with_kiosk_pin(c.directory, bundle_data(c.settings, device_id, row["kind"], token, mqtt_password,
                                                       new_counters))
        paths = write_bundle(c.directory, data)
        if out:
            paths = write_bundle(c.directory, data, out)
        return {**data, "files": {k: str(v) for k, v in paths.items()}, **after_registry_change(c, reload_pid)}


def device_bundle(directory: Path | str, device_id: str, *, out: Path | None = None,
                  rotate: bool = False, reload_pid: int | None = None) -> dict[str, Any]:
    """Write a device's bundle (JSON and QR PNG) to ``out``.

    Tokens are stored hashed, so a bundle can only be rebuilt from the copy
    written at enrolment. If that copy is gone or no longer valid (or
    ``rotate``), the device gets new credentials and its old ones stop working.
    """
    directory = Path(directory)
    with CentreDirectory(directory) as c:
        row = _device_row(c.db, device_id)
        if row["role"] == SERVER_ROLE:
            raise ProvisionError("the server has no bundle: its broker credentials are in centre.toml")
        if row["revoked_at"] is not None:
            raise ProvisionError(f"device {device_id} is revoked: `rotate-device {device_id} --reinstate` first")
        saved = saved_bundle(directory, device_id)
        data: dict[str, Any] | None = None
        if saved.is_file() and not rotate:
            try:
                old = json.loads(saved.read_text())
                if (token_hash(old.get("token", "")) == row["token_hash"]
                        and verify_mosquitto_hash(row["mqtt_password_hash"], old.get("mqtt_password"))):
                    data = with_kiosk_pin(directory, bundle_data(c.settings, device_id, row["kind"], old["token"],
                                                                 old["mqtt_password"],
                                                                 json.loads(row["counters"] or "[]")))
            except (ValueError, AttributeError):
                data = None
        if data is not None:
            paths = write_bundle(directory, data)
            if out:
                paths = write_bundle(directory, data, out)
            c.audit("bundle", device_id=device_id, rotated=False)
            return {**data, "rotated": False, "files": {k: str(v) for k, v in paths.items()}}
    result = rotate_device(directory, device_id, out=out, reload_pid=reload_pid)
    with CentreDirectory(directory) as c:
        c.audit("bundle", device_id=device_id, rotated=True)
    return {**result, "rotated": True}
