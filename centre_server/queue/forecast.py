"""The forecast: the centre's own engine run forward from the live state, a few dozen times.

Issue 18. The closed forms of ``estimate.py`` cannot see who exactly waits where on
counters shared by several services, nor lunch breaks and shift changes ahead. A
simulation can: from a copy of the live state (every waiting ticket with its class
and place, every counter with its skills and the citizen it serves since when) it
plays the future through ``engine.apply`` (so calls follow the engine's own rules)
with what the centre has learned of itself (``WaitPredictor``): service times drawn
from the recent ones of each service and paced by each counter's speed, no-shows,
abandonment by time already waited, priority citizens arriving by the past days'
profile, and yesterday's staffing as the plan (counters that opened or closed at a
moment yesterday do the same today).

Where the answers come from: a *marker* is put in every queue just before each
waiting ticket and one at its end (a newcomer now). A marker takes no time at a
counter and never leaves; the counter that calls it finishes it at once and calls
again, its priority streak as it was, so the future is the same as without it. The
moment a marker is called is the wait of a ticket at that position who stays: the
mean over the futures is the table (``ForecastTable``) the issue path reads.

Citizens keep coming between two refreshes, so each normal queue's table also reads one
position past its end (``BEYOND``): a newcomer with one more of the same service ahead than
the snapshot had. That newcomer is *virtual*: the first counter of the service free for a
newcomer after the queue's end marker takes it for a drawn service, and the position behind
it is the next moment another counter of the service is free for a newcomer, or that one
finishes. Real simulated newcomers, one behind every queue at once, stood ahead of each other
on shared counters: a citizen behind one newcomer of a service sharing two counters with four
others waited for five (a Huduma day's 15:52 newcomer with both counters busy was told 29
minutes where 3 came true). The position comes from the futures, with the counters due back
from lunch, not extrapolated from the counters open now.

The random numbers are common to every refresh (``Draws``): the n-th future draws the same
number for the same citizen's service time, no-show and patience, and for the same arrival
stream's j-th gap. An unchanged hall gives the same table, so a waiting citizen's figure does
not jump with each refresh's fresh sample; a call or a newcomer changes only what it touches.
A small hall, where a future is cheap, gets up to ``MAX_FUTURES`` of them.

Normal citizens who arrive after now never go before a normal marker (a counter
calls the longest-waiting ticket of its services, and priority classes, which are
simulated, first), so under that rule only priority arrivals are drawn; with
``call_order = "skill_order"`` or ``prefer_breached_target`` every arrival is.

Pure: no clock, no threads, no I/O. ``runtime/forecaster.py`` takes the snapshot
under the centre's lock and runs the futures outside it; ``bench/predict.py`` runs
the same functions inside its replay.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import logging
import math
import random
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from centre_server.contract import Channel, CounterState, Event, Language, Priority, TicketCalled, TicketState
from centre_server.queue import engine
from centre_server.queue.engine import QueueError, State
from centre_server.queue.estimate import BIN_S, PATIENCE_EDGES, ForecastTable, QueueView, WaitPredictor
from centre_server.queue.model import Counter, Ticket

logger = logging.getLogger(__name__)

FUTURES = 32  # at least this many: the table's own noise is about 1/(2·32) of the RMSE
MAX_FUTURES = 256  # more while a refresh is cheap (a small hall): its noise 1/(2·256)
# engine commands a refresh may run for more futures than FUTURES (about 0.2-0.3 CPU-s here, 10-16 µs
# each: under 2 % of a core every 15 s). Counted in commands, not seconds, so the same hall always
# gets the same number of futures, and the same table, whatever else the machine is doing
TOP_UP_COMMANDS = 20_000
HORIZON_S = 8 * 3600.0  # no future runs further (nor past the local midnight)
MAX_AGE_S = 120.0  # an older table is not read: the closed forms answer
RECENT_CLOSE_S = 1200.0  # a busy counter the plan closed this recently is finishing up, then closes
MARK = "~"  # ids of markers and simulated arrivals start with it (never a real ticket's)
MIN_CALLED = 0.5  # a position called in fewer futures than this share is unknown
MAX_COMMANDS = 20_000  # one future stops after this many engine commands (a hall of thousands waiting)
BUDGET_S = 1.5  # CPU for one refresh: past it no further future starts (at least MIN_FUTURES run)
MIN_FUTURES = 8
MARKERS_PER_QUEUE = 100  # a longer queue gets a marker every few positions (and at its end), read between
# a newcomer who may come between two refreshes: each normal queue's table reads this many positions past
# its end, from a virtual newcomer in the futures (``_Future._free_for_newcomer`` models exactly one)
BEYOND = 1

# kinds of happening, in the order they run when they fall on the same second (as the replay);
# _FREE: the counter that took a queue's virtual newcomer is done with it
_CLOSE, _END, _OPEN, _ABANDON, _ARRIVE, _FREE = range(6)


_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: nearby integers become unrelated 64-bit ones."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _key(name: str) -> int:
    """A stable number for a ticket or an arrival stream (the same in every process)."""
    return zlib.crc32(name.encode())


# what a uniform number is drawn for: one number per (future, citizen, purpose)
_SERVICE, _NO_SHOW, _PATIENCE = range(3)


class Draws:
    """The random numbers of one future, each tied to what it decides (common random numbers).

    The n-th future of every refresh draws the same number for the same citizen's service time,
    no-show and patience, and for the same arrival stream's j-th gap. A hall where nothing changed
    between two refreshes then gets the same futures and the same table, not a fresh Monte-Carlo
    sample (a ticket's estimate jumped between 1,445 and 2,034 s over three quiet minutes); a real
    change (a call, a counter opening) changes only the futures it touches. Each number is still
    uniform and independent of the others, so every future is drawn as before: no bias."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed & _MASK

    def uniform(self, key: int, n: int) -> float:
        """A number in (0, 1) for ``key`` (a ``_key``) and ``n`` (a purpose, or an arrival's index)."""
        return ((_mix(self.seed ^ _mix((key << 24) ^ n)) >> 11) + 0.5) * (1.0 / (1 << 53))


@dataclass
class Learned:
    """What the futures draw from: the centre's own figures at the snapshot's moment.

    Each draw turns one uniform number ``u`` into a figure (an inverse distribution function), so
    that a number drawn for a citizen means the same in every refresh (``Draws``)."""

    samples: dict[str, list[float]]  # each service's recent service times, sorted
    mean_s: dict[str, float]
    speed: dict[str, float]
    no_show_p: dict[str, float]
    no_show_s: float
    hazards: list[float]
    # (service, priority class) -> [(from, to, arrivals per second)], trace of the horizon
    arrivals: dict[tuple[str, bool], list[tuple[float, float, float]]]

    def draw(self, u: float, service_id: str, counter_id: str | None) -> float:
        ring = self.samples.get(service_id)
        pace = self.speed.get(counter_id or "", 1.0)
        if ring and len(ring) >= 10:
            return ring[int(u * len(ring))] * pace
        return -math.log(1.0 - u) * self.mean_s.get(service_id, 600.0) * pace

    def survival(self, service_id: str, counter_id: str | None, e: float) -> float:
        ring = self.samples.get(service_id)
        pace = self.speed.get(counter_id or "", 1.0)
        if ring and len(ring) >= 10:
            return (len(ring) - bisect.bisect_right(ring, e / pace)) / len(ring)
        return math.exp(-e / (self.mean_s.get(service_id, 600.0) * pace))

    def residual(self, u: float, service_id: str, counter_id: str | None, e: float) -> float:
        """The rest of a service that has run ``e`` seconds: drawn among the longer ones, by the same
        ``u`` whatever ``e`` (so a service running on moves its citizen's futures smoothly)."""
        ring = self.samples.get(service_id)
        pace = self.speed.get(counter_id or "", 1.0)
        if ring and len(ring) >= 10:
            lo = bisect.bisect_right(ring, e / pace)
            if lo < len(ring):
                return ring[lo + int(u * (len(ring) - lo))] * pace - e
            return -math.log(1.0 - u) * max(60.0, self.mean_s.get(service_id, 600.0))  # longer than any seen
        return -math.log(1.0 - u) * self.mean_s.get(service_id, 600.0) * pace  # exponential: no memory

    def patience(self, u: float, waited: float) -> float:
        """How much longer a citizen who has waited ``waited`` stays (inf: until called)."""
        need = -math.log(1.0 - u)
        t = waited
        for i, h in enumerate(self.hazards):
            hi = PATIENCE_EDGES[i + 1]
            if hi <= t:
                continue
            span = hi - t
            if h > 0 and h * span >= need:
                return t + need / h - waited
            need -= h * span if math.isfinite(span) else 0.0
            t = hi
        return math.inf


@dataclass
class Snapshot:
    """A copy of the live state fit to run forward, with markers, and the learned figures."""

    at: float
    state: State
    learned: Learned
    plan: list[tuple[float, str, tuple[str, ...] | None]]  # (moment, counter, its services | None: closes)
    closing: set[str]
    end: float
    markers: dict[str, tuple[str, bool, int]] = field(default_factory=dict)  # id -> service, priority, position
    all_arrivals: bool = False
    turned_busy: dict[str, int] = field(default_factory=dict)  # kept by the live predictor from now on
    ends: dict[str, str] = field(default_factory=dict)  # each normal queue's end marker -> its service
    beyond: dict[str, str] = field(default_factory=dict)  # service -> the marker past its end (no ticket)


def _local(tz: str, at: float) -> tuple[str, float, float]:
    """(local date, second of the day, epoch of the next local midnight)."""
    zone = ZoneInfo(tz)
    m = datetime.fromtimestamp(at, zone)
    tod = m.hour * 3600.0 + m.minute * 60.0 + m.second + m.microsecond / 1e6
    day = m.date()
    nxt = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=zone).timestamp()
    return day.isoformat(), tod, nxt


