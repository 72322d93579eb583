"""Day close: finish the day in the engine, summarise it, erase phones, queue it for headquarters.

The summary is computed from the event log (every call, recall, start, end,
transfer, no-show, cancellation and rating is an event with its time) and the
tickets table (which tickets belong to the day). It is a pure function of
those rows, so closing twice with the same data gives the same summary and
no new revision; a re-close after a late correction (a rating given after the
close, a ticket finished late) gives revision n+1, which headquarters stores
in place of revision n.

Who closes: the running server (automatically at ``[day] closing_time``, and
after the engine's own midnight roll-over, and on ``POST /api/v1/day/close``
by a manager), or ``huduma-centre close-day DIR`` on a stopped server. The
server holds ``DIR/.server.lock`` while it runs; the command line refuses to
write behind its back and asks the running server over HTTP instead (see
DAYCLOSE.md).

Units: a *visit* is one ticket's stay in one service's queue (a transfer ends
one visit and starts another). Service rows count visits; the total and the
hour rows count tickets (citizens), by the hour their ticket was issued.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from centre_server.queue import engine
from centre_server.reports import figures
from centre_server.store import database as storage
from centre_server.config import CentreSettings
from centre_server.contract import DayClosed, TicketIssued, ticket_of

logger = logging.getLogger(__name__)

SUMMARY_SCHEMA = figures.SUMMARY_SCHEMA
LOCK_NAME = ".server.lock"
TICKET_EVENTS = figures.TICKET_EVENTS
COUNTER_EVENTS = figures.COUNTER_EVENTS
DEFAULT_TARGET_S = figures.DEFAULT_TARGET_S


class DayCloseError(Exception):
    """A close the centre cannot do (bad date, server running), with what to do instead."""


# --------------------------------------------------------------------------
# Figures: defined once, in centre_server.reports.figures (the board and the reports use the same)
# --------------------------------------------------------------------------

percentile = figures.percentile
Visit = figures.Visit
TicketStory = figures.TicketStory
stories_from_events = figures.stories_from_events
summarise = figures.summarise
day_bounds = figures.day_bounds


def compute_summary(db: sqlite_utils.Database, settings: CentreSettings, day: str,
                    now: float | None = None) -> dict[str, Any]:
    """Read the day's events and tickets from the centre database and summarise them."""
    return figures.compute_day(db, settings, day, time.time() if now is None else now)


# --------------------------------------------------------------------------
# Revisions and the outbox
# --------------------------------------------------------------------------


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def outbox_key(centre_id: str, day: str, revision: int) -> str:
    return f"{centre_id}:{day}:{revision}"


@dataclass
class Recorded:
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


# --------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------


# SMS kinds that serve an appointment still ahead: a pending one keeps its number until sent
FUTURE_KINDS = ("book_confirm", "booked")


def _table_columns(conn: Any, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def erase_phones(db: sqlite_utils.Database, day: str, retention_days: int = 0,
                 centre: Any | None = None, settings: CentreSettings | None = None) -> int:
    """Erase the phone numbers of ``day`` and before (minus the retention) from every table, memory and the SMS log.

    Tables: tickets and their ``ticket_issued`` events (finished tickets),
    ``remote_codes``, ``sms_outbox`` (sent or failed messages; a pending one
    for a ticket of those days is given up, it cannot matter any more),
    ``sms_inbox``, and ``appointments`` whose slot was on those days or that
    are no longer booked. A manager's close, the closing-time close and the
    midnight roll-over all close through here. Returns how many rows lost a
    number (tickets first: the figure the close reports).
    """
    upto = (Date.fromisoformat(day) - timedelta(days=retention_days)).isoformat()
    tz = settings.timezone if settings is not None else (centre.settings.timezone if centre is not None else None)
    end = day_bounds(upto, tz)[1] if tz else None
    final = ("done", "no_show", "cancelled")
    lock = centre.lock if centre is not None else contextlib.nullcontext()
    channel_rows = 0
    with lock:
        if centre is not None:  # the running engine's copy would write the number back on its next commit
            for t in centre.state.tickets.values():
                if t.day <= upto and t.state.value in final:
                    t.phone = None
        conn = db.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM tickets WHERE day<=? AND state IN ('done','no_show','cancelled') "
                "AND phone IS NOT NULL", [upto]).fetchall()]
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"UPDATE tickets SET phone=NULL WHERE id IN ({marks})", chunk)
            # the events too, also of tickets whose row the midnight roll-over already cleared
            conn.execute("UPDATE events SET data=json_set(data, '$.phone', NULL) WHERE type='ticket_issued' "
                         "AND json_extract(data, '$.phone') IS NOT NULL AND json_extract(data, '$.ticket_id') IN "
                         "(SELECT id FROM tickets WHERE day<=? AND state IN ('done','no_show','cancelled'))", [upto])
            if end is not None:
                channel_rows = _erase_channel_phones(conn, upto, end, time.time())
    logged = 0
    if end is not None and settings is not None:
        logged = _erase_log(settings, end)
    logger.info("erased phone numbers up to %s: %s tickets, %s channel rows, %s SMS log lines",
                upto, len(ids), channel_rows, logged)
    return len(ids)


