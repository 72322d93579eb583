"""A simulated history with known rates: for the demo ("a simulated month") and for the tests.

``KnownRates`` is the truth the forecast must find again: each service's share of
the crowd (the demo's popular services), a morning peak, a busy Monday and a quiet
Saturday, the payday window (the 25th to the 3rd) and month end, public holidays
(shut, or a thin crowd where the centre opens), the backlog the day after a
holiday, and a slow growth. ``simulate_history`` drives those citizens through
the real engine and the centre's own database (``Centre`` at a fake clock), with
the staffing a manager would habitually keep, so the forecast, the reports and the
"after the day" view read a history written exactly as a real one is.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centre_server.staffing.calendar import day_kind
from centre_server.staffing.history import SLOT_S, SLOTS, History

logger = logging.getLogger(__name__)

# the share of a day's crowd in each half hour from 08:00 (a morning peak, a lunch dip)
PROFILE = [0.9, 1.5, 1.8, 1.7, 1.5, 1.3, 1.1, 1.0, 0.8, 0.7, 0.8, 0.9, 0.9, 0.8, 0.7, 0.6, 0.4]
FIRST_SLOT = 16  # 08:00
WEEKDAY = [1.3, 1.0, 0.95, 0.95, 1.1, 0.6, 0.35]  # Monday .. Sunday


class HistoryError(ValueError):
    """A centre whose history cannot be simulated; the message says why and what to do."""


@dataclass
class KnownRates:
    """Arrivals per half hour of each service on any day: the truth of a simulated history."""

    weights: dict[str, float]
    citizens: float = 450.0  # on an ordinary Tuesday
    payday: float = 1.35
    month_end: float = 1.15
    holiday: float = 0.0  # 0: shut on public holidays
    after_holiday: float = 1.4
    growth_per_week: float = 0.005
    start: date = field(default_factory=lambda: date(2026, 1, 1))
    country: str = "KE"

    def rate(self, day: date) -> dict[str, list[float]]:
        kind = day_kind(day, self.country)
        x = self.citizens * WEEKDAY[kind.weekday]
        x *= self.payday if kind.payday else 1.0
        x *= self.month_end if kind.month_end else 1.0
        x *= self.holiday if kind.holiday else 1.0
        x *= self.after_holiday if kind.after_holiday else 1.0
        x *= math.exp(self.growth_per_week * (day - self.start).days / 7.0)
        total_w = sum(self.weights.values())
        norm = sum(PROFILE)
        out: dict[str, list[float]] = {}
        for sid, w in self.weights.items():
            row = [0.0] * SLOTS
            for j, p in enumerate(PROFILE):
                row[FIRST_SLOT + j] = x * (w / total_w) * (p / norm)
            out[sid] = row
        return out

    def arrivals(self, day: date, rng: random.Random) -> list[tuple[float, str]]:
        """One day's citizens: (seconds after local midnight, service), Poisson in each half hour."""
        out: list[tuple[float, str]] = []
        for sid, row in self.rate(day).items():
            for slot, lam in enumerate(row):
                for _ in range(poisson(rng, lam)):
                    out.append((slot * SLOT_S + rng.uniform(0, SLOT_S), sid))
        out.sort()
        return out


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal above 60)."""
    if lam <= 0:
        return 0
    if lam > 60:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def demo_rates(service_ids: Iterable[str], citizens: float = 450.0, start: date | None = None,
               country: str = "KE") -> KnownRates:
    """The demo's truth over a centre's services (popular ones draw more, as in ``simulate-day``)."""
    from centre_server.sim.daysim import POPULAR

    return KnownRates(weights={sid: float(POPULAR.get(sid, 1)) for sid in service_ids}, citizens=citizens,
                      start=start or date(2026, 1, 1), country=country)


def draw_history(rates: KnownRates, first: date, days: int, seed: int = 1, open_on: Any = None) -> History:
    """Counts only (no engine): ``days`` days from ``first`` drawn from ``rates``; ``open_on(day)`` says which open."""
    rng = random.Random(seed)
    hist = History()
    for k in range(days):
        d = first + timedelta(days=k)
        if open_on is not None and not open_on(d):
            continue
        for tod, sid in rates.arrivals(d, rng):
            hist.add(d, sid, int(tod // SLOT_S))
    return hist


def habitual_roster(counters: dict[str, list[str]], rates: KnownRates, service_s: dict[str, float],
                    day: date) -> list[str]:
    """The counters a manager opens every day out of habit: each group's average load, a tenth spare."""
    from centre_server.staffing.groups import groups_of

    typical = rates.rate(day)
    opened: list[str] = []
    for group in groups_of(counters):
        work = sum(sum(typical.get(s, [0.0])) * service_s.get(s, 600.0) for s in group.services)
        hours = len(PROFILE) * SLOT_S
        need = max(1, min(len(group.counters), math.ceil(1.1 * work / hours)))
        opened += sorted(group.counters, key=lambda c: (-len(counters[c]), c))[:need]
    return sorted(opened)