def _marker(state: State, tid: str, service_id: str, priority: Priority, before: Ticket | None, at: float) -> Ticket:
    if before is None:
        queued, seq = at, state.last_seq + 1
    else:
        queued, seq = math.nextafter(before.queued_at, -math.inf), before.seq
    return Ticket(id=tid, day=state.day, seq=seq, number=MARK, service_id=service_id, priority=priority,
                  channel=Channel.staff, language=Language.en, issued_at=queued, queued_at=queued)


def _coming(t: Ticket) -> Ticket:
    """A waiting ticket's copy for the futures, its citizen taken as present.

    A remote ticket (SMS, USSD, web) not checked in yet is passed over if it reaches the front
    unchecked (kept in its place, called once its citizen checks in within the grace); run forward
    with that rule, no such citizen would ever be called, so a newcomer behind three of them would be
    told "next". The futures assume they come, as most do, passed-over ones too (a check-in puts them
    first); the learned no-show share stands for those who do not.
    """
    copied = copy.copy(t)
    copied.checked_in = True
    return copied


def take_snapshot(live: State, now: float, all_arrivals: bool | None = None) -> Snapshot:
    """Copy what the futures need (waiting tickets, counters, learned figures, the plan): O(waiting +
    counters + services); run it under the centre's lock, the futures outside it."""
    p: WaitPredictor = live.predictor
    day, tod, midnight = _local(live.policy.timezone, now)
    end = min(now + HORIZON_S, midnight - 1.0)
    state = State(policy=live.policy, services=live.services,
                  counters={c.id: copy.copy(c) for c in live.counters.values()},
                  day=live.day, numbers=dict(live.numbers), last_seq=live.last_seq,
                  predictor=WaitPredictor(), closed=live.closed, reopened=live.reopened)
    for c in state.counters.values():
        if c.ticket_id is not None and c.ticket_id in live.tickets:
            state.tickets[c.ticket_id] = copy.copy(live.tickets[c.ticket_id])
    pol = live.policy
    every = (pol.call_order == "skill_order" or pol.prefer_breached_target) if all_arrivals is None else all_arrivals
    plan, closing = _plan(p, live, day, tod, now, end)
    # only a service some counter serves now or opens to later gets markers: a marker nobody can
    # call would run every future to the horizon for an answer the closed forms give ("no counter")
    served = {s for c in live.counters.values() if c.state == CounterState.open for s in c.services}
    served |= {s for _, _, sv in plan for s in sv or ()}
    snap = Snapshot(at=now, state=state, learned=_learned(p, live, served, day, tod, now, end, every), plan=plan,
                    closing=closing, end=end, all_arrivals=every)
    n = 0
    for sid, queue in live.queues.items():
        if sid not in served:
            for t in queue.values():
                state.tickets[t.id] = _coming(t)
            continue
        normal = [t for t in queue.values() if t.priority is Priority.none]
        special = sorted((t for t in queue.values() if t.priority is not Priority.none), key=engine._FCFS)
        for prio, tickets, first in ((Priority.none, normal, len(special)), (Priority.elderly, special, 0)):
            stride = max(1, math.ceil(len(tickets) / MARKERS_PER_QUEUE))  # a long queue: every stride-th
            for k, before in enumerate([*tickets, None]):
                if k % stride and before is not None:
                    continue
                n += 1
                m = _marker(state, f"{MARK}m{n}", sid, prio, before, now)
                state.tickets[m.id] = m
                snap.markers[m.id] = (sid, prio is not Priority.none, first + k)
                if before is None and prio is Priority.none:
                    snap.ends[m.id] = sid
        for t in queue.values():
            state.tickets[t.id] = _coming(t)
        _past_the_end(snap, sid, len(queue))
    for sid in live.services:  # a service nobody waits for: a newcomer's marker all the same
        if sid in served and sid not in live.queues:  # (an emptied queue had its markers above)
            for prio in (Priority.none, Priority.elderly):
                n += 1
                m = _marker(state, f"{MARK}m{n}", sid, prio, None, now)
                state.tickets[m.id] = m
                snap.markers[m.id] = (sid, prio is not Priority.none, 0)
                if prio is Priority.none:
                    snap.ends[m.id] = sid
            _past_the_end(snap, sid, 0)
    state.reindex()
    snap.turned_busy = p.start_counting()
    return snap