def _erase_channel_phones(conn: Any, upto: str, end: float, now: float) -> int:
    """The channels' tables (issue 10): every number of those days, in the close's transaction."""
    n = 0
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()}
    if "remote_codes" in tables:
        n += conn.execute("UPDATE remote_codes SET phone=NULL WHERE day<=? AND phone IS NOT NULL", [upto]).rowcount
    if "sms_outbox" in tables:
        marks = ",".join("?" * len(FUTURE_KINDS))
        n += conn.execute(
            "UPDATE sms_outbox SET failed_at=?, last_error='phone number erased at the day close' "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND created_at < ? AND phone != '' "
            f"AND kind NOT IN ({marks})", [now, end, *FUTURE_KINDS]).rowcount
        n += conn.execute("UPDATE sms_outbox SET phone='' WHERE created_at < ? AND phone != '' "
                          "AND (sent_at IS NOT NULL OR failed_at IS NOT NULL)", [end]).rowcount
    if "sms_inbox" in tables:
        n += conn.execute("UPDATE sms_inbox SET phone=NULL WHERE at < ? AND phone IS NOT NULL", [end]).rowcount
    if "appointments" in tables:
        n += conn.execute(
            "UPDATE appointments SET phone=NULL WHERE phone IS NOT NULL AND (slot_at < ? OR "
            "(state NOT IN ('booked','pending') AND COALESCE(updated_at, created_at) < ?))", [end, end]).rowcount
    return n


def _erase_log(settings: CentreSettings, end: float) -> int:
    """The demo SMS gateway's log file (``[channels] sms_log``): numbers of messages sent before ``end``."""
    from centre_server.channels.settings import ChannelConfigError, load_channel_settings
    from centre_server.channels.sms import erase_log_phones, log_path

    try:
        path = log_path(load_channel_settings(settings.directory), Path(settings.directory))
    except ChannelConfigError as err:
        logger.warning("SMS log not erased: %s", err)
        return 0
    if path is None:
        return 0
    try:
        return erase_log_phones(path, end)
    except OSError as err:
        logger.error("cannot erase the phone numbers in %s: %s", path, err)
        return 0


# --------------------------------------------------------------------------
# Closing
# --------------------------------------------------------------------------


@dataclass
class CloseResult:
    date: str
    revision: int
    new_revision: bool
    key: str
    cancelled: int
    phones_erased: int
    note: str
    summary: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date, "revision": self.revision, "new_revision": self.new_revision,
                "key": self.key, "cancelled": self.cancelled, "phones_erased": self.phones_erased,
                "note": self.note, "total": self.summary.get("total", {})}


def check_date(day: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day or ""):
        raise DayCloseError(f"date {day!r} must be YYYY-MM-DD")
    try:
        Date.fromisoformat(day)
    except ValueError:
        raise DayCloseError(f"date {day!r} is not a calendar date") from None
    return day


PAUSE_ENV = "HUDUMA_DAYCLOSE_PAUSE_AT"
PAUSE_MARK = ".dayclose-paused"
CLOSE_STEPS = ("engine_closed", "summarised", "phones_erased", "recorded")


