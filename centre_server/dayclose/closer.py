"""The day closer: the running server's thread that closes at closing time, after roll-over, and catches up.

It also watches the closed days it summarised: a late change to one of them (a
rating after the close, a ticket finished late) makes it summarise the day
again, once a burst of changes has settled, for a new revision. A day a manager
reopened is not watched: it is open, and its next close (by hand, or the
midnight roll-over) records the one new revision.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from datetime import date as Date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from centre_server.contract import DayClosed, DayReopened, TicketIssued, ticket_of
from centre_server.dayclose.closing import CloseResult, close_with_centre, guard_for, is_reopened, resummarise
from centre_server.dayclose.summary import TICKET_EVENTS
from centre_server.store import database as storage

logger = logging.getLogger(__name__)

WATCH_DAYS = 7  # how far back a late change to a closed day still gives a new revision
RESUMMARY_SETTLE_S = 2.0  # quiet time after a late change before the day is summarised again


class DayCloser:
    """Background thread of the running server: closes at closing time, after roll-over, and catches up."""

    def __init__(self, centre: Any, poll_s: float = 30.0, on_recorded: Any = None) -> None:
        self.centre = centre
        self.poll_s = poll_s
        self.on_recorded = on_recorded
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._own_db: sqlite_utils.Database | None = None
        self.last_auto_close: str = ""
        self.settle_s = float(os.environ.get("HUDUMA_RESUMMARY_SETTLE_S", RESUMMARY_SETTLE_S))

    def start(self) -> None:
        guard = guard_for(self.centre)
        guard.wake = self._wake
        # the days summarised lately: a change to one of them (even one made while the server was off,
        # after its summary) gives a new revision; each is looked at again once now
        recent = (Date.fromisoformat(self.centre.state.day) - timedelta(days=WATCH_DAYS)).isoformat()
        days = {r[0] for r in self._db().execute("SELECT DISTINCT date FROM daily_summaries WHERE date >= ?",
                                                 [recent]).fetchall()}
        with self.centre.lock:
            days = {d for d in days if not is_reopened(self.centre.state, d)}  # open again: its close records it
        guard.watched |= days
        guard.dirty |= days
        self.centre.listeners.append(self._on_events)
        self._thread = threading.Thread(target=self._run, name="day-closer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(ValueError):
            self.centre.listeners.remove(self._on_events)
        if self._thread:
            self._thread.join(5)
        if self._own_db is not None:
            with contextlib.suppress(Exception):
                self._own_db.conn.close()

    def _on_events(self, events: list[Any]) -> None:
        # called under the centre's lock: only note the day and wake the thread
        guard = guard_for(self.centre)
        tickets = self.centre.state.tickets
        for ev in events:
            d = ev.data
            if isinstance(d, DayClosed) and d.next_day:
                with self._pending_lock:
                    self._pending.add(d.day)
                self._wake.set()
            elif isinstance(d, DayReopened):
                guard.reopened(d.day)
            elif guard.watched and ev.type.value in TICKET_EVENTS:
                t = tickets.get(ticket_of(d) or "")
                day = d.day if isinstance(d, TicketIssued) else (t.day if t is not None else None)
                if day in guard.watched:  # the day was summarised already: its figures changed
                    guard.dirty.add(day)
                    guard.changed_at = time.monotonic()
                    self._wake.set()

    def _db(self) -> sqlite_utils.Database:
        if self._own_db is None:  # the thread's own connection, never inside the centre's transactions
            self._own_db = storage.connect(self.centre.settings.db_path)
        return self._own_db

    def _due_today(self) -> str | None:
        closing = self.centre.settings.day.closing_time
        if not closing:
            return None
        with self.centre.lock:
            day = self.centre.state.day
            now = self.centre.clock()
            if is_reopened(self.centre.state, day):  # a manager set today's closing time aside: theirs to close
                return None
        local = datetime.fromtimestamp(now, ZoneInfo(self.centre.settings.timezone))
        if local.date().isoformat() != day or local.strftime("%H:%M") < closing:
            return None
        if self.last_auto_close == day:
            return None
        if self._db().execute("SELECT 1 FROM daily_summaries WHERE date=? LIMIT 1", [day]).fetchone():
            self.last_auto_close = day  # closed by hand already today
            return None
        return day

    def _unsummarised_past_days(self) -> list[str]:
        with self.centre.lock:
            today = self.centre.state.day
        rows = self._db().execute(
            "SELECT DISTINCT day FROM tickets WHERE day < ? AND day NOT IN "
            "(SELECT date FROM daily_summaries) ORDER BY day DESC LIMIT 30", [today]).fetchall()
        return sorted(r[0] for r in rows)

    def run_once(self) -> list[CloseResult]:
        results = []
        with self._pending_lock:
            pending, self._pending = self._pending, set()
        days = pending | set(self._unsummarised_past_days())
        due = self._due_today()
        for day in sorted(days):
            try:
                results.append(close_with_centre(self.centre, day))
            except Exception:  # try again on the next pass; the other days still close
                logger.exception("closing %s failed; will try again", day)
                with self._pending_lock:
                    self._pending.add(day)
        if due:
            results.append(close_with_centre(self.centre, due, reason="closing_time"))
            self.last_auto_close = due
        for day in sorted(guard_for(self.centre).dirty - days):
            try:
                rec = resummarise(self.centre, day)
            except Exception:  # the next event or pass tries again
                logger.exception("summarising %s again failed; will try again", day)
                guard_for(self.centre).dirty.add(day)
                continue
            if rec is None:  # reopened meanwhile
                continue
            results.append(CloseResult(day, rec.revision, rec.new, rec.key, 0, 0, rec.note, {}))
        for r in results:
            if r.new_revision and self.on_recorded:
                self.on_recorded(r)
        return results

    def _settle(self) -> None:
        """Let a burst of late changes end before summarising again: one revision for the burst, not one each."""
        guard = guard_for(self.centre)
        while guard.dirty and not self._stop.is_set():
            quiet = time.monotonic() - guard.changed_at
            if quiet >= self.settle_s:
                return
            self._stop.wait(self.settle_s - quiet)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._settle()
                self.run_once()
            except Exception:
                logger.exception("day close failed; trying again in %ss", self.poll_s)
            self._wake.wait(self.poll_s)
            self._wake.clear()
