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
import math
import os
import re
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from centre_server import engine, storage
from centre_server.config import CentreSettings

logger = logging.getLogger(__name__)

SUMMARY_SCHEMA = 1
LOCK_NAME = ".server.lock"
TICKET_EVENTS = ("ticket_issued", "ticket_called", "ticket_recalled", "ticket_started", "ticket_done",
                 "ticket_no_show", "ticket_transferred", "ticket_cancelled", "ticket_reactivated",
                 "feedback_given")
COUNTER_EVENTS = {"counter_opened": "open", "counter_resumed": "open", "counter_paused": "paused",
                  "counter_closed": "closed"}
DEFAULT_TARGET_S = 1800


class DayCloseError(Exception):
    """A close the centre cannot do (bad date, server running), with what to do instead."""


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it."""
    if not values:
        return None
    s = sorted(values)
    k = max(1, math.ceil(q / 100 * len(s)))
    return s[k - 1]


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


@dataclass
class Visit:
    """One ticket's stay in one service's queue."""

    ticket_id: str
    service_id: str
    entered_at: float
    kind: str  # "issued" or "transfer"
    first_call_at: float | None = None
    last_call_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # served | no_show | cancelled | transferred | None (still open)
    counter_id: str | None = None
    service_time_s: float | None = None

    @property
    def wait_s(self) -> float | None:
        return None if self.first_call_at is None else self.first_call_at - self.entered_at


@dataclass
class TicketStory:
    ticket_id: str
    issued_at: float
    visits: list[Visit] = field(default_factory=list)
    rating: int | None = None
    rating_service_id: str | None = None

    @property
    def outcome(self) -> str | None:
        return self.visits[-1].outcome if self.visits else None


def stories_from_events(events: list[dict[str, Any]]) -> dict[str, TicketStory]:
    """Replay the ticket events (in seq order) into visits per ticket."""
    stories: dict[str, TicketStory] = {}
    for ev in events:
        d = ev["data"]
        tid = d.get("ticket_id")
        at = ev["at"]
        typ = ev["type"]
        if typ == "ticket_issued":
            s = TicketStory(ticket_id=tid, issued_at=at)
            s.visits.append(Visit(tid, d["service_id"], at, "issued"))
            stories[tid] = s
            continue
        s = stories.get(tid)
        if s is None or not s.visits:
            continue
        v = s.visits[-1]
        if typ == "ticket_called":
            if v.first_call_at is None:
                v.first_call_at = at
            v.last_call_at = at
            v.started_at = None
            v.counter_id = d.get("counter_id")
        elif typ == "ticket_recalled":
            v.last_call_at = at
        elif typ == "ticket_started":
            v.started_at = at
        elif typ == "ticket_done":
            v.outcome, v.ended_at = "served", at
            begun = v.started_at or v.last_call_at
            v.service_time_s = at - begun if begun is not None else None
        elif typ == "ticket_no_show":
            v.outcome, v.ended_at = "no_show", at
        elif typ == "ticket_reactivated":
            v.outcome, v.ended_at = None, None
        elif typ == "ticket_cancelled":
            v.outcome, v.ended_at = "cancelled", at
        elif typ == "ticket_transferred":
            v.outcome, v.ended_at = "transferred", at
            s.visits.append(Visit(tid, d["to_service_id"], at, "transfer"))
        elif typ == "feedback_given":
            s.rating = d.get("rating")
            s.rating_service_id = d.get("service_id")
    return stories


def _wait_figures(visits: list[Visit], targets: dict[str, int]) -> dict[str, Any]:
    waits = [v.wait_s for v in visits if v.wait_s is not None]
    services = [v.service_time_s for v in visits if v.outcome == "served" and v.service_time_s is not None]
    within = sum(1 for v in visits if v.wait_s is not None and v.wait_s <= targets.get(v.service_id, DEFAULT_TARGET_S))
    # a visit that ended uncalled after waiting beyond its target counts against the service level
    late_unserved = sum(1 for v in visits if v.wait_s is None and v.ended_at is not None
                        and v.ended_at - v.entered_at > targets.get(v.service_id, DEFAULT_TARGET_S))
    measured = len(waits) + late_unserved
    return {
        "wait_mean_s": _r(statistics.fmean(waits)) if waits else None,
        "wait_median_s": _r(statistics.median(waits)) if waits else None,
        "wait_p90_s": _r(percentile(waits, 90)),
        "wait_max_s": _r(max(waits)) if waits else None,
        "service_mean_s": _r(statistics.fmean(services)) if services else None,
        "service_median_s": _r(statistics.median(services)) if services else None,
        "service_p90_s": _r(percentile(services, 90)),
        "service_max_s": _r(max(services)) if services else None,
        "within_target": within,
        "measured": measured,
        "within_target_share": round(within / measured, 4) if measured else None,
    }


def _satisfaction(ratings: list[int]) -> dict[str, Any]:
    return {"satisfaction_mean": round(statistics.fmean(ratings), 2) if ratings else None,
            "satisfaction_count": len(ratings)}


def _shares(row: dict[str, Any]) -> dict[str, Any]:
    """Served and no-show shares of arrivals (the web reports show them beside the counts)."""
    n = row["arrived"]
    row["served_share"] = round(row["served"] / n, 4) if n else None
    row["no_show_share"] = round(row["no_shows"] / n, 4) if n else None
    return row


def _ticket_figures(stories: list[TicketStory], targets: dict[str, int]) -> dict[str, Any]:
    visits = [v for s in stories for v in s.visits]
    return _shares({
        "arrived": len(stories),
        "served": sum(1 for s in stories if s.outcome == "served"),
        "no_shows": sum(1 for s in stories if s.outcome == "no_show"),
        "cancelled": sum(1 for s in stories if s.outcome == "cancelled"),
        "unfinished": sum(1 for s in stories if s.outcome is None),
        "transfers": sum(1 for v in visits if v.kind == "transfer"),
        **_wait_figures(visits, targets),
        **_satisfaction([s.rating for s in stories if s.rating]),
    })


def _intervals(prior: dict[str, str], counter_events: list[dict[str, Any]], start: float,
               end: float) -> dict[str, list[tuple[float, float]]]:
    """Staffed (open, not paused) intervals per counter, clipped to [start, end)."""
    state = dict(prior)
    since: dict[str, float] = {cid: start for cid, st in state.items() if st == "open"}
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for ev in counter_events:
        cid = ev["data"].get("counter_id")
        new = COUNTER_EVENTS[ev["type"]]
        at = min(max(ev["at"], start), end)
        if state.get(cid) == "open" and new != "open":
            if at > since[cid]:
                out[cid].append((since[cid], at))
            since.pop(cid, None)
        elif state.get(cid) != "open" and new == "open":
            since[cid] = at
        state[cid] = new
    for cid, t0 in since.items():
        if end > t0:
            out[cid].append((t0, end))
    return out


def _overlap(spans: list[tuple[float, float]], a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in spans)


def summarise(*, centre_id: str, centre_name: str, day: str, tz: str, ticket_events: list[dict[str, Any]],
              counter_prior: dict[str, str], counter_events: list[dict[str, Any]],
              services: dict[str, dict[str, Any]], counters: dict[str, str], now: float) -> dict[str, Any]:
    """The day's summary: a pure function of the day's events (no clock, no database)."""
    zone = ZoneInfo(tz)
    d = Date.fromisoformat(day)
    start = datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()
    nd = d + timedelta(days=1)
    end = min(datetime(nd.year, nd.month, nd.day, tzinfo=zone).timestamp(), max(now, start))
    targets = {sid: int(s.get("target_wait_s") or DEFAULT_TARGET_S) for sid, s in services.items()}
    stories = list(stories_from_events(ticket_events).values())
    spans = _intervals(counter_prior, counter_events, start, end)

    def hour_of(ts: float) -> int:
        return datetime.fromtimestamp(ts, zone).hour

    # per service: visits
    by_service: dict[str, list[Visit]] = defaultdict(list)
    ratings_by_service: dict[str, list[int]] = defaultdict(list)
    counters_by_service: dict[str, set[str]] = defaultdict(set)
    for s in stories:
        for v in s.visits:
            by_service[v.service_id].append(v)
            if v.counter_id:
                counters_by_service[v.service_id].add(v.counter_id)
        if s.rating:
            ratings_by_service[s.rating_service_id or s.visits[-1].service_id].append(s.rating)
    service_rows = []
    for sid in sorted(by_service, key=lambda x: (services.get(x, {}).get("position", 999), x)):
        visits = by_service[sid]
        info = services.get(sid, {})
        service_rows.append(_shares({
            "service_id": sid, "name_en": info.get("name_en", sid), "name_sw": info.get("name_sw", sid),
            "target_wait_s": targets.get(sid, DEFAULT_TARGET_S),
            "arrived": len(visits),
            "issued": sum(1 for v in visits if v.kind == "issued"),
            "transfers_in": sum(1 for v in visits if v.kind == "transfer"),
            "served": sum(1 for v in visits if v.outcome == "served"),
            "no_shows": sum(1 for v in visits if v.outcome == "no_show"),
            "cancelled": sum(1 for v in visits if v.outcome == "cancelled"),
            "unfinished": sum(1 for v in visits if v.outcome is None),
            "transfers": sum(1 for v in visits if v.outcome == "transferred"),
            **_wait_figures(visits, targets),
            **_satisfaction(ratings_by_service.get(sid, [])),
            "counters": len(counters_by_service.get(sid, ())),
        }))

    # per hour of issue: tickets; counters by the clock
    by_hour: dict[int, list[TicketStory]] = defaultdict(list)
    for s in stories:
        by_hour[hour_of(s.issued_at)].append(s)
    staffed_hours_set = {h for cid, sp in spans.items() for (a, b) in sp
                         for h in range(hour_of(a), hour_of(max(a, b - 1e-6)) + 1)}
    hour_rows = []
    for h in sorted(set(by_hour) | staffed_hours_set):
        hs = datetime(d.year, d.month, d.day, h, tzinfo=zone).timestamp()
        he = hs + 3600
        open_here = [cid for cid, sp in spans.items() if _overlap(sp, hs, he) > 0]
        hour_rows.append({"hour": h, **_ticket_figures(by_hour.get(h, []), targets),
                          "counters_open": len(open_here),
                          "staffed_hours": round(sum(_overlap(sp, hs, he) for sp in spans.values()) / 3600, 2)})

    served_at: dict[str, int] = defaultdict(int)
    for s in stories:
        for v in s.visits:
            if v.outcome == "served" and v.counter_id:
                served_at[v.counter_id] += 1
    counter_rows = [{"counter_id": cid, "name": counters.get(cid, cid),
                     "staffed_hours": round(sum(b - a for a, b in spans.get(cid, [])) / 3600, 2),
                     "served": served_at.get(cid, 0)}
                    for cid in sorted(set(spans) | set(served_at))]
    total = {**_ticket_figures(stories, targets),
             "counters_open": sum(1 for sp in spans.values() if sp),
             "staffed_hours": round(sum(b - a for sp in spans.values() for a, b in sp) / 3600, 2)}
    return {"schema": SUMMARY_SCHEMA, "centre_id": centre_id, "centre_name": centre_name, "date": day,
            "timezone": tz, "total": total, "services": service_rows, "hours": hour_rows,
            "counters": counter_rows}


def day_bounds(day: str, tz: str) -> tuple[float, float]:
    zone = ZoneInfo(tz)
    d = Date.fromisoformat(day)
    nd = d + timedelta(days=1)
    return (datetime(d.year, d.month, d.day, tzinfo=zone).timestamp(),
            datetime(nd.year, nd.month, nd.day, tzinfo=zone).timestamp())


def compute_summary(db: sqlite_utils.Database, settings: CentreSettings, day: str,
                    now: float | None = None) -> dict[str, Any]:
    """Read the day's events and tickets from the centre database and summarise them."""
    now = time.time() if now is None else now
    start, end = day_bounds(day, settings.timezone)
    # the day's tickets by their ticket_issued events (the log is append-only: the truth)
    marks = ",".join("?" * len(TICKET_EVENTS))
    ids: set[str] = set()
    ticket_events = []
    for seq, at, typ, data in db.execute(
            f"SELECT seq, at, type, data FROM events WHERE type IN ({marks}) AND at >= ? ORDER BY seq",
            [*TICKET_EVENTS, start - 86400]):
        d = json.loads(data)
        if typ == "ticket_issued" and d.get("day") == day:
            ids.add(d.get("ticket_id"))
        if d.get("ticket_id") in ids:
            ticket_events.append({"seq": seq, "at": at, "type": typ, "data": d})
    cmarks = ",".join("?" * len(COUNTER_EVENTS))
    prior = {cid: COUNTER_EVENTS[typ] for cid, typ, _ in db.execute(
        f"SELECT json_extract(data, '$.counter_id') AS cid, type, MAX(seq) FROM events "
        f"WHERE type IN ({cmarks}) AND at < ? GROUP BY cid", [*COUNTER_EVENTS, start]).fetchall()}
    counter_events = [{"seq": seq, "at": at, "type": typ, "data": json.loads(data)}
                      for seq, at, typ, data in db.execute(
                          f"SELECT seq, at, type, data FROM events WHERE type IN ({cmarks}) AND at >= ? "
                          f"AND at < ? ORDER BY seq", [*COUNTER_EVENTS, start, end]).fetchall()]
    services = {r["id"]: dict(r) for r in db.query("SELECT * FROM services")}
    counters = {r["id"]: r["name"] for r in db.query("SELECT id, name FROM counters")}
    return summarise(centre_id=settings.centre_id, centre_name=settings.centre_name, day=day,
                     tz=settings.timezone, ticket_events=ticket_events, counter_prior=prior,
                     counter_events=counter_events, services=services, counters=counters, now=now)


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