def _past_the_end(snap: Snapshot, sid: str, waiting: int) -> None:
    """The position one past the queue's end (``BEYOND``): a marker with no ticket, answered by the
    futures' virtual newcomer (``_Future._free_for_newcomer``).

    Between two refreshes citizens keep coming, and a newcomer with one more ahead than the snapshot
    had is past the queue's end. Extrapolating from the counters open now is wrong exactly when it
    matters: over lunch a queue left with one shared counter, whose colleagues are back in minutes,
    gave 30 minutes where 13 came true."""
    mid = f"{MARK}b:{sid}"
    snap.beyond[sid] = mid
    snap.markers[mid] = (sid, False, waiting + BEYOND)


def _learned(p: WaitPredictor, live: State, served: set[str], day: str, tod: float, now: float, end: float,
             all_arrivals: bool) -> Learned:
    arrivals: dict[tuple[str, bool], list[tuple[float, float, float]]] = {}
    for sid in served & live.services.keys():
        for prio in (True, False) if all_arrivals else (True,):
            spans = []
            t = now
            while t < end:
                b = min(end, t + (BIN_S - (tod + t - now) % BIN_S))
                lam = p.arrival_rate(sid, prio, day, tod + (t - now), now)
                if lam > 0:
                    spans.append((t, b, lam))
                t = b
            if spans:
                arrivals[(sid, prio)] = spans
    return Learned(samples={s: sorted(r) for s, r in p.samples.items() if s in served},
                   mean_s=dict(p.mean_service_s),
                   speed=p.counter_speeds(),
                   no_show_p={s: p.no_show_share(s) for s in live.services},
                   no_show_s=p.no_show_s, hazards=p.hazards(), arrivals=arrivals)


