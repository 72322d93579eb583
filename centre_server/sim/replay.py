"""Replay a trace of arrivals through the real engine: a discrete-event simulation.

The engine's own ``apply`` runs every command at simulated time (a heap of
events, no wall clock): tickets are issued when citizens arrive, a counter that
frees calls next at once by the engine's rules and serves that ticket for the
trace's ``service_time_s``. The estimate printed on each ticket is the one the
engine (and its predictor, learning as the trace goes) gave at issue, so a
replay of yesterday with two more counters answers "what if we had opened them?".

Traces may span days back to back: ``arrival_s`` counts seconds from the start
of the trace, which is local midnight of ``start`` (centre time) unless told
otherwise; numbers restart every day and what still waits at midnight is
cancelled, exactly as in the centre.
"""

from __future__ import annotations

import csv
import heapq
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload
from zoneinfo import ZoneInfo

from centre_server.contract import (
    CounterClosed,
    CounterEvent,
    CounterOpened,
    CounterPaused,
    CounterResumed,
    CounterServicesChanged,
    CounterState,
    DayClosed,
    Event,
    Priority,
    TicketCalled,
    TicketCancelled,
    TicketIssued,
    TicketNoShow,
    TicketState,
    event_from_data,
    ticket_of,
)
from centre_server.queue import engine
from centre_server.queue.engine import QueueError, State
from centre_server.queue.model import Counter, Policy, Service

if TYPE_CHECKING:
    import sqlite_utils

logger = logging.getLogger(__name__)

DEFAULT_START = "2026-01-05"  # a Monday; the trace's second 0 is its local midnight
DEFAULT_SERVICE_S = 600.0  # a service the replay has not seen starts from this typical time
RESULT_COLUMNS = ["ticket", "arrival_s", "estimate_s", "wait_s", "counter_id", "outcome"]

# order of simulated happenings that fall on the same second
_MIDNIGHT, _CLOSE, _END, _OPEN, _ABANDON, _ARRIVE = range(6)


class ReplayError(ValueError):
    """A trace the replay cannot read; the message names the file and line."""


@dataclass(frozen=True)
class Arrival:
    ticket: str
    arrival_s: float
    service_id: str
    priority: Priority
    service_time_s: float
    patience_s: float | None = None
    no_show: bool = False


@dataclass(frozen=True)
class Shift:
    counter_id: str
    services: tuple[str, ...]
    open_from_s: float
    open_to_s: float


@dataclass
class Outcome:
    """One ticket's fate, with what the centre knew when it was issued (for scoring)."""

    ticket: str
    arrival_s: float
    service_id: str
    priority: Priority
    estimate_s: int | None = None
    wait_s: float | None = None
    counter_id: str | None = None
    outcome: str = "not_served"  # served, no_show, abandoned, not_served, refused
    number: str = ""
    day: str = ""
    ahead: int = 0  # the engine's count of people ahead at issue
    waiting: int = 0  # tickets of the service waiting at issue (any class)
    servers: int = 0  # open counters serving the service at issue
    servers_share: float = 0.0  # the same, a shared counter counted by 1/its services
    busy: int = 0  # of those, serving someone
    les_s: float | None = None  # wait of the last ticket of the service (same class) to be called
    detail: str = ""  # the engine's refusal, if any

    @property
    def all_busy(self) -> bool:
        """Found every counter of its service busy (or none open): had to wait."""
        return self.busy >= self.servers


@dataclass
class ReplayResult:
    outcomes: list[Outcome]
    state: State
    events: int = 0
    days: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading


@overload
def _float(value: str, what: str, where: str, allow_empty: Literal[False] = False) -> float: ...
@overload
def _float(value: str, what: str, where: str, allow_empty: bool) -> float | None: ...
def _float(value: str, what: str, where: str, allow_empty: bool = False) -> float | None:
    value = (value or "").strip()
    if not value:
        if allow_empty:
            return None
        raise ReplayError(f"{where}: {what} is empty")
    try:
        x = float(value)
    except ValueError:
        raise ReplayError(f"{where}: {what} {value!r} is not a number") from None
    if not math.isfinite(x) or x < 0:
        raise ReplayError(f"{where}: {what} {value!r} must be a number of seconds, 0 or more")
    return x


