"""A day's summaries as revisions, each queued for headquarters in the same transaction.

Closing twice with the same figures gives no new revision; a re-close after a
late correction (a rating given after the close, a ticket finished late) gives
revision n+1, which headquarters stores in place of revision n.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

logger = logging.getLogger(__name__)


def canonical(data: dict[str, Any]) -> str:
    """One text per summary: equal summaries give equal text, so an unchanged day makes no revision."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def outbox_key(centre_id: str, day: str, revision: int) -> str:
    """The key headquarters deduplicates on: one per centre, day and revision."""
    return f"{centre_id}:{day}:{revision}"


@dataclass
class Recorded:
    """A summary stored as a revision (``new``) or found equal to the newest one (``note`` says why)."""

    date: str
    revision: int
    new: bool
    key: str
    note: str = ""


def _is_empty(data: dict[str, Any]) -> bool:
    t = data.get("total", {})
    return not t.get("arrived") and not t.get("staffed_hours")


def record_summary(db: sqlite_utils.Database, data: dict[str, Any], now: float | None = None) -> Recorded:
    """Store ``data`` as the day's next revision unless it equals the last one; queue it for HQ.

    The summary row and its outbox row are written in one transaction (a
    summary is never stored without being queued, nor queued twice).
    """
    now = time.time() if now is None else now
    centre_id, day = data["centre_id"], data["date"]
    text = canonical(data)
    conn = db.conn
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT revision, data FROM daily_summaries WHERE date=? ORDER BY revision DESC LIMIT 1",
                           [day]).fetchone()
        if row and row[1] == text:
            return Recorded(day, row[0], False, outbox_key(centre_id, day, row[0]), "unchanged")
        if row and _is_empty(data) and json.loads(row[1]).get("simulated"):
            return Recorded(day, row[0], False, outbox_key(centre_id, day, row[0]),
                            "kept the simulated summary: the day has no real tickets")
        revision = (row[0] if row else 0) + 1
        key = outbox_key(centre_id, day, revision)
        conn.execute("INSERT INTO daily_summaries(centre_id, date, revision, created_at, data) VALUES (?,?,?,?,?)",
                     [centre_id, day, revision, now, text])
        payload = {"key": key, "centre_id": centre_id, "centre_name": data.get("centre_name", centre_id),
                   "date": day, "revision": revision, "created_at": now, "summary": data}
        conn.execute("INSERT INTO outbox(key, payload, attempts, next_attempt_at, created_at) VALUES (?,?,0,?,?)",
                     [key, canonical(payload), now, now])
    logger.info("day %s summarised: revision %s queued for headquarters as %s", day, revision, key)
    return Recorded(day, revision, True, key)


def load_summary(db: sqlite_utils.Database, date: str) -> dict[str, Any] | None:
    """The newest revision of a day's summary, with ``revision`` and ``created_at``; None if never closed."""
    row = db.execute("SELECT revision, created_at, data FROM daily_summaries WHERE date=? "
                     "ORDER BY revision DESC LIMIT 1", [date]).fetchone()
    if row is None:
        return None
    data = json.loads(row[2])
    data["revision"] = row[0]
    data["created_at"] = row[1]
    return data


def list_summaries(db: sqlite_utils.Database, limit: int = 60) -> list[dict[str, Any]]:
    """The newest revision of each closed day, newest day first (for reports)."""
    rows = db.execute("SELECT date, MAX(revision), COUNT(*) FROM daily_summaries GROUP BY date "
                      "ORDER BY date DESC LIMIT ?", [limit]).fetchall()
    return [{"date": d, "revision": rev, "revisions": n} for d, rev, n in rows]
