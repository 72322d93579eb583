"""A simulated centre day driven through the real queue engine at simulated time.

Citizens arrive with a morning peak, clerks open counters, call, start, serve,
transfer a few, mark a few no-shows, citizens rate some services; at closing
the day is closed. The same simulation drives either a ``Centre`` (SQLite,
``Centre.execute`` with a fake clock) or the bare engine (for quick demo data).
Deterministic for a given seed. Used by ``huduma-centre simulate-day`` and by
``huduma-hq --demo`` to give the national board some neighbours.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import shutil
import tempfile
from collections.abc import Callable
from datetime import date as Date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from centre_server.contract import CounterState, Event, Priority, TicketCalled, TicketState
from centre_server.queue import engine
from centre_server.queue.engine import QueueError
from centre_server.queue.model import Policy

logger = logging.getLogger(__name__)

POPULAR = {"id-card-new": 8, "id-card-collect": 8, "id-card-replace": 4, "birth-cert": 6, "birth-cert-collect": 4,
           "good-conduct": 6, "kra-pin": 6, "kra-returns": 4, "sha-registration": 6, "sha-contributions": 3,
           "nssf-registration": 3, "business-name": 3, "driving-licence": 3, "smart-dl": 2, "helb": 2,
           "passport": 3, "enquiries": 4, "ecitizen": 3}


class FakeClock:
    """A settable clock for ``Centre(settings, clock=...)``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Executor = Callable[[engine.Command, float], list[Event]]


def _at(day: str, hhmm: str, tz: str) -> float:
    d = Date.fromisoformat(day)
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(d.year, d.month, d.day, h, m, tzinfo=ZoneInfo(tz)).timestamp()