def _plan(p: WaitPredictor, live: State, day: str, tod: float, now: float,
          end: float) -> tuple[list[tuple[float, str, tuple[str, ...] | None]], set[str]]:
    """Yesterday's openings and closings still ahead today, and the busy counters now finishing up.

    A closing counter stops calling between its last call and its close (the likely end of
    its shift): the future stops it there, and one that stopped but still serves finishes first.
    A counter the plan has open again since that close (back from a shift change or a break) is
    not closing: taken as closing, it finished its citizen and never came back in any future (a
    Huduma day's 13:19 newcomer with one ahead and three counters was told 38 minutes, not 5).
    One that stopped calling but whose close is still ahead in the plan is closing."""
    timeline, stops = p.plan_of(day)
    out: list[tuple[float, str, tuple[str, ...] | None]] = []
    closing: set[str] = set()
    before: dict[str, tuple[str, ...]] = {}
    planned_now = next((open_now for at, open_now in reversed(timeline) if at <= tod), {})
    for at, open_now in timeline:
        moment = now + (at - tod)
        for cid, sv in open_now.items():
            if cid not in before and now < moment <= end:
                out.append((moment, cid, sv))
        for cid in before:
            if cid in open_now:
                continue
            stop = now + (stops.get((cid, int(at)), at) - tod)
            if now < stop <= end:
                out.append((stop, cid, None))
            elif stop <= now <= moment + RECENT_CLOSE_S and not (moment <= now and cid in planned_now):
                c = live.counters.get(cid)
                if c is not None and c.state == CounterState.open and c.ticket_id is not None:
                    closing.add(cid)
        before = open_now
    out.sort(key=lambda x: x[0])
    return out, closing


