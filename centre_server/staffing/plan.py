"""Counters needed per half hour for each group of services that share counters, checked by replay.

A *group* is a set of services joined by the counters that serve them (a counter
serving ID cards and birth certificates joins both): what one group's counters do
never touches another's queue, so each group is planned on its own.

1. First cut: Erlang A per half hour on the group's forecast arrivals and mean
   service time, against the strictest target wait among its services, with the
   patience the centre's own citizens showed (Erlang C when nobody ever gave up).
2. Check: replay forecast days (several draws of the forecast, service times from
   the centre's own finished tickets, patience drawn from the centre's own) through the real engine, with the centre's
   real counters and skills opened as the plan says, and score every citizen
   against their own service's target wait.
3. Correct: where a half hour (or a service over the day) misses the target share,
   open one more counter of the group that serves the service that missed, and
   replay again; then take away any counter whose removal still meets the targets,
   so one counter fewer than the plan does not. A group whose every counter is
   open and still misses is marked short: the counters that exist cannot do it.

Every group the forecast expects anyone for keeps one counter open all day, so no
citizen finds nobody to serve them. The last half hour's counters stay until the
hall is empty, as clerks do.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from centre_server.contract import Priority
from centre_server.queue.model import Policy, Service
from centre_server.sim import replay as rp
from centre_server.staffing.erlang import counters_needed_a
from centre_server.staffing.forecast import DayForecast
from centre_server.staffing.groups import Group, groups_of
from centre_server.staffing.history import SLOT_S, slot_label
from centre_server.staffing.simulate import poisson

logger = logging.getLogger(__name__)

TARGET_SHARE = 0.8  # of each service's citizens called within its target wait
SEEDS = (11, 23, 37, 53, 67, 79, 97, 109, 127, 131)  # forecast days replayed (the same for every candidate plan)
CHECK_SEEDS = (211, 223, 227, 229, 233, 239, 241, 251, 257, 263)  # other days, to check the trimmed plan on
MIN_DRAWS = 3
CITIZENS_PER_CHECK = 400  # a quiet group is replayed on more drawn days: its day-to-day chance is larger
MIN_SLOT_MEASURED = 8  # a half hour is judged on its own only with this many citizens over the draws
MIN_SERVICE_MEASURED = 20  # likewise a service over the day
HALL_EMPTY_S = 2 * 3600.0  # the last counters stay this long after the last half hour
MAX_ROUNDS = 80


@dataclass
class Centre:
    """What the plan needs to know of the centre: its services, counters and rules, and its service times."""

    services: dict[str, Service]
    counters: dict[str, list[str]]  # in order of skill
    policy: Policy
    durations: dict[str, list[float]] = field(default_factory=dict)
    target_share: float = TARGET_SHARE
    patience_s: float | None = None  # citizens give up after this long on average (None: nobody does)

    def target_s(self, sid: str) -> float:
        s = self.services.get(sid)
        return float(s.target_wait_s) if s else 1800.0

    def mean_service_s(self, sid: str) -> float:
        got = self.durations.get(sid)
        if got and len(got) >= 10:
            return sum(got) / len(got)
        s = self.services.get(sid)
        return float(s.service_time_s) if s else rp.DEFAULT_SERVICE_S

    def draw_service_s(self, sid: str, rng: random.Random) -> float:
        got = self.durations.get(sid)
        if got and len(got) >= 10:
            return rng.choice(got)
        mean = self.mean_service_s(sid)
        return rng.lognormvariate(math.log(mean) - 0.125, 0.5)


@dataclass
class Score:
    """Citizens measured and called within target, per half hour of arrival and per service, over the draws."""

    slot: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    service: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def level(self) -> float | None:
        m = sum(v[0] for v in self.service.values())
        return sum(v[1] for v in self.service.values()) / m if m else None

    def misses(self, share: float) -> tuple[list[int], list[str]]:
        """The half hours and services below ``share`` (each judged only with enough citizens)."""
        slots = [s for s, (m, w) in sorted(self.slot.items()) if m >= MIN_SLOT_MEASURED and w < share * m]
        services = [s for s, (m, w) in sorted(self.service.items()) if m >= MIN_SERVICE_MEASURED and w < share * m]
        m = sum(v[0] for v in self.service.values())
        # the day as a whole must clear the target by its own chance error: a plan cut to fit three
        # drawn days exactly would miss on the fourth
        if not slots and not services and m and self.level is not None and \
                self.level < share + math.sqrt(share * (1 - share) / m):
            services = sorted(self.service, key=lambda s: self.service[s][1] / max(1, self.service[s][0]))[:1]
        return slots, services


def draws(forecast: DayForecast, services: tuple[str, ...], centre: Centre,
          seeds: tuple[int, ...] = SEEDS) -> list[list[rp.Arrival]]:
    """The forecast day drawn ``len(seeds)`` times for ``services``: Poisson arrivals in each half hour."""
    out = []
    for seed in seeds:
        rng = random.Random(f"{seed}-{forecast.day}-{services[0]}")
        arrivals: list[rp.Arrival] = []
        for sid in services:
            row = forecast.rates.get(sid)
            if not row:
                continue
            for slot in forecast.slots:
                for _ in range(poisson(rng, row[slot])):
                    patience = rng.expovariate(1.0 / centre.patience_s) if centre.patience_s else None
                    arrivals.append(rp.Arrival(ticket=f"d{seed}-{len(arrivals)}", arrival_s=slot * SLOT_S
                                               + rng.uniform(0, SLOT_S), service_id=sid, priority=Priority.none,
                                               service_time_s=centre.draw_service_s(sid, rng),
                                               patience_s=patience))
        out.append(arrivals)
    return out


def shifts_of(open_at: dict[int, list[str]], counters: dict[str, list[str]], last_slot: int) -> list[rp.Shift]:
    """Half hours a counter is open, joined into shifts; the last half hour's stay until the hall is empty."""
    out: list[rp.Shift] = []
    by_counter: dict[str, list[int]] = defaultdict(list)
    for slot, cids in open_at.items():
        for cid in cids:
            by_counter[cid].append(slot)
    for cid, slots in by_counter.items():
        slots.sort()
        start = prev = slots[0]
        for s in slots[1:] + [None]:
            if s is not None and s == prev + 1:
                prev = s
                continue
            end = (prev + 1) * SLOT_S + (HALL_EMPTY_S if prev == last_slot else 0.0)
            out.append(rp.Shift(cid, tuple(counters[cid]), start * SLOT_S, end))
            if s is not None:
                start = prev = s
    return out