def _rows(path: Path, required: list[str]) -> Iterable[tuple[str, dict[str, str]]]:
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as err:
        raise ReplayError(f"cannot read {path}: {err.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in required if c not in header]
        if missing:
            raise ReplayError(f"{path}: missing column(s) {', '.join(missing)} "
                              f"(expected {','.join(required)})")
        reader.fieldnames = header
        for i, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            yield f"{path.name} line {i}", {k: (v or "").strip() if isinstance(v, str) else ""
                                            for k, v in row.items() if k is not None}


def read_arrivals(path: Path) -> list[Arrival]:
    """``ticket,arrival_s,service_id,priority,service_time_s[,patience_s][,no_show]``."""
    out: list[Arrival] = []
    seen: set[str] = set()
    for where, row in _rows(Path(path), ["ticket", "arrival_s", "service_id", "priority", "service_time_s"]):
        ticket = row["ticket"]
        if not ticket:
            raise ReplayError(f"{where}: ticket is empty")
        if ticket in seen:
            raise ReplayError(f"{where}: ticket {ticket!r} appears twice")
        seen.add(ticket)
        if not row["service_id"]:
            raise ReplayError(f"{where}: service_id is empty")
        prio = row["priority"] or "none"
        try:
            priority = Priority(prio)
        except ValueError:
            raise ReplayError(f"{where}: priority {prio!r} is not one of "
                              f"{', '.join(p.value for p in Priority if p != Priority.none)} (or empty)") from None
        no_show = row.get("no_show", "")
        if no_show not in ("", "0", "1"):
            raise ReplayError(f"{where}: no_show {no_show!r} must be 1, 0 or empty")
        out.append(Arrival(
            ticket=ticket, arrival_s=_float(row["arrival_s"], "arrival_s", where),
            service_id=row["service_id"], priority=priority,
            service_time_s=_float(row["service_time_s"], "service_time_s", where,
                                  allow_empty=bool(no_show == "1")) or 0.0,
            patience_s=_float(row.get("patience_s", ""), "patience_s", where, allow_empty=True),
            no_show=no_show == "1"))
    return out


def read_counters(path: Path) -> list[Shift]:
    """``counter_id,services,open_from_s,open_to_s``; services separated by ``;``."""
    out: list[Shift] = []
    for where, row in _rows(Path(path), ["counter_id", "services", "open_from_s", "open_to_s"]):
        if not row["counter_id"]:
            raise ReplayError(f"{where}: counter_id is empty")
        services = tuple(dict.fromkeys(s.strip() for s in row["services"].split(";") if s.strip()))
        if not services:
            raise ReplayError(f"{where}: counter {row['counter_id']} serves no service")
        a = _float(row["open_from_s"], "open_from_s", where)
        b = _float(row["open_to_s"], "open_to_s", where)
        if b <= a:
            raise ReplayError(f"{where}: open_to_s must be after open_from_s")
        out.append(Shift(row["counter_id"], services, a, b))
    return out


def write_arrivals(path: Path, arrivals: list[Arrival]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["ticket", "arrival_s", "service_id", "priority", "service_time_s", "patience_s", "no_show"])
        for a in arrivals:
            w.writerow([a.ticket, _num(a.arrival_s), a.service_id,
                        "" if a.priority == Priority.none else a.priority.value, _num(a.service_time_s),
                        "" if a.patience_s is None else _num(a.patience_s), "1" if a.no_show else ""])


def write_counters(path: Path, shifts: list[Shift]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["counter_id", "services", "open_from_s", "open_to_s"])
        for s in shifts:
            w.writerow([s.counter_id, ";".join(s.services), _num(s.open_from_s), _num(s.open_to_s)])


def export_trace(db: sqlite_utils.Database, first_day: str, last_day: str,
                 tz: str = "Africa/Nairobi") -> tuple[list[Arrival], list[Shift]]:
    """A centre's own days as a trace: who came when for what, and when each counter was open.

    Served tickets keep their real service time (call to finish); a ticket never
    served takes its service's mean of those days; a ticket cancelled while
    waiting (not by the day's close) left after ``patience_s``; a no-show is one.
    Counter shifts come from the open/pause/resume/close events. Second 0 is local
    midnight of ``first_day``.
    """
    import json

    zone = ZoneInfo(tz)
    base = start_epoch(first_day, tz)
    end_day = datetime.fromisoformat(last_day).date() + timedelta(days=1)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone).timestamp()
    rows = list(db.query(
        "SELECT * FROM tickets WHERE day BETWEEN ? AND ? ORDER BY issued_at, seq", [first_day, last_day]))
    durations: dict[str, list[float]] = {}
    for r in rows:
        if r["state"] == "done" and r["ended_at"] and (r["started_at"] or r["called_at"]):
            durations.setdefault(r["service_id"], []).append(r["ended_at"] - (r["started_at"] or r["called_at"]))
    typical = {r["id"]: float(r["service_time_s"]) for r in db.query("SELECT id, service_time_s FROM services")}
    arrivals: list[Arrival] = []
    for r in rows:
        sid = r["service_id"]
        served = r["state"] == "done" and r["ended_at"] and (r["started_at"] or r["called_at"])
        if served:
            service = r["ended_at"] - (r["started_at"] or r["called_at"])
        else:
            got = durations.get(sid)
            service = sum(got) / len(got) if got else typical.get(sid, DEFAULT_SERVICE_S)
        left = (r["state"] == "cancelled" and r["called_at"] is None and r["ended_at"] is not None
                and r["cancel_reason"] not in ("day_closed", "day_rollover"))
        try:
            priority = Priority(r["priority"] or "none")
        except ValueError:
            priority = Priority.none
        arrivals.append(Arrival(
            ticket=r["number"] and f"{r['day']}-{r['number']}" or r["id"], arrival_s=round(r["queued_at"] - base, 3),
            service_id=sid, priority=priority, service_time_s=round(max(0.0, service), 3),
            patience_s=round(r["ended_at"] - r["queued_at"], 3) if left else None,
            no_show=r["state"] == "no_show"))
    services = {r["id"]: json.loads(r["services"] or "[]") for r in db.query("SELECT id, services FROM counters")}
    shifts: list[Shift] = []
    open_since: dict[str, tuple[float, tuple[str, ...]]] = {}
    for e in db.query("SELECT at, type, data FROM events WHERE at >= ? AND at < ? AND type LIKE 'counter_%' "
                      "ORDER BY seq", [base, end]):
        d = event_from_data(e["type"], json.loads(e["data"]))
        if not isinstance(d, CounterEvent):
            continue
        cid, at = d.counter_id, e["at"]
        if isinstance(d, CounterServicesChanged):
            services[cid] = list(d.services)
            if cid in open_since:
                began, sv = open_since.pop(cid)
                if at > began:
                    shifts.append(Shift(cid, sv, round(began - base, 3), round(at - base, 3)))
                open_since[cid] = (at, tuple(services[cid]))
        elif isinstance(d, (CounterOpened, CounterResumed)):
            if isinstance(d, CounterOpened) and d.services:
                services[cid] = list(d.services)
            open_since.setdefault(cid, (at, tuple(services.get(cid) or ())))
        elif isinstance(d, (CounterPaused, CounterClosed)) and cid in open_since:
            began, sv = open_since.pop(cid)
            if at > began and sv:
                shifts.append(Shift(cid, sv, round(began - base, 3), round(at - base, 3)))
    for cid, (began, sv) in open_since.items():  # still open at the end of the range
        if sv:
            shifts.append(Shift(cid, sv, round(began - base, 3), round(end - base, 3)))
    shifts.sort(key=lambda s: (s.open_from_s, s.counter_id))
    return arrivals, shifts