# ---------------------------------------------------------------------------- one future


class _Unheard(WaitPredictor):
    """The predictor of a simulated future: it learns nothing and prints nothing (nobody reads a
    simulated citizen's ticket), so a future costs the engine's rules alone."""

    def observe(self, service_id: str, duration_s: float, counter_id: str | None = None) -> None:
        return None

    def record(self, state: QueueView, ev: Event) -> None:
        return None

    def estimate(self, state: QueueView, service_id: str, ahead: int, now: float,
                 priority: bool = False, closes_at: float | None = None) -> int | None:
        return None


# an arrival stream in the futures' heap: service, priority class, its rate spans, the span now, arrivals drawn
_Stream = tuple[str, bool, list[tuple[float, float, float]], int, int]


class _Future:
    """One run of the copied state until every marker is called (or the horizon)."""

    def __init__(self, snap: Snapshot, draws: Draws) -> None:
        self.snap, self.draws, self.learned = snap, draws, snap.learned
        self.keys: dict[str, int] = {}  # the simulated arrivals' draw keys (a real ticket's is its id's)
        self.state = _clone(snap.state)
        self.closing = set(snap.closing)
        self.heap: list[tuple[float, int, int, object]] = []
        self.order = 0
        self.called: dict[str, float] = {}
        self.left = len(snap.markers)
        self.arrived = 0
        self.commands = 0
        # the virtual newcomers (``_free_for_newcomer``): services whose end marker was called and
        # whose newcomer waits for a counter; and those whose newcomer took one: that counter (None once
        # it closed before it was done: then any counter free answers)
        self.after_end: set[str] = set()
        self.took: dict[str, str | None] = {}

    def push(self, t: float, kind: int, payload: object) -> None:
        self.order += 1
        heapq.heappush(self.heap, (t, kind, self.order, payload))

    def run(self) -> dict[str, float]:
        snap, st, ln, t0 = self.snap, self.state, self.learned, self.snap.at
        for c in st.counters.values():  # the services under way: the rest of each
            if c.ticket_id is None:
                continue
            tk = st.tickets[c.ticket_id]
            e = max(0.0, t0 - (tk.started_at or tk.called_at or t0))
            p_ns = ln.no_show_p.get(tk.service_id, 0.0) if tk.state == TicketState.called and e < ln.no_show_s else 0.0
            if p_ns:
                p_ns = p_ns / (p_ns + (1 - p_ns) * ln.survival(tk.service_id, c.id, e))
            if p_ns and self._u(tk.id, _NO_SHOW) < p_ns:
                self.push(t0 + ln.no_show_s - e, _END, (c.id, tk.id, True))
            else:
                self.push(t0 + ln.residual(self._u(tk.id, _SERVICE), tk.service_id, c.id, e), _END,
                          (c.id, tk.id, False))
        for q in st.queues.values():  # who waits: whether they stay
            for tk in q.values():
                if tk.id.startswith(MARK):
                    continue
                stay = ln.patience(self._u(tk.id, _PATIENCE), max(0.0, t0 - tk.queued_at))
                if math.isfinite(stay):
                    self.push(t0 + stay, _ABANDON, tk.id)
        for at, cid, sv in snap.plan:
            self.push(at, _OPEN if sv is not None else _CLOSE, (cid, sv))
        for (sid, prio), spans in ln.arrivals.items():
            if prio or snap.all_arrivals:
                self._next_arrival((sid, prio, spans, 0, 0), t0)
        for c in sorted(st.counters.values(), key=_idle_order):  # idle counters call at once
            self._call(c.id, t0)
        while self.heap and self.left > 0:
            t, kind, _, payload = heapq.heappop(self.heap)
            if t > snap.end or self.commands > MAX_COMMANDS:
                break
            # the kind says what the payload is
            if kind == _END:
                cid, tid, no_show = cast(tuple[str, str, bool], payload)
                self._end(cid, tid, no_show, t)
            elif kind == _ABANDON:
                tk = st.tickets.get(cast(str, payload))
                if tk is not None and tk.state == TicketState.waiting:
                    self._apply(engine.CancelTicket(tk.id, reason="abandoned"), t)
            elif kind == _ARRIVE:
                stream = cast(_Stream, payload)
                self._arrive(stream, t)
                self._next_arrival(stream, t)
            elif kind == _OPEN:
                cid, sv = cast(tuple[str, tuple[str, ...]], payload)
                self._open(cid, sv, t)
            elif kind == _FREE:
                self._newcomer_done(cast(str, payload), t)
            else:
                self._close(cast(tuple[str, None], payload)[0], t)
        return self.called

    def _apply(self, command: engine.Command, t: float) -> list[Event]:
        self.commands += 1
        return engine.apply(self.state, command, t)

    def _u(self, tid: str, purpose: int) -> float:
        key = self.keys.get(tid)
        return self.draws.uniform(_key(tid) if key is None else key, purpose)

    def _next_arrival(self, stream: _Stream, t: float) -> None:
        """The stream's next arrival: its j-th gap is the same number in every refresh."""
        sid, prio, spans, i, j = stream
        key = _key(f"{sid}\0{prio}")
        while i < len(spans):
            a, b, lam = spans[i]
            j += 1
            t = max(t, a) - math.log(1.0 - self.draws.uniform(key, j)) / lam
            if t < b:
                self.push(t, _ARRIVE, (sid, prio, spans, i, j))
                return
            t = b
            i += 1

    def _arrive(self, stream: _Stream, t: float) -> None:
        sid, prio, _, _, j = stream
        self.arrived += 1
        tid = f"{MARK}a{self.arrived}"
        self.keys[tid] = _key(f"{sid}\0{prio}\0{j}")
        try:
            self._apply(engine.IssueTicket(ticket_id=tid, service_id=sid,
                                           priority=Priority.elderly if prio else Priority.none), t)
        except QueueError:
            return
        stay = self.learned.patience(self._u(tid, _PATIENCE), 0.0)
        if math.isfinite(stay):
            self.push(t + stay, _ABANDON, tid)
        idle = [c for c in self.state.counters.values() if sid in c.services and self._idle(c)]
        for c in sorted(idle, key=_idle_order):
            tk = self.state.tickets.get(tid)
            if tk is None or tk.state != TicketState.waiting:
                return
            self._call(c.id, t)

    def _idle(self, c: Counter) -> bool:
        return c.state == CounterState.open and c.ticket_id is None and c.id not in self.closing

    def _call(self, cid: str, t: float) -> None:
        """Call next at ``cid``; markers called are noted and finished at once, leaving no trace."""
        st = self.state
        c = st.counters[cid]
        while self._idle(c):
            streak = c.priority_streak
            try:
                events = self._apply(engine.CallNext(cid), t)
            except QueueError:
                self._free_for_newcomer(c, t)  # nothing to call: idle
                return
            called = next((ev.data for ev in events if isinstance(ev.data, TicketCalled)), None)
            if called is None:
                self._free_for_newcomer(c, t)
                return
            tid = called.ticket_id
            if not tid.startswith(MARK) or tid not in self.snap.markers:
                tk = st.tickets[tid]
                if tk.priority is Priority.none and tk.queued_at > self.snap.at:
                    self._free_for_newcomer(c, t)  # a later arrival: a newcomer before it was called first
                self._serve(c, tk, t)
                return
            self.called[tid] = t - self.snap.at
            self.left -= 1
            sid = self.snap.ends.get(tid)
            if sid is not None:
                self.after_end.add(sid)  # the queue's end is called: its virtual newcomer is next
            self._apply(engine.Complete(cid), t)
            del st.tickets[tid]
            c.priority_streak = streak

    def _free_for_newcomer(self, c: Counter, t: float) -> None:
        """``c`` would call a newcomer now (it is idle, or calls someone who came after the snapshot).

        Each queue's position past its end (``BEYOND``) is answered in a world of its own where one
        newcomer of that service came since the snapshot, so no two queues' newcomers stand ahead of
        each other: the first counter of the service free after its end marker was called takes the
        newcomer for a drawn service (or a no-show's call); the position behind is called by the
        next other counter free, or by that one when it is done."""
        for sid in c.services:
            if sid in self.after_end:
                self.after_end.discard(sid)
                ln, key = self.learned, _key(f"{MARK}newcomer\0{sid}")
                if self.draws.uniform(key, _NO_SHOW) < ln.no_show_p.get(sid, 0.0):
                    busy = ln.no_show_s
                else:
                    busy = ln.draw(self.draws.uniform(key, _SERVICE), sid, c.id)
                self.took[sid] = c.id
                self.push(t + busy, _FREE, sid)
            elif sid in self.took and self.took[sid] != c.id:
                self._beyond_called(sid, t)

    def _newcomer_done(self, sid: str, t: float) -> None:
        """The counter that took ``sid``'s virtual newcomer is done: it calls the position behind,
        unless it closed meanwhile (then the next counter free does, that one too once back)."""
        cid = self.took.get(sid)
        if cid is None:
            return
        c = self.state.counters.get(cid)
        if c is not None and c.state == CounterState.open and c.id not in self.closing:
            self._beyond_called(sid, t)
        else:
            self.took[sid] = None

    def _beyond_called(self, sid: str, t: float) -> None:
        mid = self.snap.beyond[sid]
        del self.took[sid]
        if mid not in self.called:
            self.called[mid] = t - self.snap.at
            self.left -= 1

    def _serve(self, c: Counter, tk: Ticket, t: float) -> None:
        ln = self.learned
        if self._u(tk.id, _NO_SHOW) < ln.no_show_p.get(tk.service_id, 0.0):
            self.push(t + ln.no_show_s, _END, (c.id, tk.id, True))
        else:
            self.push(t + ln.draw(self._u(tk.id, _SERVICE), tk.service_id, c.id), _END, (c.id, tk.id, False))

    def _end(self, cid: str, tid: str, no_show: bool, t: float) -> None:
        c = self.state.counters[cid]
        if c.ticket_id != tid:
            return
        self._apply(engine.MarkNoShow(cid) if no_show else engine.Complete(cid), t)
        tk = self.state.tickets.get(tid)
        if tk is not None and tk.state in (TicketState.done, TicketState.no_show):
            # forgotten once final; a one-stop visit's finished step queued it for its next service, where
            # a counter of this future will call it (dropping it there left a queue entry with no ticket)
            del self.state.tickets[tid]
        if cid in self.closing:
            self.closing.discard(cid)
            self._apply(engine.CloseCounter(cid), t)
            self._give_up_if_stuck()
        else:
            self._call(cid, t)

    def _open(self, cid: str, services: tuple[str, ...] | None, t: float) -> None:
        c = self.state.counters.get(cid)
        if c is None:
            return
        self.closing.discard(cid)
        if c.state != CounterState.open:
            known = tuple(s for s in services or () if s in self.state.services)
            try:
                self._apply(engine.OpenCounter(cid, services=known or None), t)
            except QueueError:
                return
        self._call(cid, t)

    def _close(self, cid: str, t: float) -> None:
        c = self.state.counters.get(cid)
        if c is None or c.state == CounterState.closed:
            return
        if c.ticket_id is not None:
            self.closing.add(cid)  # the citizen at the counter is finished first
        else:
            self._apply(engine.CloseCounter(cid), t)
            self._give_up_if_stuck()

    def _give_up_if_stuck(self) -> None:
        """End the future once no counter, open or due to open, serves a marker still waiting."""
        waiting = {self.snap.markers[m][0] for m in self.snap.markers if m not in self.called}
        serving = {s for c in self.state.counters.values() if c.state == CounterState.open for s in c.services}
        serving |= {s for _, kind, _, p in self.heap if kind == _OPEN
                    for s in cast(tuple[str, tuple[str, ...]], p)[1]}
        if not waiting & serving:
            self.left = 0


