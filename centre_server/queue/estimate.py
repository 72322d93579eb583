"""Estimated wait: the queue-length predictor, learning everything from the centre itself.

For a ticket with ``q`` people ahead at a service whose open counters together
finish its tickets at a rate ``C`` (each shared counter counted by the share of
its time the service gets), the classical estimate once every counter is busy is
E[W | q] = (q + 1) / C (Whitt 1999, "Predicting queueing delays"). Its known
extensions are all here, each with parameters learned online from the centre's
own events (no oracle):

* service time per service: a running mean (plain over the first few hundred
  tickets, then slowly forgetting), started from the menu's typical time;
* no-shows: the share of calls that end in a no-show and how long a no-show holds
  a counter, so a call costs ``(1 - p) * service + p * no_show_time`` on average;
* abandonment (a waiting ticket cancelled): the hazard ``θ`` = abandonments per
  second of waiting, so the people ahead thin out and W = Σ_{k=0..q} 1/(C + kθ);
* priority arrivals jump ahead of a normal ticket while it waits: its effective
  rate is ``C - λ_priority`` (arrival rates are decayed counts, time constant 1 h);
* shared counters: a counter serving several services calls the longest-waiting
  ticket among them, so a newcomer competes with the work already queued there.
  Each service gets a share in proportion to its load per counter: the work now
  waiting (the newcomer's own call included) plus the learned arrival rate × call
  time over a short horizon of those who may be called before the newcomer (under
  longest-wait-first the other services' priority citizens only: counting every
  expected arrival gave a newcomer 1/k of counters shared by k services, 604 s
  printed where the futures and the day said about 100 s). The newcomer's own call is never zero, so a service
  whose arrivals have faded overnight still gets the counter once its turn comes
  (it once got ~1e-6 of it and a printed wait of 39,444 h);
* staffing that changes through the day: the counters open at each moment of the
  previous day that had any are the plan, so the capacity ahead is scaled by
  plan(t) / plan(now) and the wait is found by stepping through the changes.

When no open counter serves the service, the plan (yesterday's staffing) says
whether one is due to open before closing; if none is, the estimate is None and
the screens say so instead of printing a number. A documented guard caps any
estimate at the time left until closing plus an hour (12 h without a closing
time) and logs it: a figure past that is a fault, never something to print.

``observe`` is called by the engine for each finished service; ``record`` takes
every event (the engine's ``evolve`` calls it).

The forecast (issue 18). Beside those closed forms the predictor learns what a
simulation of the centre needs: recent service times per service (their
distribution, not only the mean), each counter's speed against the service
means, arrivals per service, class and quarter-hour of the day over past days,
and the abandonment hazard by time already waited. ``queue/forecast.py`` runs the
engine forward from the live state with them and leaves a ``ForecastTable``
here (``forecast``); ``estimate`` reads that table first (O(1)) while it is
fresh, and falls back to the closed forms above when it is stale or missing.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from centre_server.contract import (
    CounterClosed,
    CounterEvent,
    CounterPaused,
    CounterState,
    Event,
    TicketCalled,
    TicketCancelled,
    TicketDone,
    TicketIssued,
    TicketNoShow,
    TicketState,
    TicketTransferred,
)
from centre_server.contract.events import TicketParked
from centre_server.queue.model import Counter, Policy, Ticket

logger = logging.getLogger(__name__)

MIN_SERVICE_S = 10.0
MAX_SERVICE_S = 4 * 3600.0
RATE_TAU_S = 3600.0  # time constant of the arrival-rate estimates
NO_SHOW_PRIOR = (1.0, 20.0)  # pseudo no-shows over pseudo calls: 5% until the centre says otherwise
DEFAULT_NO_SHOW_S = 60.0
SHARE_HORIZON_S = 900.0  # arrivals expected over this long count towards a shared counter's split
GUARD_AFTER_CLOSING_S = 3600.0  # no estimate runs past closing by more than this (logged)
GUARD_NO_CLOSING_S = 12 * 3600.0
CLOSING_REASONS = ("day_rollover", "day_closed")
SAMPLES_KEPT = 1000  # recent service times per service, the forecast's distribution (about a week of a busy one)
SPEED_PRIOR = 20.0  # a counter's speed starts as this many services at the common pace
BIN_S = 900.0  # arrivals are learned per quarter-hour of the day
BINS = int(86400 / BIN_S)
PROFILE_DAYS = 7  # the arrival profile is about the mean of the last week's days
# abandonment hazard per span of time already waited (seconds): patience is rarely memoryless
PATIENCE_EDGES = (0.0, 600.0, 1200.0, 2400.0, 4800.0, math.inf)
PROFILE_SMOOTH_BINS = 2  # arrival rates read over this many quarter-hours either side (weights 1-2-3-2-1)
PRIORITY_PRIOR = 50.0  # a service's priority share starts as the centre's, worth this many arrivals
STOP_MATCH_S = 1800.0  # closes of a counter this near in the day, on different days, end the same shift
LEARNED_VERSION = 1  # the layout of ``WaitPredictor.learned``; another is not read back


class QueueView(Protocol):
    """What the estimator reads of the engine's state (the engine's ``State`` is one)."""

    policy: Policy
    tickets: dict[str, Ticket]
    counters: dict[str, Counter]
    queues: dict[str, dict[str, Ticket]]


@dataclass
class _Rate:
    """An arrival rate per second as an exponentially decayed count."""

    value: float = 0.0
    at: float | None = None

    def add(self, now: float, tau: float = RATE_TAU_S) -> None:
        self.value = self.read(now, tau) + 1.0 / tau
        self.at = now

    def read(self, now: float, tau: float = RATE_TAU_S) -> float:
        if self.at is None:
            return 0.0
        return self.value * math.exp(-max(0.0, now - self.at) / tau)


@dataclass(frozen=True)
class ForecastTable:
    """Mean waits read from simulated futures of the centre, per service and position.

    ``normal[s] = (first, waits)``: a normal ticket of ``s`` with ``first + i``
    people ahead is called ``waits[i]`` seconds after ``at`` (NaN: not within the
    forecast's horizon in most futures); ``priority`` the same for a priority
    class. Past either end a position costs ``step[s]`` seconds more (or less).
    Reading it is O(1): the issue path never simulates.
    """

    at: float
    max_age_s: float
    normal: dict[str, tuple[int, tuple[float, ...]]]
    priority: dict[str, tuple[int, tuple[float, ...]]]
    step: dict[str, float]
    futures: int = 0
    cpu_s: float = 0.0  # what the futures cost to run
    # per service, counters that turned busy less those that turned free since the snapshot (kept
    # by WaitPredictor.record): each is one more citizen ahead than the table's position says
    turned_busy: dict[str, int] = field(default_factory=dict)

    def fresh(self, now: float) -> bool:
        return -1.0 <= now - self.at <= self.max_age_s

    def wait(self, service_id: str, ahead: int, priority: bool = False) -> float | None:
        """Seconds until a ticket with ``ahead`` people before it is called; None when unknown."""
        row = (self.priority if priority else self.normal).get(service_id)
        if row is None:
            return None
        first, waits = row
        if not waits:
            return None
        i = ahead + self.turned_busy.get(service_id, 0) - first
        if 0 <= i < len(waits):
            w = waits[i]
        elif i >= len(waits):
            w = waits[-1] + (i - len(waits) + 1) * self.step.get(service_id, 0.0)
        else:
            w = waits[0] + i * self.step.get(service_id, 0.0)
        if math.isnan(w):
            return None
        return max(0.0, w)


@dataclass
class WaitPredictor:
    window: int = 500  # service times: plain mean over this many, then forget slowly
    mean_service_s: dict[str, float] = field(default_factory=dict)
    observed: dict[str, int] = field(default_factory=dict)
    calls: dict[str, float] = field(default_factory=dict)  # calls that ended (done or no-show)
    no_shows: dict[str, float] = field(default_factory=dict)
    no_show_s: float = DEFAULT_NO_SHOW_S
    no_show_seen: int = 0
    abandoned: float = 0.0  # waiting tickets that left
    exposure_s: float = 0.0  # seconds of waiting seen (served, left or still waiting at the end)
    arrivals: dict[str, _Rate] = field(default_factory=dict)
    priority_arrivals: dict[str, _Rate] = field(default_factory=dict)
    # staffing through the day: local date -> [(second of day, {open counter: its services})]
    staffing: dict[str, list[tuple[float, dict[str, tuple[str, ...]]]]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)  # recent service times (a ring)
    sample_at: dict[str, int] = field(default_factory=dict)
    # counter -> (sum, sum of squares, number) of its service times' ratios to the services' means
    speed: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    # arrivals: (service, priority class) -> count per quarter-hour, today and as the past days' mean
    counted_day: str = ""
    counts: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    profile: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    profile_days: int = 0
    abandoned_by: list[float] = field(default_factory=lambda: [0.0] * (len(PATIENCE_EDGES) - 1))
    exposure_by: list[float] = field(default_factory=lambda: [0.0] * (len(PATIENCE_EDGES) - 1))
    # when each counter that closed or paused stopped calling: local date -> {(counter, second it
    # closed): the second between its last call and its close, the likely end of the shift}
    stops: dict[str, dict[tuple[str, int], float]] = field(default_factory=dict)
    last_call: dict[str, float] = field(default_factory=dict)  # counter -> epoch of its last call
    # the span each close's end of shift lies in: local date -> {(counter, second it closed): (from, to)}
    stop_spans: dict[str, dict[tuple[str, int], tuple[float, float]]] = field(default_factory=dict)
    last_free: dict[str, float] = field(default_factory=dict)  # counter -> epoch its last citizen left it
    forecast: ForecastTable | None = None  # left by the forecaster (queue/forecast.py), read first
    # the counts of counters turned busy since each snapshot still in use (the table's, and the one
    # whose futures are running): a counter that was free when the futures began is busy by now
    busy_counts: list[dict[str, int]] = field(default_factory=list)
    # counters that let a citizen go while others of their services waited: in the futures they go on serving,
    # so neither that moment nor their next call is a counter turning free or busy (``_freed``)
    between: set[str] = field(default_factory=set)
    _tz: ZoneInfo | None = None
    # read off the profile, kept until it changes (a day folded in, or restored)
    _active: list[bool] | None = None
    _shares: dict[str, float] | None = None

    # ------------------------------------------------------------ learning

    def prime(self, service_id: str, typical_s: float) -> None:
        self.mean_service_s.setdefault(service_id, max(MIN_SERVICE_S, float(typical_s)))

    def retype(self, service_id: str, typical_s: float) -> None:
        """A new typical time (the national catalogue's): the starting point again, unless services were timed."""
        if not self.observed.get(service_id):
            self.mean_service_s[service_id] = max(MIN_SERVICE_S, float(typical_s))

    def observe(self, service_id: str, duration_s: float, counter_id: str | None = None) -> None:
        """One finished service: move the service's mean towards it."""
        d = min(MAX_SERVICE_S, max(MIN_SERVICE_S, duration_s))
        n = self.observed.get(service_id, 0)
        old = self.mean_service_s.get(service_id, d)
        # the menu's typical time counts as a couple of observations, then a plain mean
        a = max(1.0 / self.window, 1.0 / (n + 2))
        self.mean_service_s[service_id] = old + a * (d - old)
        self.observed[service_id] = n + 1
        self.calls[service_id] = self.calls.get(service_id, 0.0) + 1.0
        ring = self.samples.setdefault(service_id, [])
        if len(ring) < SAMPLES_KEPT:
            ring.append(d)
        else:
            i = self.sample_at.get(service_id, 0)
            ring[i] = d
            self.sample_at[service_id] = (i + 1) % SAMPLES_KEPT
        if counter_id is not None:  # how this counter's clerks pace against the service's mean
            total, squares, k = self.speed.get(counter_id, (0.0, 0.0, 0.0))
            ratio = min(10.0, max(0.1, d / old))
            if k >= self.window:
                total, squares, k = total * (k - 1) / k, squares * (k - 1) / k, k - 1
            self.speed[counter_id] = (total + ratio, squares + ratio * ratio, k + 1)

    def record(self, state: QueueView, ev: Event) -> None:
        """Learn from one event other than a finished service (``observe`` has those)."""
        d = ev.data
        if isinstance(d, CounterEvent):
            # the table was read from futures with other counters: until the next one, the closed
            # forms answer (a hall whose counters all closed must not print the old futures' waits)
            self.forecast = None
            self.between.discard(d.counter_id)  # a counter opened, closed or paused starts from what it is
            self._note_staffing(state, ev.at)
            if isinstance(d, (CounterClosed, CounterPaused)):
                day, tod = self._local(state, ev.at)
                last = self.last_call.get(d.counter_id)
                # a counter that left citizens of its services waiting had stopped calling before it
                # closed (between its last call and its close); one that left nobody waiting would have
                # called anyone who came until the close: it stopped then (a quiet lunch hour's closes)
                c = state.counters.get(d.counter_id)
                left_waiting = c is not None and any(state.queues.get(sid) for sid in c.services)
                stop = (tod - (ev.at - last) / 2 if left_waiting and last is not None and 0 <= ev.at - last < 3600.0
                        else tod)
                self.stops.setdefault(day, {})[(d.counter_id, int(tod))] = stop
                for old in sorted(self.stops)[:-3]:
                    del self.stops[old]
                self._note_stop_span(d.counter_id, day, tod, ev.at, last)
        elif isinstance(d, TicketIssued):
            sid = d.service_id
            self.arrivals.setdefault(sid, _Rate()).add(ev.at)
            if d.priority != "none":
                self.priority_arrivals.setdefault(sid, _Rate()).add(ev.at)
            self._count_arrival(state, sid, d.priority != "none", ev.at)
        elif isinstance(d, TicketCalled):
            if d.counter_id in self.between:  # the next citizen of a counter that never stood free
                self.between.discard(d.counter_id)
            elif self.busy_counts:
                self._count_busy(state, d.counter_id, +1)
            self.last_call[d.counter_id] = ev.at
            self.exposure_s += max(0.0, float(d.waited_s))
            self._expose(max(0.0, float(d.waited_s)), abandoned=False)
        elif isinstance(d, (TicketDone, TicketParked)):  # a parked citizen frees the counter too
            self._freed(state, d.counter_id)
            if d.counter_id is not None:
                self.last_free[d.counter_id] = ev.at
        elif isinstance(d, TicketTransferred):  # sent to another queue: the counter is free again
            self._freed(state, d.counter_id)
            self.last_free[d.counter_id] = ev.at
        elif isinstance(d, TicketNoShow):
            sid = d.service_id
            t = state.tickets.get(d.ticket_id)
            if t is not None and t.called_at is not None:
                self._freed(state, d.counter_id)
            if d.counter_id:  # empty: a passed-over ticket's grace ran out, no counter held it
                self.last_free[d.counter_id] = ev.at
            self.calls[sid] = self.calls.get(sid, 0.0) + 1.0
            self.no_shows[sid] = self.no_shows.get(sid, 0.0) + 1.0
            t = state.tickets.get(d.ticket_id)
            if t is not None and t.called_at is not None:
                held = max(0.0, ev.at - (t.first_called_at or t.called_at))
                self.no_show_seen += 1
                self.no_show_s += (held - self.no_show_s) / min(self.no_show_seen + 1, self.window)
        elif isinstance(d, TicketCancelled):
            t = state.tickets.get(d.ticket_id)
            if t is not None and t.counter_id is not None and t.state in (TicketState.called, TicketState.serving):
                self._freed(state, t.counter_id)  # cancelled at the counter: the counter is free again
                self.last_free[t.counter_id] = ev.at
            if t is None or t.called_at is not None:
                return
            waited = max(0.0, ev.at - t.queued_at)
            self.exposure_s += waited
            if d.reason not in CLOSING_REASONS:
                self.abandoned += 1.0
            self._expose(waited, abandoned=d.reason not in CLOSING_REASONS)

    def _note_stop_span(self, counter_id: str, day: str, tod: float, at: float, last_call: float | None) -> None:
        """Where this close's end of shift lies: between the last call and the close when the counter
        served until it closed (it stopped calling somewhere in that service), at the close itself
        when it stood free before closing (a free counter closes the moment its shift ends)."""
        freed = self.last_free.get(counter_id)
        served_to_close = (last_call is not None and freed is not None and 0.0 <= at - freed <= 1.0
                           and freed >= last_call and at - last_call < 3600.0)
        lo = tod - (at - last_call) if served_to_close and last_call is not None else tod
        self.stop_spans.setdefault(day, {})[(counter_id, int(tod))] = (lo, tod)
        for old in sorted(self.stop_spans)[:-3]:
            del self.stop_spans[old]

    def _stops(self, day: str) -> dict[tuple[str, int], float]:
        """When ``day``'s closing counters stopped calling, each narrowed by the earlier days.

        One day only says a shift ended somewhere between a counter's last call and its close
        (halfway is a guess that can be ten minutes off when the last service was long); the same
        shift's end on other days lies in their spans too. Where the spans agree, the end is within
        all of them: halfway through their overlap. A day whose span does not meet the others (that
        clerk left early) is passed over."""
        stops = dict(self.stops.get(day, {}))
        earlier: dict[str, list[tuple[float, float, float]]] = {}
        for d in sorted(self.stop_spans, reverse=True):
            if d < day:
                for (cid, at), (lo, hi) in self.stop_spans[d].items():
                    earlier.setdefault(cid, []).append((float(at), lo, hi))
        for (cid, at), (lo, hi) in self.stop_spans.get(day, {}).items():
            met = 0
            for at2, lo2, hi2 in earlier.get(cid, ()):
                if abs(at2 - at) <= STOP_MATCH_S and max(lo, lo2) <= min(hi, hi2):
                    lo, hi, met = max(lo, lo2), min(hi, hi2), met + 1
            if met:
                stops[(cid, at)] = (lo + hi) / 2
        return stops

    def start_counting(self) -> dict[str, int]:
        """At a snapshot: a new count of counters turning busy, for the table its futures will make."""
        counts: dict[str, int] = {}
        self.busy_counts = [*self.busy_counts[-1:], counts]
        return counts

    def install(self, table: ForecastTable) -> None:
        """The new table replaces the old (one attribute: a reader gets one or the other whole)."""
        self.forecast = table
        self.busy_counts = [table.turned_busy]

    def _freed(self, state: QueueView, counter_id: str | None) -> None:
        """A counter let its citizen go. With citizens of its services still waiting, its clerk calls the next
        in seconds and the table's futures have it serving throughout: counted free until then, every
        newcomer of its services read one place too far forward (K004 told 31 min in the second after a
        Complete, 52 min from the next table). So it is not counted free, nor busy at that next call: once the
        clerk calls, the figures are what counting both gave (a service's own queue one shorter)."""
        c = state.counters.get(counter_id or "")
        # someone it can call (a passed-over remote ticket is called only once its citizen checks in)
        if c is not None and any(t.checked_in or t.passed_over_at is None
                                 for sid in c.services for t in state.queues.get(sid, {}).values()):
            self.between.add(c.id)
        elif self.busy_counts:
            self._count_busy(state, counter_id, -1)

    def _count_busy(self, state: QueueView, counter_id: str | None, step: int) -> None:
        c = state.counters.get(counter_id or "")
        if c is None:
            return
        for counts in self.busy_counts:
            for sid in c.services:
                counts[sid] = counts.get(sid, 0) + step

    def _expose(self, waited: float, abandoned: bool) -> None:
        """A wait that ended (called, left, or cut by the day's close): its time at risk, span by span."""
        for i in range(len(self.exposure_by)):
            lo, hi = PATIENCE_EDGES[i], PATIENCE_EDGES[i + 1]
            if waited <= lo:
                break
            self.exposure_by[i] += min(waited, hi) - lo
            if abandoned and waited < hi:
                self.abandoned_by[i] += 1.0

    def _count_arrival(self, state: QueueView, service_id: str, priority: bool, at: float) -> None:
        day, tod = self._local(state, at)
        if day != self.counted_day:
            self._fold_day()
            self.counted_day = day
        row = self.counts.get((service_id, priority))
        if row is None:
            row = self.counts[(service_id, priority)] = [0.0] * BINS
        row[min(BINS - 1, int(tod // BIN_S))] += 1.0

    def _fold_day(self) -> None:
        """Today's arrivals join the profile of past days (a mean, then a week's moving mean)."""
        if not self.counts:
            return
        w = max(1.0 / (self.profile_days + 1), 1.0 / PROFILE_DAYS)
        for key in set(self.profile) | set(self.counts):
            old = self.profile.get(key) or [0.0] * BINS
            new = self.counts.get(key) or [0.0] * BINS
            self.profile[key] = [a + w * (b - a) for a, b in zip(old, new, strict=True)]
        self.profile_days += 1
        self.counts = {}
        self._active = self._shares = None

    def _local(self, state: QueueView, at: float) -> tuple[str, float]:
        if self._tz is None or self._tz.key != state.policy.timezone:
            self._tz = ZoneInfo(state.policy.timezone)
        moment = datetime.fromtimestamp(at, self._tz)
        return (moment.date().isoformat(),
                moment.hour * 3600.0 + moment.minute * 60.0 + moment.second + moment.microsecond / 1e6)

    def _note_staffing(self, state: QueueView, at: float) -> None:
        day, tod = self._local(state, at)
        open_now = {c.id: tuple(c.services) for c in state.counters.values() if c.state == CounterState.open}
        timeline = self.staffing.setdefault(day, [])
        if timeline and timeline[-1][0] == tod:
            timeline[-1] = (tod, open_now)
        else:
            timeline.append((tod, open_now))
        for old in sorted(self.staffing)[:-3]:  # the plan is the last day with counters; keep a few
            del self.staffing[old]

    def _plan(self, day: str) -> list[tuple[float, dict[str, tuple[str, ...]]]] | None:
        """The staffing timeline of the last earlier day that had one: the plan for today."""
        earlier = [d for d in self.staffing if d < day and self.staffing[d]]
        return self.staffing[max(earlier)] if earlier else None

    def plan_of(self, day: str) -> tuple[list[tuple[float, dict[str, tuple[str, ...]]]],
                                         dict[tuple[str, int], float]]:
        """Today's plan (the last earlier day's staffing) and when its counters stopped calling."""
        earlier = [d for d in self.staffing if d < day and self.staffing[d]]
        if not earlier:
            return [], {}
        return self.staffing[max(earlier)], self._stops(max(earlier))

    @staticmethod
    def _planned_servers(plan: list[tuple[float, dict[str, tuple[str, ...]]]], tod: float,
                         service_id: str) -> tuple[float, float]:
        """Counters (1/their services each) planned at ``tod``, and when the plan next changes."""
        i = bisect.bisect_right([p[0] for p in plan], tod) - 1
        n = 0.0 if i < 0 else sum(1.0 / len(sv) for sv in plan[i][1].values() if service_id in sv)
        nxt = plan[i + 1][0] if i + 1 < len(plan) else math.inf
        return n, nxt

    # ------------------------------------------------------------ kept across restarts

    def learned(self) -> dict[str, Any]:
        """What the centre has learned of itself, as plain JSON values (issue 18: a restart must not
        forget the arrival profile, the staffing plan, the no-show share, the patience and the
        counters' paces). Copies: call it under the centre's lock, serialise outside it."""
        return {
            "version": LEARNED_VERSION,
            "mean_service_s": dict(self.mean_service_s), "observed": dict(self.observed),
            "calls": dict(self.calls), "no_shows": dict(self.no_shows),
            "no_show_s": self.no_show_s, "no_show_seen": self.no_show_seen,
            "abandoned": self.abandoned, "exposure_s": self.exposure_s,
            "arrivals": {k: [r.value, r.at] for k, r in self.arrivals.items()},
            "priority_arrivals": {k: [r.value, r.at] for k, r in self.priority_arrivals.items()},
            "staffing": {d: [[tod, {c: list(sv) for c, sv in open_now.items()}] for tod, open_now in tl]
                         for d, tl in self.staffing.items()},
            "samples": {k: [round(x, 1) for x in ring] for k, ring in self.samples.items()},
            "sample_at": dict(self.sample_at),
            "speed": {c: list(v) for c, v in self.speed.items()},
            "counted_day": self.counted_day,
            "counts": [[sid, prio, list(row)] for (sid, prio), row in self.counts.items()],
            "profile": [[sid, prio, [round(x, 4) for x in row]] for (sid, prio), row in self.profile.items()],
            "profile_days": self.profile_days,
            "abandoned_by": list(self.abandoned_by), "exposure_by": list(self.exposure_by),
            "stops": {d: [[c, at, stop] for (c, at), stop in st.items()] for d, st in self.stops.items()},
            "last_call": dict(self.last_call),
            "stop_spans": {d: [[c, at, lo, hi] for (c, at), (lo, hi) in st.items()]
                           for d, st in self.stop_spans.items()},
            "last_free": dict(self.last_free),
        }

    def restore(self, saved: dict[str, Any]) -> bool:
        """Take back what ``learned`` kept. A blob of another version or a damaged one is refused
        whole (logged; the predictor stays as it was, learning afresh): never a half-read state."""
        try:
            fresh = _restored(saved)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            logger.warning("learned rates not restored (%s): the estimates start from the menu's times", err)
            return False
        # a service added to the menu since the save keeps the typical time it was primed with
        fresh["mean_service_s"] = {**self.mean_service_s, **fresh["mean_service_s"]}
        for name, value in fresh.items():
            setattr(self, name, value)
        self._active = self._shares = None
        return True

    # ------------------------------------------------------------ figures

    def no_show_share(self, service_id: str) -> float:
        a, b = NO_SHOW_PRIOR
        return (self.no_shows.get(service_id, 0.0) + a) / (self.calls.get(service_id, 0.0) + b)

    def arrival_rate(self, service_id: str, priority: bool, day: str, tod: float, now: float) -> float:
        """Arrivals per second expected at ``tod`` of ``day``: the past days' profile, else the
        decayed rate of today (the first day has no past)."""
        if self.counted_day and self.counted_day < day:
            self._fold_day()  # yesterday's counts are the past now
            self.counted_day = day
        if self.profile_days > 0:
            return self._profiled_rate(service_id, priority, min(BINS - 1, int(tod // BIN_S)))
        rate = (self.priority_arrivals if priority else self.arrivals).get(service_id)
        if rate is None:
            return 0.0
        lam = rate.read(now)
        if not priority:
            jump = self.priority_arrivals.get(service_id)
            lam = max(0.0, lam - (jump.read(now) if jump else 0.0))
        return lam

    def _profiled_rate(self, service_id: str, priority: bool, b: int) -> float:
        """The past days' arrivals per second at quarter-hour ``b``, smoothed where one day is too few.

        A service's priority citizens are a handful per quarter-hour (often 0 or 1 on a given day):
        read bin by bin, one day's profile is mostly noise, and each phantom or missed priority
        citizen moves every wait behind it by a whole service. So the rate is the service's share
        of priority citizens (its own, shrunk towards the centre's over all services) times all its
        arrivals, those smoothed over the neighbouring quarter-hours (weights 1-2-3-2-1) within the
        hours the centre had arrivals at all (never before its doors open nor after they close)."""
        normal = self.profile.get((service_id, False))
        special = self.profile.get((service_id, True))
        if normal is None and special is None:
            return 0.0
        total = [a + c for a, c in zip(normal or [0.0] * BINS, special or [0.0] * BINS, strict=True)]
        active = self._active_bins()
        if not active[b]:
            return 0.0
        num = den = 0.0
        for k in range(-PROFILE_SMOOTH_BINS, PROFILE_SMOOTH_BINS + 1):
            if 0 <= b + k < BINS and active[b + k]:
                w = PROFILE_SMOOTH_BINS + 1 - abs(k)
                num += w * total[b + k]
                den += w
        all_rate = num / den / BIN_S if den > 0 else 0.0
        share = self._priority_share(service_id)
        return all_rate * (share if priority else 1.0 - share)

    def _active_bins(self) -> list[bool]:
        """The quarter-hours in which the centre had any arrival in the past days' profile."""
        if self._active is None:
            sums = [0.0] * BINS
            for row in self.profile.values():
                for i, x in enumerate(row):
                    sums[i] += x
            self._active = [x > 0.0 for x in sums]
        return self._active

    def _priority_share(self, service_id: str) -> float:
        """The service's share of priority arrivals, shrunk towards the centre's (PRIORITY_PRIOR arrivals' worth)."""
        if self._shares is None:
            totals: dict[tuple[str, bool], float] = {k: sum(row) for k, row in self.profile.items()}
            pri = sum(v for (_, prio), v in totals.items() if prio)
            every = sum(totals.values())
            pooled = pri / every if every > 0 else 0.0
            self._shares = {}
            for sid in {k[0] for k in totals}:
                own_p = totals.get((sid, True), 0.0)
                own = own_p + totals.get((sid, False), 0.0)
                self._shares[sid] = (own_p + PRIORITY_PRIOR * pooled) / (own + PRIORITY_PRIOR)
        return self._shares.get(service_id, 0.0)

    def hazards(self) -> list[float]:
        """Abandonments per second of waiting in each span of ``PATIENCE_EDGES`` (0 until seen)."""
        return [a / e if a > 0 and e > 0 else 0.0 for a, e in zip(self.abandoned_by, self.exposure_by, strict=True)]

    def counter_speeds(self) -> dict[str, float]:
        """Each counter's service times against the services' means (1.0: the common pace).

        Shrunk to 1.0 by how much the counters truly differ (empirical Bayes): the spread of their
        mean ratios beyond what their own sampling noise explains. Where clerks all work at one
        pace, a counter's few dozen services must not make it look 10 % slow or fast."""
        stats = [(t / k, max(0.0, q / k - (t / k) ** 2) / k) for t, q, k in self.speed.values() if k >= 2]
        if len(stats) < 2:
            return {c: 1.0 for c in self.speed}
        mean = sum(r for r, _ in stats) / len(stats)
        spread = sum((r - mean) ** 2 for r, _ in stats) / (len(stats) - 1)
        noise = sum(v for _, v in stats) / len(stats)
        # a difference the noise could make (a spread under twice the noise, or too few counters to
        # tell) is not learned: two clerks at one pace would otherwise differ by chance half the time
        between = spread - noise if len(stats) >= 3 and spread > 2.0 * noise else 0.0
        out: dict[str, float] = {}
        for c, (t, q, k) in self.speed.items():
            if k < 2 or between <= 0.0:
                out[c] = 1.0
                continue
            r, v = t / k, max(1e-9, (q / k - (t / k) ** 2) / k)
            w = between / (between + v)
            out[c] = min(4.0, max(0.25, 1.0 + w * (r - 1.0) * k / (k + SPEED_PRIOR)))
        return out

    def abandonment_rate(self) -> float:
        """Abandonments per second of waiting (exponential patience, maximum likelihood)."""
        if self.abandoned == 0.0:
            return 0.0
        return self.abandoned / max(self.exposure_s, 3600.0)

    def call_time_s(self, service_id: str) -> float:
        """What one call costs a counter on average: a service, or a no-show's wait."""
        mean = self.mean_service_s.get(service_id, 600.0)
        p = self.no_show_share(service_id)
        return (1.0 - p) * mean + p * self.no_show_s

    def _demand_per_counter(self, state: QueueView, sid: str, now: float, open_counters: dict[str, int],
                            own_ahead: int | None) -> float:
        """Work per open counter that competes for a shared counter: queued now (for the ticket's
        own service, the ``own_ahead`` before it and its own call) and what may come over a short
        horizon and still be called first: under longest-wait-first only priority citizens of the
        other services (a normal one who comes later is called later), under other call orders
        anyone (the forecast draws the same arrivals)."""
        pol = state.policy
        if pol.call_order == "skill_order" or pol.prefer_breached_target:
            rate = self.arrivals.get(sid)  # anyone who comes may be called first
        elif own_ahead is None:
            rate = self.priority_arrivals.get(sid)  # longest wait first: only a priority citizen jumps
        else:
            rate = None  # the newcomer's own priority arrivals slow its rate already (``_estimate``)
        lam = rate.read(now) if rate else 0.0
        call = self.call_time_s(sid)
        queued = len(state.queues.get(sid, ())) if own_ahead is None else own_ahead + 1
        return (queued * call + lam * call * SHARE_HORIZON_S) / (open_counters.get(sid) or 1)

    def share(self, state: QueueView, counter_services: list[str], service_id: str, now: float,
              open_counters: dict[str, int] | None = None, ahead: int = 0) -> float:
        """The part of a shared counter's time ``service_id`` gets: its load per counter."""
        if len(counter_services) == 1:
            return 1.0
        if open_counters is None:
            open_counters = self._open_counters(state)
        demand = {sid: self._demand_per_counter(state, sid, now, open_counters,
                                                ahead if sid == service_id else None)
                  for sid in counter_services}
        return demand[service_id] / sum(demand.values())  # > 0: the newcomer's own call is in it

    @staticmethod
    def _open_counters(state: QueueView) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in state.counters.values():
            if c.state == CounterState.open:
                for sid in c.services:
                    out[sid] = out.get(sid, 0) + 1
        return out

    def estimate(self, state: QueueView, service_id: str, ahead: int, now: float,
                 priority: bool = False, closes_at: float | None = None) -> int | None:
        """Seconds a newcomer with ``ahead`` people before it may wait; None when no open counter
        serves the service and none is planned to open before ``closes_at``.

        A fresh forecast table answers first; without one (or when it knows nothing of the
        service) the closed forms do, as before the forecast existed."""
        table = self.forecast
        raw: float | None = None
        if ahead < self._free_for(state, service_id, priority):
            raw = 0.0  # an open counter stands idle for it: the live state, not a table of earlier futures
        elif table is not None and table.fresh(now):
            raw = table.wait(service_id, ahead, priority)
        if raw is None:
            raw = self._estimate(state, service_id, ahead, now, priority, closes_at)
        if raw is None:
            return None
        bound = (max(0.0, closes_at - now) + GUARD_AFTER_CLOSING_S) if closes_at is not None else GUARD_NO_CLOSING_S
        if raw > bound:
            logger.warning("estimate for %s (%d ahead) of %.0f s is past the guard of %.0f s: capped",
                           service_id, ahead, raw, bound)
            return int(bound)
        return int(round(raw))

    @staticmethod
    def _free_for(state: QueueView, service_id: str, priority: bool) -> int:
        """Idle open counters serving ``service_id`` that no other service's waiting ticket takes first.

        A shared counter calls the longest-waiting ticket of its services (priority classes first):
        a newcomer is never before a ticket of another service already waiting there, so each such
        ticket takes one of the idle counters (K013 printed "0 s" while KC001 was called first)."""
        idle = [c for c in state.counters.values()
                if c.state == CounterState.open and c.ticket_id is None and service_id in c.services]
        if not idle:
            return 0
        others: set[str] = set()
        for c in idle:
            for sid in c.services:
                if sid != service_id:
                    others.update(tid for tid, t in state.queues.get(sid, {}).items()
                                  if not priority or t.priority != "none")
        return max(0, len(idle) - len(others))

    def _estimate(self, state: QueueView, service_id: str, ahead: int, now: float,
                  priority: bool, closes_at: float | None) -> float | None:
        servers = 0.0
        open_counters: dict[str, int] | None = None
        for c in state.counters.values():
            if service_id not in c.services or c.state != CounterState.open:
                continue
            if len(c.services) > 1 and open_counters is None:
                open_counters = self._open_counters(state)
            servers += self.share(state, c.services, service_id, now, open_counters, ahead)
        theta = self.abandonment_rate()
        day, tod = self._local(state, now)
        plan = self._plan(day)
        if servers == 0.0:
            # nobody serves it now: only a counter the plan opens before closing can
            if plan is None:
                return None
            until = tod + (closes_at - now if closes_at is not None else 86400.0 - tod)
            if not self._planned_before(plan, tod, until, service_id):
                return None
            per_server = 1.0 / self.call_time_s(service_id)
            return self._step(plan, tod, service_id, ahead, per_server, theta, keep_today=False)
        free = self._free_for(state, service_id, priority)
        if ahead < free:
            return 0.0
        q = ahead - free
        rate = servers / self.call_time_s(service_id)  # tickets called per second
        if not priority:
            jump = self.priority_arrivals.get(service_id)
            if jump is not None:
                rate = max(rate - jump.read(now), 0.25 * rate)
        if plan is not None:
            planned_now, _ = self._planned_servers(plan, tod, service_id)
            if planned_now > 0:
                return self._step(plan, tod, service_id, q, rate / planned_now, theta)
        if theta <= 0.0:
            return (q + 1) / rate
        return sum(1.0 / (rate + k * theta) for k in range(q + 1))

    def _planned_before(self, plan: list[tuple[float, dict[str, tuple[str, ...]]]], tod: float,
                        until: float, service_id: str) -> bool:
        """Whether the plan has a counter serving ``service_id`` at some moment in [tod, until)."""
        t = tod
        while t < until:
            servers, nxt = self._planned_servers(plan, t, service_id)
            if servers > 0:
                return True
            t = nxt
        return False

    def _step(self, plan: list[tuple[float, dict[str, tuple[str, ...]]]], tod: float, service_id: str,
              q: int, per_server: float, theta: float, keep_today: bool = True) -> float:
        """Time for q+1 departures ahead when the capacity follows the plan (fluid steps)."""
        t = tod
        waited = 0.0
        for k in range(q, -1, -1):
            work = 1.0
            for _ in range(1000):
                servers, nxt = self._planned_servers(plan, t, service_id)
                r = servers * per_server + k * theta
                span = nxt - t
                if r <= 0.0:
                    if math.isinf(span):  # nobody is planned again: assume today's counters stay
                        servers, _ = self._planned_servers(plan, tod, service_id)
                        r = servers * per_server + k * theta
                        if r <= 0.0 or not keep_today:  # nobody at all: the guard in estimate caps it
                            return waited + GUARD_NO_CLOSING_S
                        waited += work / r
                        t += work / r
                        break
                    waited += span
                    t = nxt
                    continue
                if r * span >= work:
                    waited += work / r
                    t += work / r
                    break
                work -= r * span
                waited += span
                t = nxt
        return waited


def _finite(x: Any, lo: float = 0.0, hi: float = math.inf) -> float:
    """A stored number back, or ValueError: a NaN, an infinity or a number out of range is damage."""
    v = float(x)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{x!r} is not a learned figure")
    return v


def _row(xs: Any) -> list[float]:
    row = [_finite(x) for x in xs]
    if len(row) != BINS:
        raise ValueError(f"a profile row of {len(row)} quarter-hours")
    return row


def _restored(saved: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``WaitPredictor`` from ``learned``'s blob, checked (ValueError when damaged)."""
    if saved.get("version") != LEARNED_VERSION:
        raise ValueError(f"version {saved.get('version')!r}, not {LEARNED_VERSION}")
    spans = len(PATIENCE_EDGES) - 1
    out: dict[str, Any] = {
        "mean_service_s": {str(k): _finite(v, MIN_SERVICE_S, MAX_SERVICE_S)
                           for k, v in saved["mean_service_s"].items()},
        "observed": {str(k): int(_finite(v)) for k, v in saved["observed"].items()},
        "calls": {str(k): _finite(v) for k, v in saved["calls"].items()},
        "no_shows": {str(k): _finite(v) for k, v in saved["no_shows"].items()},
        "no_show_s": _finite(saved["no_show_s"], 0.0, MAX_SERVICE_S),
        "no_show_seen": int(_finite(saved["no_show_seen"])),
        "abandoned": _finite(saved["abandoned"]), "exposure_s": _finite(saved["exposure_s"]),
        "arrivals": {str(k): _Rate(_finite(v), None if at is None else _finite(at))
                     for k, (v, at) in saved["arrivals"].items()},
        "priority_arrivals": {str(k): _Rate(_finite(v), None if at is None else _finite(at))
                              for k, (v, at) in saved["priority_arrivals"].items()},
        "staffing": {str(d): [(_finite(tod, 0.0, 86400.0), {str(c): tuple(str(x) for x in sv)
                                                            for c, sv in open_now.items()})
                              for tod, open_now in tl] for d, tl in saved["staffing"].items()},
        "samples": {str(k): [_finite(x, MIN_SERVICE_S, MAX_SERVICE_S) for x in ring][:SAMPLES_KEPT]
                    for k, ring in saved["samples"].items()},
        "speed": {str(c): (_finite(t), _finite(q), _finite(k)) for c, (t, q, k) in saved["speed"].items()},
        "counted_day": str(saved["counted_day"]),
        "counts": {(str(sid), bool(prio)): _row(row) for sid, prio, row in saved["counts"]},
        "profile": {(str(sid), bool(prio)): _row(row) for sid, prio, row in saved["profile"]},
        "profile_days": int(_finite(saved["profile_days"])),
        "abandoned_by": [_finite(x) for x in saved["abandoned_by"]],
        "exposure_by": [_finite(x) for x in saved["exposure_by"]],
        "stops": {str(d): {(str(c), int(_finite(at))): _finite(stop, -86400.0, 86400.0) for c, at, stop in st}
                  for d, st in saved["stops"].items()},
        "last_call": {str(c): _finite(v) for c, v in saved["last_call"].items()},
        # kept since 2026-12-07; a row saved before has none (the stops alone, as then)
        "stop_spans": {str(d): {(str(c), int(_finite(at))): (_finite(lo, -86400.0, 86400.0),
                                                             _finite(hi, -86400.0, 86400.0))
                                for c, at, lo, hi in st}
                       for d, st in saved.get("stop_spans", {}).items()},
        "last_free": {str(c): _finite(v) for c, v in saved.get("last_free", {}).items()},
    }
    out["sample_at"] = {str(k): int(_finite(v)) % max(1, len(out["samples"].get(str(k), ())) or 1)
                        for k, v in saved["sample_at"].items()}
    if len(out["abandoned_by"]) != spans or len(out["exposure_by"]) != spans:
        raise ValueError("patience spans of another layout")
    return out