def simulate(execute: Executor, state_of: Callable[[], engine.State], day: str, tz: str, *,
             citizens: int = 400, seed: int | None = None, opening: str = "08:00", closing: str = "17:00",
             counters_open: int | None = None, pace: float = 1.0, arrivals: list[tuple[float, str]] | None = None,
             opened: list[str] | None = None) -> dict[str, int]:
    """Run one day; returns counts of what was done. ``execute(cmd, at)`` applies a command at time ``at``.

    ``arrivals`` (seconds after local midnight, service) and ``opened`` (the counters staffed)
    replace the drawn crowd and staffing: the staffing advisor's history has known rates."""
    rng = random.Random(seed if seed is not None else day)
    t_open, t_close = _at(day, opening, tz), _at(day, closing, tz)
    state = state_of()
    services = [s for s in state.services.values() if s.enabled]
    weights = [POPULAR.get(s.id, 1) for s in services]
    all_counters = sorted(state.counters)
    n_open = counters_open or max(4, min(len(all_counters), round(citizens / 28)))
    if opened is None:
        opened = sorted(rng.sample(all_counters, min(n_open, len(all_counters))))
    served_services = {sid for cid in opened for sid in state.counters[cid].services}
    heap: list[tuple[float, int, str, Any]] = []
    order = itertools.count()

    def push(t: float, kind: str, what: Any = None) -> None:
        heapq.heappush(heap, (t, next(order), kind, what))

    span = t_close - t_open - 1800
    midnight = _at(day, "00:00", tz)
    for tod, sid in arrivals or []:
        push(midnight + tod, "arrive", sid)
    for _ in range(citizens if arrivals is None else 0):
        # morning peak: a mixture of an early crowd and a steady trickle
        x = rng.betavariate(1.6, 3.2) if rng.random() < 0.7 else rng.random()
        push(t_open + x * span, "arrive")
    for cid in opened:
        push(t_open + rng.uniform(0, 900), "open", cid)
        if rng.random() < 0.5:  # lunch break
            lunch = _at(day, "12:30", tz) + rng.uniform(0, 3600)
            push(lunch, "pause", cid)
            push(lunch + rng.uniform(1800, 3600), "resume", cid)
    counts = {"issued": 0, "called": 0, "served": 0, "no_shows": 0, "transfers": 0, "ratings": 0}
    idle: set[str] = set()
    paused: set[str] = set()
    busy: dict[str, bool] = {}
    ids = itertools.count(1)

    def run(cmd: engine.Command, t: float) -> list[Event] | None:
        try:
            return execute(cmd, t)
        except QueueError as err:
            logger.debug("simulated %s refused: %s", type(cmd).__name__, err.message)
            return None

    def try_call(cid: str, t: float) -> None:
        if cid in paused or busy.get(cid):
            return
        events = run(engine.CallNext(counter_id=cid), t)
        called = [e for e in events or [] if e.type.value == "ticket_called"]
        if not called:
            idle.add(cid)
            return
        idle.discard(cid)
        busy[cid] = True
        counts["called"] += 1
        first = called[0].data
        assert isinstance(first, TicketCalled)
        svc = state_of().services[first.service_id]
        if rng.random() < 0.05:  # nobody comes: recall once, then a no-show
            push(t + 60 * pace, "recall", cid)
            push(t + 150 * pace, "no_show", cid)
            return
        push(t + rng.uniform(20, 90) * pace, "start", cid)
        mean = max(60.0, svc.service_time_s) * pace
        duration = rng.lognormvariate(math.log(mean) - 0.08, 0.4)
        push(t + 90 * pace + duration, "finish", (cid, svc.id))

    last_t = t_open
    while heap:
        t, _, kind, what = heapq.heappop(heap)
        if t > t_close + 5400:  # clerks go home an hour and a half after the doors close
            break
        last_t = t
        if kind == "arrive":
            if t > t_close:
                continue
            svc = state.services[what] if what in state.services else rng.choices(services, weights)[0]
            if svc.id not in served_services:
                svc = rng.choice([s for s in services if s.id in served_services])
            prio = Priority.elderly if rng.random() < 0.08 else (Priority.disability if rng.random() < 0.02
                                                                 else Priority.none)
            phone = f"+2547{rng.randrange(10**7, 10**8)}" if rng.random() < 0.3 else None
            if run(engine.IssueTicket(ticket_id=f"sim-{day}-{next(ids)}", service_id=svc.id, priority=prio,
                                      phone=phone), t) is not None:
                counts["issued"] += 1
            for cid in sorted(idle):
                if svc.id in state_of().counters[cid].services:
                    idle.discard(cid)
                    push(t + rng.uniform(5, 40), "call", cid)
        elif kind == "open":
            run(engine.OpenCounter(counter_id=what, clerk=f"clerk-{what}"), t)
            push(t + 1, "call", what)
        elif kind == "call":
            try_call(what, t)
        elif kind == "recall":
            run(engine.Recall(counter_id=what), t)
        elif kind == "no_show":
            if run(engine.MarkNoShow(counter_id=what), t):
                counts["no_shows"] += 1
            busy[what] = False
            push(t + 10, "call", what)
        elif kind == "start":
            run(engine.StartService(counter_id=what), t)
        elif kind == "finish":
            cid, sid = what
            c = state_of().counters[cid]
            tid = c.ticket_id
            if tid is not None:
                others = [s.id for s in services if s.id != sid and s.id in served_services]
                if rng.random() < 0.04 and others:
                    if run(engine.Transfer(counter_id=cid, service_id=rng.choice(others)), t):
                        counts["transfers"] += 1
                elif run(engine.Complete(counter_id=cid), t):
                    counts["served"] += 1
                    if rng.random() < 0.4:
                        rating = rng.choices([1, 2, 3, 4], [1, 2, 5, 8])[0]
                        if run(engine.GiveFeedback(rating=rating, ticket_id=tid), t + 5):
                            counts["ratings"] += 1
            busy[cid] = False
            push(t + rng.uniform(10, 40), "call", cid)
        elif kind == "pause":
            if busy.get(what):
                push(t + 120, "pause", what)
            else:
                paused.add(what)
                idle.discard(what)
                run(engine.PauseCounter(counter_id=what), t)
        elif kind == "resume" and what in paused:
            paused.discard(what)
            run(engine.ResumeCounter(counter_id=what), t)
            push(t + 1, "call", what)
    end = max(last_t, t_close) + 60
    for cid in opened:
        run(engine.CloseCounter(counter_id=cid), end)
    counts["end_at"] = int(end)
    return counts


# --------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------