def write_result(path: Path, outcomes: list[Outcome]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(RESULT_COLUMNS)
        for o in outcomes:
            w.writerow([o.ticket, _num(o.arrival_s), "" if o.estimate_s is None else o.estimate_s,
                        "" if o.wait_s is None else _num(o.wait_s), o.counter_id or "", o.outcome])


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}"


def start_epoch(start: str = DEFAULT_START, tz: str = "Africa/Nairobi") -> float:
    """POSIX seconds of ``start`` (a date means its local midnight) in the centre's zone."""
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        raise ReplayError(f"start {start!r} is not a date or date-time like 2026-01-05T00:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.timestamp()


# ---------------------------------------------------------------------------- simulating


def _prefix_for(i: int) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "X" + letters[i % len(letters)] + (letters[i // len(letters) % len(letters)] if i >= len(letters) else "")


class Replay:
    """One discrete-event run. ``run()`` returns every ticket's outcome."""

    def __init__(self, arrivals: list[Arrival], shifts: list[Shift],
                 services: list[Service] | None = None, policy: Policy | None = None,
                 start: float | None = None, no_show_s: float = 60.0,
                 on_event: Callable[[Event], None] | None = None) -> None:
        from centre_server.menu import builtin_menu

        self.arrivals = sorted(arrivals, key=lambda a: (a.arrival_s, a.ticket))
        self.shifts = sorted(shifts, key=lambda s: (s.open_from_s, s.counter_id))
        self.policy = policy or Policy()
        self.base = start if start is not None else start_epoch(DEFAULT_START, self.policy.timezone)
        self.no_show_s = no_show_s
        self.on_event = on_event
        known = {s.id: s for s in (services if services is not None else builtin_menu())}
        prefixes = {s.prefix for s in known.values()}
        extra = 0
        for sid in [a.service_id for a in self.arrivals] + [x for s in self.shifts for x in s.services]:
            if sid not in known:
                prefix = _prefix_for(extra)
                while prefix in prefixes:
                    extra += 1
                    prefix = _prefix_for(extra)
                prefixes.add(prefix)
                extra += 1
                known[sid] = Service(id=sid, prefix=prefix, name_en=sid, name_sw=sid,
                                     service_time_s=DEFAULT_SERVICE_S)
        counters = [Counter(id=cid, name=cid, services=list(next(s.services for s in self.shifts
                                                                  if s.counter_id == cid)))
                    for cid in dict.fromkeys(s.counter_id for s in self.shifts)]
        self.state = engine.new_state(list(known.values()), counters, self.policy)
        self.state.day = engine.day_of(self.base, self.policy.timezone)
        self.outcomes = {a.ticket: Outcome(a.ticket, a.arrival_s, a.service_id, a.priority)
                         for a in self.arrivals}
        self.by_ticket = {a.ticket: a for a in self.arrivals}
        self.heap: list[tuple[float, int, int, object]] = []
        self.order = 0
        self.closing: set[str] = set()
        self.on_shift: dict[str, Shift] = {}
        self.last_wait: dict[tuple[str, bool], float] = {}  # (service, priority class) -> last called's wait
        self.events = 0
        self.days: list[str] = [self.state.day]

    # ------------------------------------------------------------ plumbing

    def _push(self, t: float, kind: int, payload: object) -> None:
        self.order += 1
        heapq.heappush(self.heap, (t, kind, self.order, payload))

    def _apply(self, command: engine.Command, t: float) -> list[Event]:
        events = engine.apply(self.state, command, self.base + t)
        self.state.retired.clear()  # nothing to write: the replay keeps no database
        self.events += len(events)
        for ev in events:  # the engine's evolve has already taught the predictor
            if self.on_event is not None:
                self.on_event(ev)
            self._note(ev, t)
        return events

    def _note(self, ev: Event, t: float) -> None:
        d = ev.data
        o = self.outcomes.get(ticket_of(d) or "")
        if isinstance(d, DayClosed):
            if d.next_day:
                self.days.append(d.next_day)
            self.closing.clear()
        if o is None:
            return
        if isinstance(d, TicketIssued):
            o.number, o.day = d.number, d.day
            o.ahead, o.estimate_s = d.position, d.estimated_wait_s
        elif isinstance(d, TicketCalled):
            if o.wait_s is None:
                o.wait_s = t - o.arrival_s
                self.last_wait[(o.service_id, o.priority != Priority.none)] = o.wait_s
            o.counter_id = d.counter_id
            o.outcome = "served"
        elif isinstance(d, TicketNoShow):
            o.outcome = "no_show"
        elif isinstance(d, TicketCancelled) and (o.outcome == "not_served" or d.reason == "abandoned"):
            o.outcome = "abandoned" if d.reason == "abandoned" else "not_served"
            o.wait_s = t - o.arrival_s

    def _forget(self, ticket_id: str) -> None:
        """Drop a final ticket from the engine's memory (the centre's day keeps it in the database)."""
        t = self.state.tickets.get(ticket_id)
        if t is not None and t.state in (TicketState.done, TicketState.cancelled, TicketState.no_show):
            del self.state.tickets[ticket_id]

    # ------------------------------------------------------------ counters

    def _call_next(self, cid: str, t: float) -> bool:
        try:
            events = self._apply(engine.CallNext(cid), t)
        except QueueError:
            return False
        for ev in events:
            if isinstance(ev.data, TicketCalled):
                a = self.by_ticket.get(ev.data.ticket_id)
                if a is None:  # not a trace ticket (cannot happen): let it go at once
                    self._push(t, _END, (cid, ev.data.ticket_id, False))
                elif a.no_show:
                    self._push(t + self.no_show_s, _END, (cid, a.ticket, True))
                else:
                    self._push(t + a.service_time_s, _END, (cid, a.ticket, False))
        return True

    def _idle(self, cid: str) -> bool:
        c = self.state.counters[cid]
        return c.state == CounterState.open and c.ticket_id is None and cid not in self.closing

    def _dispatch(self, service_id: str, ticket_id: str, t: float) -> None:
        """Idle counters that serve the new ticket's service: the one idle longest calls."""
        idle = [c for c in self.state.counters.values()
                if service_id in c.services and self._idle(c.id)]
        idle.sort(key=lambda c: (c.idle_since if c.idle_since is not None else -math.inf, c.id))
        for c in idle:
            tk = self.state.tickets.get(ticket_id)
            if tk is None or tk.state != TicketState.waiting:
                return
            self._call_next(c.id, t)

    def _open(self, shift: Shift, t: float) -> None:
        cid = shift.counter_id
        self.on_shift[cid] = shift
        self.closing.discard(cid)
        self._apply(engine.OpenCounter(cid, services=shift.services), t)
        if self._idle(cid):
            self._call_next(cid, t)

    def _close(self, shift: Shift, t: float) -> None:
        cid = shift.counter_id
        if self.on_shift.get(cid) is shift:
            del self.on_shift[cid]
        if cid in self.on_shift:  # another shift of this counter took over
            return
        c = self.state.counters[cid]
        if c.ticket_id is not None:
            self.closing.add(cid)  # the clerk finishes the citizen at the counter first
        elif c.state != CounterState.closed:
            self._apply(engine.CloseCounter(cid), t)

    def _end(self, cid: str, ticket_id: str, no_show: bool, t: float) -> None:
        c = self.state.counters[cid]
        if c.ticket_id != ticket_id:
            return  # the day closed in between
        if no_show:
            self._apply(engine.MarkNoShow(cid), t)
        else:
            self._apply(engine.Complete(cid), t)
        self._forget(ticket_id)
        if cid in self.closing:
            self.closing.discard(cid)
            self._apply(engine.CloseCounter(cid), t)
        else:
            self._call_next(cid, t)

    def _midnight(self, t: float) -> None:
        waiting = [tk.id for tk in self.state.tickets.values()]
        self._apply(engine.Tick(), t)
        for tid in waiting:
            self._forget(tid)
        for cid, shift in list(self.on_shift.items()):  # a shift that runs through midnight goes on
            self._apply(engine.OpenCounter(cid, services=shift.services), t)

    # ------------------------------------------------------------ the run

    def _snapshot(self, o: Outcome) -> None:
        sid = o.service_id
        waiting = [tk for tk in self.state.tickets.values()
                   if tk.state == TicketState.waiting and tk.service_id == sid]
        o.waiting = len(waiting)
        for c in self.state.counters.values():
            if c.state == CounterState.open and sid in c.services:
                o.servers += 1
                o.servers_share += 1.0 / len(c.services)
                o.busy += c.ticket_id is not None or c.id in self.closing
        o.les_s = self.last_wait.get((sid, o.priority != Priority.none))

    def _arrive(self, a: Arrival, t: float) -> None:
        o = self.outcomes[a.ticket]
        self._snapshot(o)
        try:
            self._apply(engine.IssueTicket(ticket_id=a.ticket, service_id=a.service_id,
                                           priority=a.priority), t)
        except QueueError as err:
            o.outcome, o.detail = "refused", err.code
            return
        if a.patience_s is not None:
            self._push(t + a.patience_s, _ABANDON, a.ticket)
        self._dispatch(a.service_id, a.ticket, t)

    def _abandon(self, ticket_id: str, t: float) -> None:
        tk = self.state.tickets.get(ticket_id)
        if tk is not None and tk.state == TicketState.waiting:
            self._apply(engine.CancelTicket(ticket_id, reason="abandoned"), t)
            self._forget(ticket_id)

    def _midnights(self, last: float) -> list[float]:
        tz = ZoneInfo(self.policy.timezone)
        day = datetime.fromtimestamp(self.base, tz).date()
        out: list[float] = []
        while True:
            day += timedelta(days=1)
            t = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() - self.base
            if t > last:
                return out
            out.append(t)

    def run(self) -> ReplayResult:
        last = max([a.arrival_s for a in self.arrivals] + [s.open_to_s for s in self.shifts] + [0.0])
        for t in self._midnights(last):
            self._push(t, _MIDNIGHT, None)
        for s in self.shifts:
            self._push(s.open_from_s, _OPEN, s)
            self._push(s.open_to_s, _CLOSE, s)
        for a in self.arrivals:
            self._push(a.arrival_s, _ARRIVE, a)
        while self.heap:
            t, kind, _, payload = heapq.heappop(self.heap)
            # the kind says what the payload is
            if kind == _ARRIVE:
                self._arrive(cast(Arrival, payload), t)
            elif kind == _END:
                cid, tid, no_show = cast(tuple[str, str, bool], payload)
                self._end(cid, tid, no_show, t)
            elif kind == _ABANDON:
                self._abandon(cast(str, payload), t)
            elif kind == _OPEN:
                self._open(cast(Shift, payload), t)
            elif kind == _CLOSE:
                self._close(cast(Shift, payload), t)
            else:
                self._midnight(t)
        return ReplayResult(outcomes=[self.outcomes[a.ticket] for a in self.arrivals],
                            state=self.state, events=self.events, days=self.days)


def replay(arrivals: list[Arrival], shifts: list[Shift], **kwargs: Any) -> ReplayResult:
    """Run ``arrivals`` against ``shifts`` through the engine; see ``Replay`` for the options."""
    return Replay(arrivals, shifts, **kwargs).run()