def simulate_history(settings: Any, days: int = 30, *, citizens: float = 450.0, seed: int = 7,
                     force: bool = False, today: date | None = None) -> dict[str, Any]:
    """Write ``days`` simulated days before today into the centre's own database, through the engine.

    Refused (``HistoryError``) while a server runs on the directory, on a centre with
    real tickets unless ``force``, and when the centre's log has already passed the
    first day to simulate (the engine never goes back in time).
    """
    from centre_server.dayclose.errors import DayCloseError
    from centre_server.dayclose.lock import server_lock
    from centre_server.runtime.centre import Centre
    from centre_server.runtime.policy import policy_from
    from centre_server.sim import daysim
    from centre_server.store import database as storage

    if not 1 <= days <= 400:
        raise HistoryError(f"--days {days}: simulate between 1 and 400 days")
    zone = ZoneInfo(settings.timezone)
    today = today or datetime.now(zone).date()
    first = today - timedelta(days=days)
    try:
        with server_lock(settings.directory):
            db = storage.connect(settings.db_path)
            try:
                real = db.execute("SELECT COUNT(*) FROM tickets WHERE id NOT LIKE 'sim-%'").fetchone()[0]
                reached = storage.get_meta(db, "day")
                simulated = db.execute("SELECT COUNT(*) FROM tickets WHERE id LIKE 'sim-%'").fetchone()[0]
            finally:
                db.conn.close()
            if real and not force:
                raise HistoryError(f"{settings.db_path} holds {real} real ticket{'' if real == 1 else 's'}: simulated "
                                   "days would mix with the centre's own history and its reports. Use a demo "
                                   "centre, or add --force")
            if (reached and reached >= first.isoformat()) or simulated:
                raise HistoryError(f"the centre's log has already reached {reached or 'a simulated day'}: history "
                                   f"can only be written before it (from {first}). Start from a new centre "
                                   "(huduma-provision init DIR --demo)")
            return _run(settings, first, days, citizens, seed, zone, Centre, policy_from, daysim)
    except DayCloseError as err:  # the server lock: a server runs here
        raise HistoryError(f"a centre server is running on {settings.directory}: stop it first, then "
                           "simulate the history, then serve again") from err


def _run(settings: Any, first: date, days: int, citizens: float, seed: int, zone: ZoneInfo,
         centre_cls: Any, policy_from: Any, daysim: Any) -> dict[str, Any]:
    policy = policy_from(settings)
    clock = daysim.FakeClock(datetime(first.year, first.month, first.day, 6, tzinfo=zone).timestamp())
    centre = centre_cls(settings, clock=clock)
    centre.db.conn.execute("PRAGMA synchronous=OFF")  # a demo's history: the disk's flush would take minutes
    try:
        state = centre.state
        counters = {cid: list(c.services) for cid, c in state.counters.items() if c.services}
        if not counters or not any(s.enabled for s in state.services.values()):
            raise HistoryError("the centre has no counters with services (or no service): set them up first "
                               "(huduma-provision counters …, services …)")
        rates = demo_rates([s.id for s in state.services.values() if s.enabled], citizens, start=first,
                           country=settings.day.public_holidays or "KE")
        if not settings.day.public_holidays:
            rates.holiday = 0.3  # a centre that opens on holidays sees a thin crowd
        service_s = {s.id: s.service_time_s for s in state.services.values()}
        rng = random.Random(seed)
        done: dict[str, int] = {"days": 0, "issued": 0, "served": 0, "closed_days": 0}

        def execute(cmd: Any, at: float) -> list[Any]:
            clock.now = max(clock.now, at)
            return centre.execute(cmd)

        for k in range(days):
            d = first + timedelta(days=k)
            if not policy.hours.is_open_day(d):
                done["closed_days"] += 1
                continue
            arrivals = rates.arrivals(d, rng)
            opened = habitual_roster(counters, rates, service_s, d)
            counts = daysim.simulate(execute, lambda: centre.state, d.isoformat(), settings.timezone,
                                     seed=seed * 1000 + k, arrivals=arrivals, opened=opened)
            done["days"] += 1
            done["issued"] += counts["issued"]
            done["served"] += counts["served"]
        centre.db.conn.execute("PRAGMA synchronous=FULL")
        centre.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        centre.close()
    return {"first": first.isoformat(), "last": (first + timedelta(days=days - 1)).isoformat(), **done}