def erase_phones(db: sqlite_utils.Database, day: str, retention_days: int = 0,
                 centre: Any | None = None) -> int:
    """Erase phone numbers of finished tickets of ``day`` (minus the retention), in rows, events and memory."""
    upto = (Date.fromisoformat(day) - timedelta(days=retention_days)).isoformat()
    final = ("done", "no_show", "cancelled")
    lock = centre.lock if centre is not None else contextlib.nullcontext()
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
            if not ids:
                return 0
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"UPDATE tickets SET phone=NULL WHERE id IN ({marks})", chunk)
                conn.execute(f"UPDATE events SET data=json_set(data, '$.phone', NULL) WHERE type='ticket_issued' "
                             f"AND json_extract(data, '$.ticket_id') IN ({marks})", chunk)
    logger.info("erased %s phone numbers of tickets up to %s", len(ids), upto)
    return len(ids)


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


def close_with_centre(centre: Any, day: str | None = None, *, reason: str = "day_closed") -> CloseResult:
    """Close ``day`` (default: the open day) through a Centre: the engine first, then the figures."""
    settings: CentreSettings = centre.settings
    centre.execute(engine.Tick())  # a pending midnight roll-over happens first, with its own reason
    with centre.lock:
        open_day = centre.state.day
        now = centre.clock()
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
    if day == open_day:
        events = centre.execute(engine.CloseDay(reason=reason))
        cancelled = sum(1 for e in events if e.type.value == "ticket_cancelled")
    db = storage.connect(settings.db_path)  # our own connection: never inside the centre's transactions
    try:
        data = compute_summary(db, settings, day, now=now)
        erased = erase_phones(db, day, settings.day.phone_retention_days, centre=centre)
        rec = record_summary(db, data, now=now)
    finally:
        db.conn.close()
    return CloseResult(day, rec.revision, rec.new, rec.key, cancelled, erased, rec.note, data)


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
    from centre_server.centre import Centre

    with server_lock(settings.directory):
        centre = Centre(settings, clock=clock)
        try:
            return close_with_centre(centre, day)
        finally:
            centre.close()


# --------------------------------------------------------------------------
# In the running server
# --------------------------------------------------------------------------


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

    def start(self) -> None:
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
        for ev in events:
            if ev.type.value == "day_closed" and ev.data.get("next_day"):
                with self._pending_lock:
                    self._pending.add(ev.data["day"])
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
        for r in results:
            if r.new_revision and self.on_recorded:
                self.on_recorded(r)
        return results

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("day close failed; trying again in %ss", self.poll_s)
            self._wake.wait(self.poll_s)
            self._wake.clear()


def install(app: Any) -> None:
    """Wire day close and the upstream sender into the centre server's app (start/stop hooks, API)."""
    from centre_server import upstream
    from centre_server.contract import API_PREFIX
    from centre_server.dayclose_api import router

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