def _pause_point(settings: CentreSettings, step: str) -> None:
    """For the power-cut tests: with ``HUDUMA_DAYCLOSE_PAUSE_AT=<step>`` the close stops for good at that step.

    It writes ``DIR/.dayclose-paused`` (the step's name) and waits forever, so a
    test can pull the plug (kill -9) at a known point of the close instead of
    after a guessed delay. Unset in production: then this does nothing.
    """
    if os.environ.get(PAUSE_ENV) != step:
        return
    logger.warning("day close paused at %r (%s is set): waiting to be killed", step, PAUSE_ENV)
    (Path(settings.directory) / PAUSE_MARK).write_text(step)
    threading.Event().wait()


class _CloseGuard:
    """Per centre: one close at a time, and the days whose summary must follow late changes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.watched: set[str] = set()  # days summarised (or being summarised) by this process
        self.dirty: set[str] = set()  # watched days with events after their summary was computed
        self.changed_at = 0.0  # time.monotonic() of the last such event
        self.wake: threading.Event | None = None


_guards: weakref.WeakKeyDictionary[Any, _CloseGuard] = weakref.WeakKeyDictionary()
_guards_lock = threading.Lock()


def _guard(centre: Any) -> _CloseGuard:
    with _guards_lock:
        g = _guards.get(centre)
        if g is None:
            g = _guards[centre] = _CloseGuard()
        return g


def close_with_centre(centre: Any, day: str | None = None, *, reason: str = "day_closed") -> CloseResult:
    """Close ``day`` (default: the open day) through a Centre: the engine first, then the figures.

    Closes of one centre run one at a time (the automatic close, a manager's
    and a catch-up could otherwise interleave), and the figures are read after
    the engine's close has committed, at a ``now`` taken after it: a close
    killed after any step and run again gives the same summary, so no second
    revision.
    """
    guard = _guard(centre)
    with guard.lock:
        return _close(centre, guard, day, reason)


def _close(centre: Any, guard: _CloseGuard, day: str | None, reason: str) -> CloseResult:
    settings: CentreSettings = centre.settings
    centre.execute(engine.Tick())  # a pending midnight roll-over happens first, with its own reason
    with centre.lock:
        open_day = centre.state.day
    day = check_date(day or open_day)
    if day > open_day:
        raise DayCloseError(f"{day} has not begun yet: the centre's open day is {open_day}")
    if day < open_day:
        with centre.lock:
            first = centre.db.execute("SELECT MIN(at) FROM events").fetchone()[0]
        first_day = engine.day_of(first, settings.timezone) if first is not None else open_day
        if day < first_day:
            raise DayCloseError(f"{day} is before the centre's first records ({first_day}): nothing to close")
    cancelled = 0
    if day == open_day and not getattr(centre.state, "closed", False):
        try:
            events = centre.execute(engine.CloseDay(reason=reason))
        except engine.QueueError as err:  # an engine that says the day is closed already
            logger.info("the engine did not close %s again: %s", day, err.message)
            events = []
        cancelled = sum(1 for e in events if e.type.value == "ticket_cancelled")
    _pause_point(settings, "engine_closed")
    guard.watched.add(day)  # from here on, a change to the day's tickets makes a new revision
    guard.dirty.discard(day)
    with centre.lock:
        now = centre.clock()  # after the engine's close: the summary sees every counter closed
    db = storage.connect(settings.db_path)  # our own connection: never inside the centre's transactions
    try:
        data = compute_summary(db, settings, day, now=now)
        _pause_point(settings, "summarised")
        erased = erase_phones(db, day, settings.day.phone_retention_days, centre=centre, settings=settings)
        _pause_point(settings, "phones_erased")
        rec = record_summary(db, data, now=now)
        _pause_point(settings, "recorded")
    finally:
        db.conn.close()
    return CloseResult(day, rec.revision, rec.new, rec.key, cancelled, erased, rec.note, data)


def resummarise(centre: Any, day: str) -> Recorded:
    """Summarise a closed day again after a late change (a rating, a ticket finished or issued late).

    No engine close: only the figures, and a new revision for headquarters if
    they differ from the newest one.
    """
    guard = _guard(centre)
    with guard.lock:
        guard.dirty.discard(day)
        with centre.lock:
            now = centre.clock()
        db = storage.connect(centre.settings.db_path)
        try:
            data = compute_summary(db, centre.settings, day, now=now)
            rec = record_summary(db, data, now=now)
        finally:
            db.conn.close()
    if rec.new:
        logger.info("%s changed after its summary: revision %s queued for headquarters", day, rec.revision)
    return rec


@contextlib.contextmanager
def server_lock(directory: Path, *, wait: bool = False):
    """Held by a running server; the command line takes it to prove no server writes the directory."""
    path = Path(directory) / LOCK_NAME
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise DayCloseError(
                f"a centre server is running on {directory}: close the day through it with "
                f"`huduma-centre close-day {directory} --url http://HOST:PORT --user MANAGER`") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield fh
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def close_offline(settings: CentreSettings, day: str | None = None, clock: Any = time.time) -> CloseResult:
    """Close a day on a stopped server's directory (refused while a server runs)."""
    from centre_server.runtime.centre import Centre

    with server_lock(settings.directory):
        centre = Centre(settings, clock=clock)
        try:
            return close_with_centre(centre, day)
        finally:
            centre.close()


