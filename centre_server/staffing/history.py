"""The centre's own history: who came for what in each half hour of each day, and how long service took.

Read from the ``tickets`` table (the first service a ticket was issued for, at its
issue time, in the centre's time zone), so a transfer does not count as a second
arrival. A day with no ticket at all was a day the centre did not open (or a day
before it started): it teaches the forecast nothing and is left out.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

SLOT_S = 1800  # a half hour
SLOTS = 48


def slot_of(local: datetime) -> int:
    return (local.hour * 3600 + local.minute * 60 + local.second) // SLOT_S


def slot_label(slot: int) -> str:
    return f"{slot * SLOT_S // 3600:02d}:{slot * SLOT_S % 3600 // 60:02d}"


@dataclass
class History:
    """Arrivals per day, service and half hour; service durations per service."""

    counts: dict[date, dict[str, list[int]]] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    patience_s: float | None = None  # mean patience of a waiting citizen; None: nobody gave up

    @property
    def days(self) -> list[date]:
        return sorted(self.counts)

    def services(self) -> list[str]:
        return sorted({sid for per in self.counts.values() for sid in per})

    def total(self, day: date) -> int:
        return sum(sum(v) for v in self.counts.get(day, {}).values())

    def add(self, day: date, service_id: str, slot: int, n: int = 1) -> None:
        self.counts.setdefault(day, {}).setdefault(service_id, [0] * SLOTS)[slot] += n

    def before(self, day: date) -> History:
        """The history a forecast made the evening before ``day`` would have had."""
        return History({d: v for d, v in self.counts.items() if d < day}, self.durations, self.patience_s)

    def busy_slots(self) -> tuple[int, int] | None:
        """The first and last half hour anyone ever arrived in."""
        used = [i for per in self.counts.values() for v in per.values() for i, n in enumerate(v) if n]
        return (min(used), max(used)) if used else None


def open_days(db: Any, first: date, last: date) -> int:
    """How many days from ``first`` to ``last`` had tickets: the open days ``read_history`` would hold, counted
    without reading them (a new centre is told at once that it has too little history)."""
    row = db.execute("SELECT COUNT(DISTINCT day) FROM tickets WHERE day >= ? AND day <= ?",
                     [first.isoformat(), last.isoformat()]).fetchone()
    return int(row[0] or 0)


def read_history(db: Any, tz: str, first: date | None = None, last: date | None = None) -> History:
    """Arrivals and durations of the centre's days from ``first`` to ``last`` (both included)."""
    zone = ZoneInfo(tz)
    where, args = [], []
    if first is not None:
        where.append("day >= ?")
        args.append(first.isoformat())
    if last is not None:
        where.append("day <= ?")
        args.append(last.isoformat())
    sql = ("SELECT day, service_id, issued_at, queued_at, transfers, state, started_at, ended_at, first_called_at, "
           "cancel_reason FROM tickets"
           + (" WHERE " + " AND ".join(where) if where else ""))
    hist = History()
    durations: dict[str, list[float]] = defaultdict(list)
    gave_up, waited = 0, 0.0  # patience: citizens who left, over the time everyone spent waiting
    for r in db.query(sql, args):
        try:
            day = date.fromisoformat(r["day"])
            transfers = json.loads(r["transfers"] or "[]")
        except (TypeError, ValueError):
            logger.warning("ticket row with a bad day or transfers left out of the history: %r", r["day"])
            continue
        first_service = transfers[0].get("from") if transfers and isinstance(transfers[0], dict) else None
        sid = first_service or r["service_id"]
        hist.add(day, sid, slot_of(datetime.fromtimestamp(r["issued_at"], zone)))
        if r["state"] == "done" and r["started_at"] and r["ended_at"] and not transfers:
            durations[r["service_id"]].append(max(1.0, r["ended_at"] - r["started_at"]))
        called, ended, queued = r["first_called_at"], r["ended_at"], r["queued_at"] or r["issued_at"]
        if called is not None:
            waited += max(0.0, called - queued)
        elif r["state"] == "cancelled" and ended is not None and r["cancel_reason"] not in CLOSING_REASONS:
            waited += max(0.0, ended - queued)
            gave_up += 1
    hist.durations = dict(durations)
    # exponential patience, censored by the call: the rate is those who left over all the waiting done
    hist.patience_s = waited / gave_up if gave_up >= 5 else None
    return hist


CLOSING_REASONS = ("day_closed", "day_rollover")  # cancelled by the close, not by the citizen
