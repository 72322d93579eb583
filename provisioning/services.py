"""The service menu: list, offer or withdraw services, edit their targets, export and import as CSV.

The server reads the menu when it starts, so each command's output reminds the
technician to restart it (RESTART_NOTE).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.menu import MenuError, menu_csv, parse_menu
from centre_server.store import admin
from provisioning.directory import CentreDirectory, ProvisionError

logger = logging.getLogger(__name__)


def known_services(db: sqlite_utils.Database, ids: list[str]) -> None:
    """Refuse ids the menu does not hold, naming them."""
    known = admin.service_ids(db)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ProvisionError(f"no such service: {', '.join(unknown)} (see `huduma-provision services list`)")


def list_services(directory: Path | str) -> list[dict[str, Any]]:
    """Every service with its prefix, targets in minutes and whether kiosks offer it."""
    with CentreDirectory(directory) as c:
        return [{"id": s.id, "prefix": s.prefix, "name_en": s.name_en, "name_sw": s.name_sw,
                 "category": s.category, "target_wait_min": round(s.target_wait_s / 60, 2),
                 "service_time_min": round(s.service_time_s / 60, 2), "enabled": s.enabled}
                for s in admin.load_services(c.db)]


def set_services_enabled(directory: Path | str, service_ids: list[str], enabled: bool) -> list[str]:
    """Offer services at the kiosks again, or stop offering them (tickets already issued stay)."""
    if not service_ids:
        raise ProvisionError("name at least one service")
    with CentreDirectory(directory) as c:
        known_services(c.db, service_ids)
        admin.set_services_enabled(c.db, service_ids, enabled)
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
    with CentreDirectory(directory) as c:
        known_services(c.db, [service_id])
        if "prefix" in changes and admin.service_with_prefix(c.db, changes["prefix"], other_than=service_id):
            raise ProvisionError(f"prefix {changes['prefix']} is already used by another service")
        admin.update_service(c.db, service_id, changes)
        c.audit("edit-service", service_id=service_id, **changes)
    return {"id": service_id, **changes}


def export_menu(directory: Path | str) -> str:
    """The menu as CSV (the same columns ``import_menu`` reads), for editing in a spreadsheet."""
    with CentreDirectory(directory) as c:
        return menu_csv(admin.load_services(c.db))


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
    with CentreDirectory(directory) as c:
        old = {s.id: s for s in admin.load_services(c.db)}
        new_ids = {s.id for s in services}
        missing = [sid for sid in old if sid not in new_ids]
        taken = {old[sid].prefix: sid for sid in missing}
        clash = [s.id for s in services if s.prefix in taken]
        if clash:
            raise ProvisionError(f"menu not imported: prefix of {', '.join(clash)} belongs to a service the file "
                                 "leaves out (it stays, disabled); choose another prefix")
        admin.replace_menu(c.db, services, missing)
        added = [s.id for s in services if s.id not in old]
        c.audit("import-menu", added=added, updated=len(services) - len(added), disabled=missing)
        return {"added": added, "updated": len(services) - len(added), "disabled": missing}