def simulate_engine_day(day: str, *, centre_id: str, centre_name: str, tz: str = "Africa/Nairobi",
                        citizens: int = 300, seed: int | None = None, pace: float = 1.0) -> dict[str, Any]:
    """A day through the bare engine (no database); returns its summary. Fast: for demo neighbours."""
    from centre_server.dayclose import summary as dayclose
    from centre_server.menu import builtin_menu, demo_counters

    services = builtin_menu()
    state = engine.new_state(services, demo_counters(), Policy(timezone=tz))
    state.day = day
    log: list[Event] = []

    def execute(cmd: engine.Command, at: float) -> list[Event]:
        events = engine.apply(state, cmd, at)
        log.extend(events)
        return events

    counts = simulate(execute, lambda: state, day, tz, citizens=citizens, seed=seed, pace=pace)
    execute(engine.CloseDay(), counts["end_at"] + 60)
    ticket_events = [e for e in log if e.type in dayclose.TICKET_EVENTS]
    counter_events = [e for e in log if e.type in dayclose.COUNTER_EVENTS]
    svc = {s.id: {"name_en": s.name_en, "name_sw": s.name_sw, "target_wait_s": s.target_wait_s,
                  "position": s.position} for s in services}
    data = dayclose.summarise(centre_id=centre_id, centre_name=centre_name, day=day, tz=tz,
                              ticket_events=ticket_events, counter_prior={}, counter_events=counter_events,
                              services=svc, counters={c.id: c.name for c in state.counters.values()},
                              now=counts["end_at"] + 120)
    data["simulated"] = True
    return data


def real_tickets(db: Any, day: str) -> int:
    """How many real tickets the centre's own log holds for ``day``."""
    return db.execute("SELECT COUNT(*) FROM tickets WHERE day=?", [day]).fetchone()[0]


def simulate_into_centre(settings: Any, day: str, *, citizens: int = 400, seed: int | None = None,
                         force: bool = False) -> dict[str, Any]:
    """Simulate ``day`` for the centre of ``settings`` and record its summary as the centre's (simulated).

    Refused (``DayCloseError``) for a day with real tickets unless ``force``: the
    simulated summary would become that day's newest revision and replace the
    real figures at headquarters.

    The day runs through ``Centre.execute`` with a fake clock on a scratch copy of the
    centre (same services and counters, its own database), so the real event log and a
    running server are untouched; only the summary (marked ``simulated``) is written to
    the centre's database and outbox, from where the sender takes it to headquarters.
    """
    from centre_server.dayclose import closing, records
    from centre_server.dayclose.errors import DayCloseError
    from centre_server.runtime.centre import Centre
    from centre_server.store import admin, database as storage

    closing.check_date(day)
    real = storage.connect(settings.db_path)
    n_real = real_tickets(real, day)
    if n_real and not force:
        real.conn.close()
        raise DayCloseError(
            f"{day} has {n_real} real ticket{'' if n_real == 1 else 's'} at this centre: a simulated day would "
            f"replace its figures here and at headquarters. Simulate another day, or add --force to do it anyway")
    if n_real:
        logger.warning("simulating %s over %s real tickets (--force)", day, n_real)
    scratch_dir = Path(tempfile.mkdtemp(prefix="huduma-sim-"))
    try:
        services, counters = admin.load_services(real), admin.load_counters(real)
        for c in counters:
            c.state, c.ticket_id, c.clerk, c.idle_since, c.last_ticket_id = (
                CounterState.closed, None, None, None, None)
        scratch_settings = settings.model_copy(update={"directory": scratch_dir})
        sdb = storage.connect(scratch_settings.db_path, durable=False)
        storage.save_menu(sdb, services)
        storage.save_counters(sdb, counters)
        with sdb.conn:  # the centre's own key: the simulated day's clerks get the centre's pseudonyms
            storage.set_meta(sdb.conn, "clerk_pseudonym_key", storage.get_meta(real, "clerk_pseudonym_key"))
        sdb.conn.close()
        clock = FakeClock(_at(day, "06:00", settings.timezone))
        centre = Centre(scratch_settings, clock=clock)
        try:
            def execute(cmd: engine.Command, at: float) -> list[Event]:
                clock.now = max(clock.now, at)
                return centre.execute(cmd)

            counts = simulate(execute, lambda: centre.state, day, settings.timezone, citizens=citizens, seed=seed)
            clock.now = counts["end_at"] + 60
            result = closing.close_with_centre(centre, day)
        finally:
            centre.close()
        data = dict(result.summary)
        data["simulated"] = True
        rec = records.record_summary(real, data, now=None)
        waiting_left = sum(1 for t in centre.state.tickets.values() if t.state == TicketState.waiting)
        return {"date": day, "revision": rec.revision, "new_revision": rec.new, "key": rec.key,
                "counts": counts, "waiting_left": waiting_left, "total": data["total"]}
    finally:
        real.conn.close()
        shutil.rmtree(scratch_dir, ignore_errors=True)
