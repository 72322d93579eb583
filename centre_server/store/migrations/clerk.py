"""The clerk's toolkit: parked tickets, outcome codes per service and the reasons clerks give."""

from __future__ import annotations

from typing import Any


def parking_and_outcomes(db: Any) -> None:
    """A parked ticket's time and note survive a restart; a service lists its own outcome codes (JSON,
    empty: the four old ones); a completion keeps the clerk's reason for a code that needs one."""
    db.execute("ALTER TABLE tickets ADD COLUMN outcome_reason TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN parked_at REAL")
    db.execute("ALTER TABLE tickets ADD COLUMN park_note TEXT")
    db.execute("ALTER TABLE services ADD COLUMN outcomes TEXT NOT NULL DEFAULT '[]'")