def score(forecast: DayForecast, centre: Centre, group: Group, open_at: dict[int, list[str]],
          days: list[list[rp.Arrival]]) -> Score:
    """Replay the drawn days through the engine with the counters ``open_at`` each half hour."""
    from centre_server.sim.replay import start_epoch

    out = Score()
    shifts = shifts_of(open_at, centre.counters, forecast.last_slot)
    base = start_epoch(forecast.day.isoformat(), centre.policy.timezone)
    for arrivals in days:
        if not arrivals:
            continue
        if shifts:
            result = rp.replay(arrivals, shifts, services=list(centre.services.values()), policy=centre.policy,
                               start=base)
            outcomes = result.outcomes
        else:
            outcomes = [rp.Outcome(a.ticket, a.arrival_s, a.service_id, a.priority) for a in arrivals]
        for o in outcomes:
            if o.outcome == "refused" and o.detail not in ("", "no_counter"):
                continue  # the rules refused the ticket (after the last call): nobody waited
            target = centre.target_s(o.service_id)
            if o.outcome == "abandoned" and o.wait_s is not None and o.wait_s <= target:
                continue  # left before the target: neither within nor against it (reports/figures.py)
            within = o.outcome != "abandoned" and o.wait_s is not None and o.wait_s <= target
            for cell in (out.slot[int(o.arrival_s // SLOT_S)], out.service[o.service_id]):
                cell[0] += 1
                cell[1] += within
    return out


@dataclass
class GroupPlan:
    group: Group
    forecast: dict[int, float]  # arrivals expected per half hour
    erlang: dict[int, int]  # the first cut
    open_at: dict[int, list[str]]  # the plan: which counters each half hour
    level: float | None  # expected share within target under the plan
    roster_at: dict[int, list[str]] = field(default_factory=dict)
    roster_level: float | None = None
    short: bool = False  # every counter open and the target still missed
    rounds: int = 0

    def needed(self, slot: int) -> int:
        return len(self.open_at.get(slot, []))


def _add(centre: Centre, group: Group, open_now: list[str], sid: str | None) -> str | None:
    """One more counter of ``group`` for a half hour: one that serves ``sid``, the most dedicated first."""
    spare = [c for c in group.counters if c not in open_now]
    serving = [c for c in spare if sid is not None and sid in centre.counters[c]]
    pool = serving or spare
    if not pool:
        return None
    return min(pool, key=lambda c: (len(centre.counters[c]), centre.counters[c].index(sid)
                                    if sid in centre.counters[c] else 99, c))


def _first_cut(forecast: DayForecast, centre: Centre, group: Group) -> tuple[dict[int, float], dict[int, int],
                                                                              dict[int, list[str]]]:
    rates = {slot: sum(forecast.rates.get(s, [0.0] * 48)[slot] for s in group.services) for slot in forecast.slots}
    total = sum(rates.values())
    erlang: dict[int, int] = {}
    open_at: dict[int, list[str]] = {}
    if total <= 0:
        return rates, {s: 0 for s in forecast.slots}, {s: [] for s in forecast.slots}
    for slot, lam in rates.items():
        per = {s: forecast.rates.get(s, [0.0] * 48)[slot] for s in group.services}
        mean_s = (sum(per[s] * centre.mean_service_s(s) for s in per) / lam) if lam > 0 else 600.0
        target = min((centre.target_s(s) for s in per if per[s] > 0), default=1800.0)
        n = max(1, counters_needed_a(lam / SLOT_S, mean_s, target, centre.target_share, centre.patience_s,
                                     most=len(group.counters)))
        erlang[slot] = n
        chosen: list[str] = []
        busiest = sorted(per, key=lambda s: -per[s])
        while len(chosen) < n:
            # the services with the most work per counter already chosen get the next counter
            need = sorted(busiest, key=lambda s: -per[s] / (1 + sum(s in centre.counters[c] for c in chosen)))
            c = _add(centre, group, chosen, need[0] if need else None)
            if c is None:
                break
            chosen.append(c)
        open_at[slot] = chosen
    return rates, erlang, open_at


def seeds_for(expected: float, seeds: tuple[int, ...] = SEEDS) -> tuple[int, ...]:
    """Enough drawn days to see about ``CITIZENS_PER_CHECK`` citizens (3 at least, as many as there are at most)."""
    n = math.ceil(CITIZENS_PER_CHECK / expected) if expected > 0 else MIN_DRAWS
    return seeds[:max(MIN_DRAWS, min(len(seeds), n))]


def plan_group(forecast: DayForecast, centre: Centre, group: Group, seeds: tuple[int, ...] = SEEDS,
               check_seeds: tuple[int, ...] = CHECK_SEEDS) -> GroupPlan:
    """The group's counters per half hour: Erlang A (or C), then replayed and corrected until it meets the targets.

    Corrected and trimmed on one set of drawn days, then checked on another: a plan trimmed
    to just pass the first set has been favoured by its chance, so where the second set
    misses, counters are added back (never taken away) until it passes too.
    """
    rates, erlang, open_at = _first_cut(forecast, centre, group)
    gp = GroupPlan(group=group, forecast=rates, erlang=erlang, open_at=open_at, level=None)
    if sum(rates.values()) <= 0:
        return gp
    days = draws(forecast, group.services, centre, seeds_for(sum(rates.values()), seeds))
    share = centre.target_share
    sc = _correct(forecast, centre, group, gp, open_at, days)
    if not gp.short:  # take away what is not needed: one counter fewer than the plan must miss
        # the half hours with the fewest citizens per counter first: their counters are the idlest
        for slot in sorted(forecast.slots, key=lambda s: (rates[s] / max(1, len(open_at[s])), s)):
            while len(open_at[slot]) > 1 and _slack(sc, slot, share):
                trial = {**open_at, slot: _without_one(centre, open_at[slot])}
                trial_score = score(forecast, centre, group, trial, days)
                if any(trial_score.misses(share)):
                    break
                open_at, sc = trial, trial_score
        check = draws(forecast, group.services, centre, seeds_for(sum(rates.values()), check_seeds))
        sc = _correct(forecast, centre, group, gp, open_at, check)
    gp.open_at, gp.level = open_at, sc.level
    return gp


def _correct(forecast: DayForecast, centre: Centre, group: Group, gp: GroupPlan, open_at: dict[int, list[str]],
             days: list[list[rp.Arrival]]) -> Score:
    """Add counters where the drawn days miss, until they meet the targets or the group has none left."""
    sc = score(forecast, centre, group, open_at, days)
    share = centre.target_share
    for _ in range(MAX_ROUNDS):
        slots, services = sc.misses(share)
        if not slots and not services:
            break
        gp.rounds += 1
        changed = False
        for missed in slots[:1]:
            worst = min(group.services, key=lambda s: sc.service[s][1] / max(1, sc.service[s][0]))
            # that half hour, or (every counter open there) the one before it, where its queue grew
            for slot in [x for x in reversed(forecast.slots) if x <= missed]:
                c = _add(centre, group, open_at[slot], worst)
                if c is not None:
                    open_at[slot].append(c)
                    changed = True
                    break
        for sid in services:
            # the half hour where the most citizens waited too long gets a counter that serves the service
            order = sorted(forecast.slots, key=lambda s: (-(sc.slot[s][0] - sc.slot[s][1]), -gp.forecast[s]))
            for slot in order:
                c = _add(centre, group, open_at[slot], sid)
                if c is not None and sid in centre.counters[c]:
                    open_at[slot].append(c)
                    changed = True
                    break
        if not changed:
            gp.short = True
            break
        sc = score(forecast, centre, group, open_at, days)
    return sc


def _slack(sc: Score, slot: int, share: float) -> bool:
    """Whether a half hour and the next did well enough that one counter fewer might still do.

    A half hour just at the target would miss without a counter: trying it costs a replay for nothing."""
    def ok(s: int) -> bool:
        m, w = sc.slot.get(s, (0, 0))
        return m < MIN_SLOT_MEASURED or w >= min(1.0, share + 0.08) * m

    return ok(slot) and ok(slot + 1)


def _without_one(centre: Centre, cids: list[str]) -> list[str]:
    """The counters less the one whose skills the others cover best (the most general one last added)."""
    def covered(c: str) -> int:
        rest = [x for x in cids if x != c]
        return sum(any(s in centre.counters[x] for x in rest) for s in centre.counters[c])

    drop = max(reversed(cids), key=lambda c: (covered(c) == len(centre.counters[c]), len(centre.counters[c])))
    return [c for c in cids if c != drop]


@dataclass
class Plan:
    """Tomorrow's (or any day's) plan for the whole centre."""

    forecast: DayForecast
    groups: list[GroupPlan]
    target_share: float
    roster_day: str | None = None  # the day whose staffing is "the roster as it stands"
    effects: dict[str, float] = field(default_factory=dict)  # the forecast's multiplicative effects

    @property
    def day(self) -> date:
        return self.forecast.day

    def level(self, roster: bool = False) -> float | None:
        num = den = 0.0
        for g in self.groups:
            lv = g.roster_level if roster else g.level
            n = sum(g.forecast.values())
            if lv is not None and n > 0:
                num += lv * n
                den += n
        return num / den if den else None

    def counters_at(self, slot: int, roster: bool = False) -> int:
        return sum(len((g.roster_at if roster else g.open_at).get(slot, [])) for g in self.groups)

    def counter_hours(self, roster: bool = False) -> float:
        return sum(self.counters_at(s, roster) for s in self.forecast.slots) * SLOT_S / 3600


def make_plan(forecast: DayForecast, centre: Centre, roster: list[rp.Shift] | None = None,
              roster_day: str | None = None, seeds: tuple[int, ...] = SEEDS) -> Plan:
    """Plan every group; with ``roster`` (shifts in seconds of the day) also score the staffing as it stands."""
    groups = []
    for group in groups_of(centre.counters):
        gp = plan_group(forecast, centre, group, seeds) if not forecast.closed else GroupPlan(
            group, {s: 0.0 for s in forecast.slots}, {}, {s: [] for s in forecast.slots}, None)
        if roster is not None and not forecast.closed:
            mine = [s for s in roster if s.counter_id in group.counters]
            gp.roster_at = {slot: sorted({s.counter_id for s in mine
                                          if s.open_from_s < (slot + 0.5) * SLOT_S < s.open_to_s})
                            for slot in forecast.slots}
            expected = sum(gp.forecast.values())
            if expected > 0:
                gp.roster_level = score(forecast, centre, group, gp.roster_at,
                                        draws(forecast, group.services, centre, seeds_for(expected, seeds))).level
        groups.append(gp)
    return Plan(forecast=forecast, groups=groups, target_share=centre.target_share, roster_day=roster_day)


def plan_csv(plan: Plan, names: dict[str, str] | None = None) -> str:
    """One row per group and half hour: forecast arrivals, the first cut, the plan, the roster, which counters."""
    names = names or {}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["date", "group", "services", "half_hour", "forecast_arrivals", "erlang_counters",
                "planned_counters", "roster_counters", "planned_counter_ids"])
    for g in plan.groups:
        busiest = max(g.group.services, key=lambda s: (sum(plan.forecast.rates.get(s, [])), s))
        label = _safe(names.get(busiest, busiest))
        for slot in plan.forecast.slots:
            w.writerow([plan.day.isoformat(), label, _safe(";".join(g.group.services)), slot_label(slot),
                        f"{g.forecast.get(slot, 0.0):.1f}", g.erlang.get(slot, 0), g.needed(slot),
                        len(g.roster_at.get(slot, [])), " ".join(g.open_at.get(slot, []))])
    return buf.getvalue()


def _safe(text: str) -> str:
    """A CSV cell a spreadsheet never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def roster_from(db: Any, tz: str, before: date, until: date | None = None) -> tuple[list[rp.Shift], str | None]:
    """The staffing as it stands: the counter shifts of the same weekday last week (a Monday is staffed
    as Mondays are), or of the last whole day (before ``until``, default ``before``) that had any tickets."""
    until = min(before, until or before)
    weekday = str((before.weekday() + 1) % 7)  # SQLite's %w: Sunday is 0
    row = db.execute("SELECT MAX(day) FROM tickets WHERE day < ? AND day >= ? AND strftime('%w', day) = ?",
                     [until.isoformat(), (before - timedelta(days=7)).isoformat(), weekday]).fetchone()
    if not row or not row[0]:
        row = db.execute("SELECT MAX(day) FROM tickets WHERE day < ?", [until.isoformat()]).fetchone()
    last = row[0] if row else None
    if not last:
        return [], None
    _, shifts = rp.export_trace(db, last, last, tz)
    return shifts, last


def days_after(day: date, n: int) -> list[date]:
    return [day + timedelta(days=k) for k in range(n)]