# --------------------------------------------------------------------------
# In the running server
# --------------------------------------------------------------------------


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
        guard = _guard(self.centre)
        guard.wake = self._wake
        # the days summarised lately: a change to one of them (even one made while the server was off,
        # after its summary) gives a new revision; each is looked at again once now
        recent = (Date.fromisoformat(self.centre.state.day) - timedelta(days=WATCH_DAYS)).isoformat()
        days = {r[0] for r in self._db().execute("SELECT DISTINCT date FROM daily_summaries WHERE date >= ?",
                                                 [recent]).fetchall()}
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
        guard = _guard(self.centre)
        tickets = self.centre.state.tickets
        for ev in events:
            d = ev.data
            if isinstance(d, DayClosed) and d.next_day:
                with self._pending_lock:
                    self._pending.add(d.day)
                self._wake.set()
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
        for day in sorted(_guard(self.centre).dirty - days):
            try:
                rec = resummarise(self.centre, day)
            except Exception:  # the next event or pass tries again
                logger.exception("summarising %s again failed; will try again", day)
                _guard(self.centre).dirty.add(day)
                continue
            results.append(CloseResult(day, rec.revision, rec.new, rec.key, 0, 0, rec.note, {}))
        for r in results:
            if r.new_revision and self.on_recorded:
                self.on_recorded(r)
        return results

    def _settle(self) -> None:
        """Let a burst of late changes end before summarising again: one revision for the burst, not one each."""
        guard = _guard(self.centre)
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


def install(app: Any) -> None:
    """Wire day close and the upstream sender into the centre server's app (start/stop hooks, API)."""
    from centre_server.dayclose import upstream
    from centre_server.contract import API_PREFIX
    from centre_server.http.routes.day import router

    app.include_router(router, prefix=API_PREFIX)

    def start(app: Any) -> None:
        centre = app.state.centre
        lock_cm = server_lock(centre.settings.directory)
        try:
            lock_cm.__enter__()
        except (DayCloseError, OSError) as err:  # a close-day running now, or a read-only directory
            logger.warning("could not take %s (%s): a command-line close-day could race this server",
                           centre.settings.directory / LOCK_NAME, err)
            lock_cm = None
        sender = upstream.Sender.for_settings(centre.settings)
        closer = DayCloser(centre, on_recorded=lambda r: sender.wake())
        app.state.day_closer = closer
        app.state.upstream = sender
        app.state.server_lock = lock_cm
        sender.start()
        closer.start()

    def stop(app: Any) -> None:
        for name in ("day_closer", "upstream"):
            part = getattr(app.state, name, None)
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        lock_cm = getattr(app.state, "server_lock", None)
        if lock_cm is not None:
            lock_cm.__exit__(None, None, None)

    app.state.start_hooks.append(start)
    app.state.stop_hooks.append(stop)
