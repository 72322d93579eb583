"""The simulation oracle: the best estimate of a wait that knowing the true rates allows.

A scenario's true model (``Model``: arrival rates through the day, service-time
distributions, priority, no-show and patience shares) generates its trace. At a
chosen arrival the replay stops, and the oracle copies the exact engine state
(who waits where, with which priority, which counter serves whom and since
when, the staffing plan still ahead) and simulates the future ``futures`` times
through the engine's own ``apply`` and the replay's call rules, drawing
everything it cannot know from the true model: new arrivals, the rest of the
services under way (conditioned on how long they have run), the service time,
no-show and patience of each waiting citizen (patience conditioned on not having
left yet). The newcomer itself never leaves: the oracle answers "when will I be
called?". Its mean over the futures is the estimate; no predictor that learns from
the centre's events can do better on average, so it is the yardstick of issue 18.

``Oracle(..., trace_future=True)`` replays the trace's own future instead of
drawing one: a check that the copy is exact (it must give back every replay wait).
"""

from __future__ import annotations

import copy
import heapq
import logging
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from centre_server.contract import Priority, TicketState
from centre_server.queue import engine
from centre_server.queue.engine import QueueError
from centre_server.sim.replay import (  # its kinds of simulated happening: a future pushes and pops the same
    _ABANDON,
    _ARRIVE,
    _CLOSE,
    _END,
    _MIDNIGHT,
    _OPEN,
    Arrival,
    Outcome,
    Replay,
    Shift,
)

logger = logging.getLogger(__name__)

DAY = 86400.0
OPEN = 8 * 3600.0  # doors open at 08:00
LAST_ARRIVAL = 16 * 3600.0  # doors close at 16:00
NO_SHOW_S = 60.0  # how long a no-show holds the counter (the replay's default)


# ---------------------------------------------------------------------------- the true model


@dataclass
class Stream:
    """The citizens of one service: how many come at each second of the day, how long they take."""

    service_id: str
    rate: Callable[[float], float]  # arrivals per second at a second of the day
    peak: float  # an upper bound of ``rate`` over the day (for thinning)
    mean_s: float
    cv: float | None = None  # lognormal with this coefficient of variation; None: exponential

    def draw(self, rng: random.Random) -> float:
        if self.cv is None:
            return rng.expovariate(1.0 / self.mean_s)
        sigma2 = math.log(1 + self.cv * self.cv)
        return rng.lognormvariate(math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2))

    def survival(self, e: float) -> float:
        """P(service > e)."""
        if self.cv is None:
            return math.exp(-e / self.mean_s)
        sigma2 = math.log(1 + self.cv * self.cv)
        mu, sigma = math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2)
        return 0.5 * math.erfc((math.log(max(e, 1e-9)) - mu) / (sigma * math.sqrt(2)))

    def residual(self, rng: random.Random, e: float) -> float:
        """The rest of a service that has already run ``e`` seconds."""
        if self.cv is None or e <= 0:
            return self.draw(rng) if self.cv is not None else rng.expovariate(1.0 / self.mean_s)
        for _ in range(200):  # exact conditional draw by rejection
            x = self.draw(rng)
            if x > e:
                return x - e
        return rng.expovariate(1.0 / self.mean_s)  # deep in the tail: a memoryless rest


