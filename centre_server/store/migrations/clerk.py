"""The clerk's toolkit: parked tickets, outcome codes per service and the reasons clerks give."""

from __future__ import annotations

import secrets
from typing import Any


def parking_and_outcomes(db: Any) -> None:
    """A parked ticket's time and note survive a restart; a service lists its own outcome codes (JSON,
    empty: the four old ones); a completion keeps the clerk's reason for a code that needs one."""
    db.execute("ALTER TABLE tickets ADD COLUMN outcome_reason TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN parked_at REAL")
    db.execute("ALTER TABLE tickets ADD COLUMN park_note TEXT")
    db.execute("ALTER TABLE services ADD COLUMN outcomes TEXT NOT NULL DEFAULT '[]'")
    clerk_pseudonym_key(db)


def clerk_pseudonym_key(db: Any) -> None:
    """The centre's own key for the clerk pseudonyms of its summaries (headquarters never gets it)."""
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('clerk_pseudonym_key', ?)", [secrets.token_hex(16)])
