"""The counters: list them with the bridges that drive them, add, remove, assign services.

A counter open or driven by a bridge cannot be removed: the hall and the
bridge would lose it mid-day. The server reads the counters when it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.contract import CounterState
from centre_server.queue.model import Counter
from centre_server.store import accounts, admin
from provisioning.directory import CentreDirectory, ProvisionError, check_id, split_ids
from provisioning.services import known_services

logger = logging.getLogger(__name__)


def _counter(db: sqlite_utils.Database, counter_id: str) -> Counter:
    counter = admin.find_counter(db, counter_id)
    if counter is None:
        raise ProvisionError(f"no such counter: {counter_id} (see `huduma-provision counters list`)")
    return counter


def list_counters(directory: Path | str) -> list[dict[str, Any]]:
    """Every counter: its name, state, services in order of skill and the bridges that drive it."""
    with CentreDirectory(directory) as c:
        bridges = accounts.bridges_by_counter(c.db)
        return [{"id": k.id, "name": k.name, "state": k.state.value, "services": list(k.services),
                 "bridges": bridges.get(k.id, [])}
                for k in admin.load_counters(c.db)]


def add_counter(directory: Path | str, counter_id: str, *, name: str | None = None,
                services: Sequence[str] | str = ()) -> dict[str, Any]:
    """Add a counter (closed) serving ``services`` in order of skill."""
    check_id(counter_id, "counter id", "c31")
    services = split_ids(services)
    with CentreDirectory(directory) as c:
        if admin.find_counter(c.db, counter_id):
            raise ProvisionError(f"counter {counter_id} already exists (use `counters assign` to change it)")
        known_services(c.db, services)
        name = (name or counter_id.lstrip("c").lstrip("0") or counter_id).strip()
        admin.add_counter(c.db, Counter(id=counter_id, name=name, services=services))
        c.audit("add-counter", counter_id=counter_id, name=name, services=services)
    return {"id": counter_id, "name": name, "services": services}


def remove_counter(directory: Path | str, counter_id: str) -> str:
    """Remove a closed counter no bridge drives."""
    with CentreDirectory(directory) as c:
        counter = _counter(c.db, counter_id)
        if counter.state != CounterState.closed or counter.ticket_id:
            raise ProvisionError(f"counter {counter_id} is {counter.state.value}: "
                                 "close it at the clerk terminal first")
        bridges = accounts.bridges_by_counter(c.db).get(counter_id, [])
        if bridges:
            raise ProvisionError(f"counter {counter_id} is driven by {', '.join(bridges)}: "
                                 "rotate that bridge with other --counters first")
        admin.remove_counter(c.db, counter_id)
        c.audit("remove-counter", counter_id=counter_id)
    return counter_id


def assign_services(directory: Path | str, counter_id: str, services: list[str] | str,
                    name: str | None = None) -> dict[str, Any]:
    """Set the services a counter serves, in order of skill (and optionally its name)."""
    services = split_ids(services)
    if not services:
        raise ProvisionError("name at least one service, e.g. --services birth-cert,death-cert")
    with CentreDirectory(directory) as c:
        _counter(c.db, counter_id)
        known_services(c.db, services)
        admin.assign_counter_services(c.db, counter_id, services, name.strip() if name else None)
        c.audit("assign-services", counter_id=counter_id, services=services, name=name)
    return {"id": counter_id, "services": services, **({"name": name} if name else {})}
