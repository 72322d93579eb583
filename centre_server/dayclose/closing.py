"""Closing a day through a Centre: finish the day in the engine, summarise it, erase phones, record it.

Who closes: the running server (automatically at ``[day] closing_time``, and
after the engine's own midnight roll-over, and on ``POST /api/v1/day/close``
by a manager), or ``huduma-centre close-day DIR`` on a stopped server. The
server holds ``DIR/.server.lock`` while it runs; the command line refuses to
write behind its back and asks the running server over HTTP instead (see
DAYCLOSE.md).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

from centre_server.config import CentreSettings
from centre_server.dayclose.errors import DayCloseError
from centre_server.dayclose.lock import server_lock
from centre_server.dayclose.records import Recorded, record_summary
from centre_server.dayclose.retention import erase_phones
from centre_server.dayclose.summary import compute_summary
from centre_server.queue import engine
from centre_server.store import database as storage

logger = logging.getLogger(__name__)


@dataclass
class CloseResult:
    """What a close did: the revision recorded (new or not), tickets cancelled, numbers erased."""

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
    """``day`` if it is a calendar date written YYYY-MM-DD; a DayCloseError that says why not."""
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
    mark = Path(settings.directory) / PAUSE_MARK
    partial = mark.with_name(mark.name + ".partial")
    partial.write_text(step)
    os.replace(partial, mark)  # whole or absent: a test that sees the mark reads the step, never ""
    threading.Event().wait()


class CloseGuard:
    """Per centre: one close at a time, and the days whose summary must follow late changes.

    Only a closed day is watched: a change to it is a late correction, worth a
    new revision for headquarters. A day a manager reopened is open again, so
    its tickets are ordinary business until it closes again (by hand or at the
    midnight roll-over), and that close records the one new revision.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.watched: set[str] = set()  # closed days summarised (or being summarised) by this process
        self.dirty: set[str] = set()  # watched days with events after their summary was computed
        self.changed_at = 0.0  # time.monotonic() of the last such event
        self.wake: threading.Event | None = None

    def reopened(self, day: str) -> None:
        """``day`` is open again: its changes wait for its next close instead of making revisions."""
        self.watched.discard(day)
        self.dirty.discard(day)


def is_reopened(state: engine.State, day: str) -> bool:
    """True while ``day`` is the engine's open day, reopened by a manager after a close and not closed since."""
    return bool(day) and state.day == day and state.reopened == day and not state.closed


_guards: weakref.WeakKeyDictionary[Any, CloseGuard] = weakref.WeakKeyDictionary()
_guards_lock = threading.Lock()


def guard_for(centre: Any) -> CloseGuard:
    with _guards_lock:
        g = _guards.get(centre)
        if g is None:
            g = _guards[centre] = CloseGuard()
        return g


def close_with_centre(centre: Any, day: str | None = None, *, reason: str = "day_closed") -> CloseResult:
    """Close ``day`` (default: the open day) through a Centre: the engine first, then the figures.

    Closes of one centre run one at a time (the automatic close, a manager's
    and a catch-up could otherwise interleave), and the figures are read after
    the engine's close has committed, at a ``now`` taken after it: a close
    killed after any step and run again gives the same summary, so no second
    revision.
    """
    guard = guard_for(centre)
    with guard.lock:
        return _close(centre, guard, day, reason)


def _close(centre: Any, guard: CloseGuard, day: str | None, reason: str) -> CloseResult:
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
        for before in list(getattr(centre, "before_phones_erased", ())):  # the close's SMS leave first
            try:
                before(day)
            except Exception:  # a gateway's failure must not stop the close: the numbers still go
                logger.exception("before erasing the phones of %s", day)
        erased = erase_phones(db, day, settings.day.phone_retention_days, centre=centre, settings=settings)
        _pause_point(settings, "phones_erased")
        rec = record_summary(db, data, now=now)
        _pause_point(settings, "recorded")
    finally:
        db.conn.close()
    return CloseResult(day, rec.revision, rec.new, rec.key, cancelled, erased, rec.note, data)


def resummarise(centre: Any, day: str) -> Recorded | None:
    """Summarise a closed day again after a late change (a rating, a ticket finished or issued late).

    No engine close: only the figures, and a new revision for headquarters if
    they differ from the newest one. None, and nothing recorded, when a manager
    has reopened the day meanwhile: its next close summarises it.
    """
    guard = guard_for(centre)
    with guard.lock:
        guard.dirty.discard(day)
        with centre.lock:
            if is_reopened(centre.state, day):
                guard.reopened(day)
                return None
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


def close_offline(settings: CentreSettings, day: str | None = None, clock: Any = time.time,
                  attach: Sequence[Callable[[Any], Callable[[], None]]] = ()) -> CloseResult:
    """Close a day on a stopped server's directory (refused while a server runs).

    ``attach``: parts the close needs beside the centre, each given the centre
    before the close and returning what lets it go after. The command line
    attaches the channels' close messages (``channels.close_messages``): the
    citizens still waiting are texted as the running server's close texts
    them, before their numbers are erased (this room may not import channels).
    """
    from centre_server.runtime.centre import Centre

    with server_lock(settings.directory):
        centre = Centre(settings, clock=clock)
        detach: list[Callable[[], None]] = []
        try:
            for part in attach:
                detach.append(part(centre))
            return close_with_centre(centre, day)
        finally:
            for let_go in reversed(detach):
                try:
                    let_go()
                except Exception:  # the close is recorded; a part that fails to let go must not hide it
                    logger.exception("letting go of a part after the close failed")
            centre.close()
