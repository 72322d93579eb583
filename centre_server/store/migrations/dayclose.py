"""The day close's tables: the daily summaries (a revision per re-close) and the outbox to headquarters."""

from __future__ import annotations

from typing import Any


def day_close(db: Any) -> None:
    """Issue 8: daily summaries (a revision per re-close) and the outbox to headquarters."""
    db.execute("CREATE TABLE daily_summaries (centre_id TEXT NOT NULL, date TEXT NOT NULL, "
               "revision INTEGER NOT NULL, created_at REAL NOT NULL, data TEXT NOT NULL, "
               "PRIMARY KEY (date, revision))")
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, "
               "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, sent_at REAL, "
               "last_error TEXT, created_at REAL)")
    db.execute("CREATE INDEX idx_outbox_pending ON outbox(next_attempt_at) WHERE sent_at IS NULL")


def headquarters_reach(db: Any) -> None:
    """Since when headquarters has answered none of the centre's links, kept across restarts (one row; NULL
    while it answers): a server restarted during an outage must not say "not reachable since" its restart."""
    db.execute("CREATE TABLE headquarters_reach (id INTEGER PRIMARY KEY CHECK (id = 1), unreachable_since REAL)")
    db.execute("INSERT INTO headquarters_reach (id, unreachable_since) VALUES (1, NULL)")
