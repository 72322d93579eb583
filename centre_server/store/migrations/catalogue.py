"""The national catalogue's tables: the versions received from headquarters and this centre's offerings."""

from __future__ import annotations

from typing import Any


def catalogue(db: Any) -> None:
    """Issue 19: every catalogue version received (the newest runs; meta ``catalogue_applied`` says which and
    since when), and what this centre decided for each national service (offered, not offered, suspended)."""
    db.execute("CREATE TABLE catalogue_versions (version INTEGER PRIMARY KEY, received_at REAL NOT NULL, "
               "published_at TEXT, data TEXT NOT NULL)")
    db.execute("CREATE TABLE catalogue_offerings (service_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
               "reason_en TEXT, reason_sw TEXT, since REAL NOT NULL, by TEXT)")
    # the log's suspensions, read at every start: a partial index holds only them, so the read never walks
    # months of ticket events, and a ticket's insert does not touch it
    db.execute(f"CREATE INDEX idx_events_suspensions ON events(seq) WHERE {SUSPENSION_EVENTS}")


SUSPENSION_EVENTS = "type IN ('service_suspended', 'service_resumed')"  # the same words in the query: the index fits