def _idle_order(c: Counter) -> tuple[float, str]:
    return (c.idle_since if c.idle_since is not None else -math.inf, c.id)


def _clone(base: State) -> State:
    """A copy to run one future in: the tickets and counters copied, the rest shared (never changed)."""
    tickets = {tid: copy.copy(t) for tid, t in base.tickets.items()}
    st = State(policy=base.policy, services=base.services,
               counters={cid: copy.copy(c) for cid, c in base.counters.items()},
               tickets=tickets, day=base.day, numbers=dict(base.numbers), last_seq=base.last_seq,
               predictor=_Unheard(), closed=base.closed, reopened=base.reopened)
    st.queues = {sid: {tid: tickets[tid] for tid in q} for sid, q in base.queues.items()}
    st.specials = {sid: {tid: tickets[tid] for tid in q} for sid, q in base.specials.items()}
    return st


# ---------------------------------------------------------------------------- the table


def run_futures(snap: Snapshot, futures: int = FUTURES, rng: random.Random | None = None,
                max_age_s: float = MAX_AGE_S, budget_s: float = BUDGET_S, seed: int | None = None,
                most: int | None = None, top_up: int = TOP_UP_COMMANDS) -> ForecastTable:
    """Run ``futures`` futures from ``snap`` and read each position's mean wait from them.

    ``seed`` fixes the futures' random numbers (``Draws``): the forecaster passes the same one every
    refresh, so an unchanged hall gives the same table; without it ``rng`` (or the system) draws one.
    Up to ``most`` futures run while they take fewer than ``top_up`` engine commands in all, doubling
    (32, 64, 128, 256): a small hall gets a finer table for little CPU.

    A refresh shares the server's interpreter with the issue path: past ``budget_s`` of CPU no
    further future starts (``MIN_FUTURES`` always run), and each future stops after
    ``MAX_COMMANDS``; positions it never reached are unknown and the closed forms answer them."""
    began = time.thread_time()
    if seed is None:
        seed = (rng or random.Random()).getrandbits(64)
    base = _mix(seed)  # the n-th future's numbers: unrelated to any other seed's futures
    sums: dict[str, float] = {}
    hits: dict[str, int] = {}
    done = commands = 0
    while done < futures:
        future = _Future(snap, Draws(_mix(base + done)))
        for tid, w in future.run().items():
            sums[tid] = sums.get(tid, 0.0) + w
            hits[tid] = hits.get(tid, 0) + 1
        done += 1
        commands += future.commands
        if done >= MIN_FUTURES and time.thread_time() - began > budget_s:
            logger.info("wait forecast: %d futures of %d within its %.1f s budget", done, futures, budget_s)
            break
        if done == futures and most is not None and 2 * done <= most and 2 * commands <= top_up:
            futures = 2 * done  # twice as many take about twice the commands: still within the top-up
    futures = done
    rows: dict[tuple[str, bool], dict[int, float]] = {}
    for tid, (sid, prio, pos) in snap.markers.items():
        k = hits.get(tid, 0)
        rows.setdefault((sid, prio), {})[pos] = sums[tid] / k if k >= MIN_CALLED * futures else math.nan
    normal: dict[str, tuple[int, tuple[float, ...]]] = {}
    priority: dict[str, tuple[int, tuple[float, ...]]] = {}
    step: dict[str, float] = {}
    for (sid, prio), cells in rows.items():
        first = min(cells)
        waits = _filled(cells, first)
        (priority if prio else normal)[sid] = (first, waits)
        if not prio:
            step[sid] = _step(snap, sid, waits)
    return ForecastTable(at=snap.at, max_age_s=max_age_s, normal=normal, priority=priority, step=step,
                         futures=futures, cpu_s=time.thread_time() - began, turned_busy=snap.turned_busy)