@dataclass
class Model:
    """Everything a scenario's citizens are drawn from; the oracle draws its futures from it too."""

    streams: list[Stream]
    priority_p: float = 0.0  # share of citizens with a priority (elderly)
    no_show_p: float = 0.0
    patience_p: float = 0.0  # share of citizens with a patience limit
    patience_mean_s: float = 0.0  # exponential patience of those
    doors: tuple[float, float] = (OPEN, LAST_ARRIVAL)
    by_service: dict[str, Stream] = field(init=False)

    def __post_init__(self) -> None:
        self.by_service = {s.service_id: s for s in self.streams}

    @property
    def mean_s(self) -> dict[str, float]:
        return {s.service_id: s.mean_s for s in self.streams}

    def citizen(self, rng: random.Random, ticket: str, t: float, stream: Stream) -> Arrival:
        prio = Priority.elderly if rng.random() < self.priority_p else Priority.none
        service = stream.draw(rng)
        no_show = rng.random() < self.no_show_p
        patience = rng.expovariate(1.0 / self.patience_mean_s) if rng.random() < self.patience_p else None
        return Arrival(ticket, t, stream.service_id, prio, service, patience_s=patience, no_show=no_show)

    def times(self, rng: random.Random, t_from: float) -> Iterator[tuple[float, Stream]]:
        """Arrival times after ``t_from`` (trace seconds), every day, with their stream.

        The superposition of the streams' non-homogeneous Poisson processes, by thinning.
        """
        peak = sum(s.peak for s in self.streams)
        a, b = self.doors
        t = t_from
        while True:
            day = math.floor(t / DAY)
            t = max(t, day * DAY + a)
            t += rng.expovariate(peak)
            if t - day * DAY >= b:
                t = (day + 1) * DAY
                continue
            tod = t - day * DAY
            u = rng.random() * peak
            for s in self.streams:
                u -= s.rate(tod)
                if u < 0:
                    yield t, s
                    break

    def trace(self, rng: random.Random, days: int, prefix: str = "t") -> list[Arrival]:
        out: list[Arrival] = []
        for t, s in self.times(rng, 0.0):
            if t >= days * DAY:
                return out
            out.append(self.citizen(rng, f"{prefix}{len(out)}", t, s))
        return out  # pragma: no cover (the generator never ends)


# ---------------------------------------------------------------------------- the oracle


class _Future(Replay):
    """One future from a copy of a replay's state; it ends when the newcomer is called."""

    def __init__(self, parent: Replay, target: Outcome) -> None:
        # a copy of the parent's moment, not a new replay: Replay.__init__ would start from an empty hall
        self.policy, self.base, self.no_show_s, self.on_event = parent.policy, parent.base, parent.no_show_s, None
        self.state = copy.deepcopy(parent.state)
        self.closing = set(parent.closing)
        self.on_shift = dict(parent.on_shift)  # the same Shift objects: _close compares them by identity
        self.last_wait, self.events, self.days, self.order = {}, 0, [], parent.order
        self.target = Outcome(target.ticket, target.arrival_s, target.service_id, target.priority)
        self.outcomes = {target.ticket: self.target}
        self.by_ticket: dict[str, Arrival] = {}
        self.heap = []
        self.next_arrival: Arrival | None = None
        self.draws: Iterator[tuple[float, Stream]] | None = None

    def _arrive(self, a: Arrival, t: float) -> None:
        self.by_ticket[a.ticket] = a
        try:
            self._apply(engine.IssueTicket(ticket_id=a.ticket, service_id=a.service_id, priority=a.priority), t)
        except QueueError:
            return
        if a.patience_s is not None:
            self._push(t + a.patience_s, _ABANDON, a.ticket)
        self._dispatch(a.service_id, a.ticket, t)

    def until_called(self, model: Model | None, rng: random.Random) -> float:
        """Run until the newcomer is called (or the day drops it); its wait."""
        while self.heap and self.target.wait_s is None:
            t, kind, _, payload = heapq.heappop(self.heap)
            if kind == _ARRIVE:
                a = payload
                assert isinstance(a, Arrival)
                if a is self.next_arrival and model is not None and self.draws is not None:
                    at, stream = next(self.draws)
                    self.next_arrival = model.citizen(rng, f"f{self.order}", at, stream)
                    self._push(at, _ARRIVE, self.next_arrival)
                self._arrive(a, t)
            elif kind == _END:
                cid, tid, no_show = payload  # type: ignore[misc]
                self._end(cid, tid, no_show, t)
            elif kind == _ABANDON:
                self._abandon(payload, t)  # type: ignore[arg-type]
            elif kind == _OPEN:
                self._open(payload, t)  # type: ignore[arg-type]
            elif kind == _CLOSE:
                self._close(payload, t)  # type: ignore[arg-type]
            else:
                self._midnight(t)
        return self.target.wait_s if self.target.wait_s is not None else math.nan


