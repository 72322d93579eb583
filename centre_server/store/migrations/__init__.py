"""The centre database's schema, one migration per step, grouped by the feature that owns the tables.

``PRAGMA user_version`` holds how many steps a database has taken; ``migrate``
runs the rest, each in its own transaction. A new table or column is a new
step at the end of ``MIGRATIONS`` (in its feature's module); an old step is
never edited, since databases in the field have run it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from centre_server.store.migrations import (
    alerts,
    catalogue,
    channels,
    clerk,
    dayclose,
    national,
    payments,
    queue,
    visits,
)

logger = logging.getLogger(__name__)

MIGRATIONS: list[Callable[[Any], None]] = [
    queue.initial,  # 1
    dayclose.day_close,  # 2
    queue.remote_tickets,  # 3
    channels.channels,  # 4
    queue.numbers_unique_per_day,  # 5
    queue.keys_unique_per_day,  # 6
    channels.booking_confirmations,  # 7
    catalogue.catalogue,  # 8
    alerts.manager_alerts,  # 9
    national.national_inbox,  # 10
    clerk.parking_and_outcomes,  # 11
    visits.visits,  # 12
    payments.payments,  # 13
    queue.learned_rates,  # 14
    dayclose.headquarters_reach,  # 15
    queue.passed_over,  # 16
]


def migrate(db: Any) -> int:
    """Bring the schema to the newest version, each step in its own transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            step(db)
            db.conn.execute(f"PRAGMA user_version={number}")
        logger.info("database migrated to version %s", number)
    return len(MIGRATIONS)
