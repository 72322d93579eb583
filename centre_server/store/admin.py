"""The centre's set-up in its database: the service menu, the counters and the audit log.

The technician's tool (huduma-provision) and the server's own tools read and
change these tables; both go through these functions, so the SQL on them lives
in one place beside the schema.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from centre_server.queue.model import Counter, Service
from centre_server.store.database import save_menu
from centre_server.store.rows import COUNTER_COLS, counter_from_row, counter_row, service_from_row

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# The menu
# --------------------------------------------------------------------------


def load_services(db: sqlite_utils.Database) -> list[Service]:
    """Every service, enabled or not, in the menu's order."""
    return [service_from_row(r) for r in db.query("SELECT * FROM services ORDER BY position, id")]


def service_ids(db: sqlite_utils.Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM services")}


def count_services(db: sqlite_utils.Database) -> tuple[int, int]:
    """How many services the menu holds, and how many of them the kiosks offer."""
    total, enabled = db.execute("SELECT COUNT(*), COALESCE(SUM(enabled = 1), 0) FROM services").fetchone()
    return int(total), int(enabled)


def set_services_enabled(db: sqlite_utils.Database, ids: Iterable[str], enabled: bool) -> None:
    with db.conn:
        db.conn.executemany("UPDATE services SET enabled=? WHERE id=?", [(int(enabled), i) for i in ids])


def service_with_prefix(db: sqlite_utils.Database, prefix: str, *, other_than: str = "") -> str | None:
    """The service whose tickets carry ``prefix`` (leaving out ``other_than``), if any."""
    row = db.execute("SELECT id FROM services WHERE prefix=? AND id!=?", [prefix, other_than]).fetchone()
    return row[0] if row else None


def update_service(db: sqlite_utils.Database, service_id: str, changes: dict[str, Any]) -> None:
    """Change some of a service's columns (names, prefix, target wait, service time)."""
    db.table("services").update(service_id, changes)


def replace_menu(db: sqlite_utils.Database, services: Sequence[Service], disabled: Sequence[str]) -> None:
    """Save ``services`` as the menu; the services in ``disabled`` stay, disabled, after them.

    Services are never deleted: the day's tickets and old reports name them.
    """
    with db.conn:
        save_menu(db, services)
        for j, sid in enumerate(disabled):
            db.conn.execute("UPDATE services SET enabled=0, position=? WHERE id=?", [len(services) + j, sid])


# --------------------------------------------------------------------------
# The counters
# --------------------------------------------------------------------------


def load_counters(db: sqlite_utils.Database) -> list[Counter]:
    """Every counter in the hall's order."""
    return [counter_from_row(r) for r in db.query("SELECT * FROM counters ORDER BY position, id")]


def counter_ids(db: sqlite_utils.Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM counters")}


def find_counter(db: sqlite_utils.Database, counter_id: str) -> Counter | None:
    row = next(db.query("SELECT * FROM counters WHERE id=?", [counter_id]), None)
    return counter_from_row(row) if row else None


def add_counter(db: sqlite_utils.Database, counter: Counter) -> None:
    """Add a counter after the others."""
    with db.conn:
        position = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM counters").fetchone()[0]
        db.conn.execute(f"INSERT INTO counters ({', '.join(COUNTER_COLS)}) "
                        f"VALUES ({', '.join('?' * len(COUNTER_COLS))})", counter_row(counter, position))


def remove_counter(db: sqlite_utils.Database, counter_id: str) -> None:
    with db.conn:
        db.conn.execute("DELETE FROM counters WHERE id=?", [counter_id])


def assign_counter_services(db: sqlite_utils.Database, counter_id: str, services: list[str],
                            name: str | None = None) -> None:
    """Set the services a counter serves, in order of skill, and with ``name`` its name too."""
    changes: dict[str, Any] = {"services": json.dumps(services)}
    if name is not None:
        changes["name"] = name
    db.table("counters").update(counter_id, changes)


# --------------------------------------------------------------------------
# The audit log (written by database.audit)
# --------------------------------------------------------------------------


def audit_entries(db: sqlite_utils.Database, limit: int, action: str | None = None) -> list[dict[str, Any]]:
    """The newest entries first, their detail decoded; only ``action``'s when given."""
    where, args = ("WHERE action=?", [action]) if action else ("", [])
    rows = db.query(f"SELECT id, at, actor, action, detail FROM audit {where} ORDER BY id DESC LIMIT ?",
                    [*args, limit])
    return [{"id": r["id"], "at": r["at"], "actor": r["actor"], "action": r["action"],
             "detail": json.loads(r["detail"] or "{}")} for r in rows]