class Oracle(Replay):
    """A replay that, at each arrival ``ask`` names, asks the future for the newcomer's wait.

    ``answers[ticket]`` is the mean wait over ``futures`` futures drawn from ``model``
    (``trace_future``: the trace's own future, once).
    """

    def __init__(self, arrivals: list[Arrival], shifts: list[Shift], model: Model | None, ask: set[str],
                 futures: int = 40, seed: int = 0, trace_future: bool = False, **kwargs: object) -> None:
        super().__init__(arrivals, shifts, **kwargs)  # type: ignore[arg-type]
        self.model, self.ask, self.futures, self.trace_future = model, ask, futures, trace_future
        self.rng = random.Random(seed)
        self.answers: dict[str, float] = {}

    def _arrive(self, a: Arrival, t: float) -> None:
        super()._arrive(a, t)
        if a.ticket in self.ask and self.outcomes[a.ticket].outcome != "refused":
            waits = [self._future(a, t) for _ in range(1 if self.trace_future else self.futures)]
            waits = [w for w in waits if not math.isnan(w)]
            self.answers[a.ticket] = sum(waits) / len(waits) if waits else math.nan

    def _future(self, a: Arrival, t: float) -> float:
        f = _Future(self, self.outcomes[a.ticket])
        if self.trace_future:
            f.heap = list(self.heap)
            f.by_ticket = self.by_ticket
            return f.until_called(None, self.rng)
        model = self.model
        assert model is not None
        rng = self.rng
        midnight = (math.floor(t / DAY) + 1) * DAY
        f.heap = [e for e in self.heap if e[1] in (_OPEN, _CLOSE, _MIDNIGHT) and e[0] <= midnight]
        heapq.heapify(f.heap)
        now = self.base + t
        for c in f.state.counters.values():  # the services under way: the rest of each
            if c.ticket_id is None:
                continue
            tk = f.state.tickets[c.ticket_id]
            stream = model.by_service.get(tk.service_id)
            e = now - (tk.called_at or now)
            if stream is None:
                f._push(t, _END, (c.id, tk.id, False))
                continue
            p_ns = model.no_show_p if e < NO_SHOW_S else 0.0
            p_ns = p_ns / (p_ns + (1 - model.no_show_p) * stream.survival(e)) if p_ns else 0.0
            if rng.random() < p_ns:
                f._push(t + NO_SHOW_S - e, _END, (c.id, tk.id, True))
            else:
                f._push(t + stream.residual(rng, e), _END, (c.id, tk.id, False))
        for q in f.state.queues.values():  # who waits: what they will take, whether they stay
            for tk in q.values():
                if tk.state != TicketState.waiting:
                    continue
                stream = model.by_service.get(tk.service_id)
                if stream is None:
                    continue
                waited = now - tk.queued_at
                me = tk.id == a.ticket
                patience = None
                if not me and model.patience_p > 0:
                    kept = model.patience_p * math.exp(-waited / model.patience_mean_s)
                    if rng.random() < kept / (kept + 1 - model.patience_p):
                        patience = rng.expovariate(1.0 / model.patience_mean_s)
                        f._push(t + patience, _ABANDON, tk.id)
                f.by_ticket[tk.id] = Arrival(tk.id, tk.queued_at - self.base, tk.service_id, tk.priority,
                                             stream.draw(rng), patience_s=None if me else patience,
                                             no_show=rng.random() < model.no_show_p)
        f.draws = model.times(rng, t)
        at, stream = next(f.draws)
        f.next_arrival = model.citizen(rng, f"f{f.order}", at, stream)
        f._push(at, _ARRIVE, f.next_arrival)
        return f.until_called(model, rng)


def oracle_waits(arrivals: list[Arrival], shifts: list[Shift], model: Model | None, ask: set[str],
                 futures: int = 40, seed: int = 0, trace_future: bool = False) -> dict[str, float]:
    """The oracle's estimate for each ticket of ``ask`` (run in one pass of the replay)."""
    o = Oracle(arrivals, shifts, model, ask, futures=futures, seed=seed, trace_future=trace_future)
    o.run()
    return o.answers