def _filled(cells: dict[int, float], first: int) -> tuple[float, ...]:
    """Every position from ``first`` to the last marker's, read straight between two markers."""
    known = sorted(cells)
    out: list[float] = []
    for a, b in zip(known, known[1:], strict=False):
        wa, wb = cells[a], cells[b]
        out += [wa + (wb - wa) * (i / (b - a)) for i in range(b - a)]
    out.append(cells[known[-1]])
    return tuple(out)


def _step(snap: Snapshot, sid: str, waits: tuple[float, ...]) -> float:
    """What one more person ahead costs past the table's end: the queue's own pace where it has
    one, else a call's mean time over the counters serving the service now."""
    known = [w for w in waits if not math.isnan(w)]
    if len(known) >= 2 and known[-1] > known[0]:
        return (known[-1] - known[0]) / (len(known) - 1)
    servers = sum(1.0 / len(c.services) for c in snap.state.counters.values()
                  if c.state == CounterState.open and sid in c.services)
    mean = snap.learned.mean_s.get(sid, 600.0)
    return mean / servers if servers > 0 else 0.0


def forecast(live: State, now: float, futures: int = FUTURES, rng: random.Random | None = None,
             max_age_s: float = MAX_AGE_S) -> ForecastTable:
    """Snapshot and futures in one call (for a caller that holds the state alone, like a replay)."""
    return run_futures(take_snapshot(live, now), futures, rng, max_age_s)
