"""Counters per half hour: the Erlang first cut, checked and corrected by replays through the real engine."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from centre_server.menu import builtin_menu, demo_counters
from centre_server.queue.model import Policy
from centre_server.staffing import plan as pl
from centre_server.staffing.calendar import day_kind
from centre_server.staffing.erlang import (
    counters_needed,
    counters_needed_a,
    erlang_a_service_level,
    erlang_c,
    erlang_c_service_level,
)
from centre_server.staffing.forecast import DayForecast
from centre_server.staffing.simulate import FIRST_SLOT, PROFILE, demo_rates

DAY = date(2026, 10, 26)  # a Monday in the payday window: the busiest kind of day


def test_erlang_c_by_hand():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 1.0) == 1.0 and erlang_c(3, 0.0) == 0.0
    # 10 arrivals an hour, 10 minutes each: 1.67 erlangs; more counters, better service
    lam, s = 10 / 3600, 600.0
    levels = [erlang_c_service_level(n, lam, s, 600) for n in range(1, 6)]
    assert levels[0] == 0.0 and levels == sorted(levels)
    n = counters_needed(lam, s, 600, 0.8)
    assert erlang_c_service_level(n, lam, s, 600) >= 0.8 > erlang_c_service_level(n - 1, lam, s, 600)


def test_erlang_a_is_erlang_c_for_patient_citizens_and_needs_fewer_when_they_give_up():
    lam, s = 30 / 3600, 600.0  # 5 erlangs
    for n in (6, 7, 8):
        patient = erlang_a_service_level(n, lam, s, 600, 1e9)
        assert patient == pytest.approx(erlang_c_service_level(n, lam, s, 600), abs=1e-3)
    impatient = [erlang_a_service_level(n, lam, s, 600, 1200) for n in range(3, 9)]
    assert impatient == sorted(impatient) and impatient[-1] <= 1.0
    assert all(a > c for a, c in zip(impatient, [erlang_c_service_level(n, lam, s, 600) for n in range(3, 9)]))
    assert counters_needed_a(lam, s, 600, 0.8, 1200) < counters_needed(lam, s, 600, 0.8) == 7
    assert counters_needed_a(lam, s, 600, 0.8, None) == 7
    assert erlang_a_service_level(2, 1.0, 600, 600, 1e9) == 0.0  # hopelessly overloaded: finite, and nought


@pytest.fixture(scope="module")
def centre():
    services = builtin_menu()
    return pl.Centre(services={s.id: s for s in services}, counters={c.id: list(c.services) for c in demo_counters()},
                     policy=Policy())


@pytest.fixture(scope="module")
def forecast(centre):
    rates = demo_rates(centre.services, citizens=450, start=date(2026, 9, 1))
    return DayForecast(day=DAY, kind=day_kind(DAY), rates=rates.rate(DAY), first_slot=FIRST_SLOT,
                       last_slot=FIRST_SLOT + len(PROFILE) - 1)


THIN = ("c01", "c10", "c12")  # the roster as it stands: three counters all day


@pytest.fixture(scope="module")
def plan(forecast, centre):
    from centre_server.sim.replay import Shift

    roster = [Shift(cid, tuple(centre.counters[cid]), 8 * 3600, 17 * 3600) for cid in THIN]
    return pl.make_plan(forecast, centre, roster=roster, roster_day="2026-10-19")


def test_groups_follow_the_counters_skills(centre):
    groups = {g.key: g for g in pl.groups_of(centre.counters)}
    ids = next(g for g in groups.values() if "id-card-new" in g.services)
    assert "birth-cert" in ids.services  # counter 4 serves both ID cards and birth certificates
    assert ids.counters == ("c01", "c02", "c03", "c04", "c05", "c06", "c07")
    assert sum(len(g.counters) for g in groups.values()) == 30


def test_the_plan_meets_the_target_when_replayed_and_uses_only_real_counters(plan, forecast, centre):
    for g in plan.groups:
        for slot in forecast.slots:
            opened = g.open_at[slot]
            assert len(opened) >= 1 and set(opened) <= set(g.group.counters) and len(set(opened)) == len(opened)
        if not g.short:
            assert g.level is not None and g.level >= centre.target_share, g.group
    # fresh draws of the same forecast (not the ones the plan was corrected on)
    fresh = tuple(range(1001, 1011))
    for g in plan.groups:
        if g.short:
            continue
        sc = pl.score(forecast, centre, g.group, g.open_at,
                      pl.draws(forecast, g.group.services, centre, pl.seeds_for(sum(g.forecast.values()), fresh)))
        assert sc.level is not None and sc.level >= centre.target_share - 0.04, (g.group.key, sc.level)
    assert plan.level() >= centre.target_share


def test_fewer_counters_than_the_plan_miss_the_target(plan, forecast, centre):
    fresh = tuple(range(2001, 2011))
    checked = 0
    for g in plan.groups:
        fewer = {s: (c[:-1] if len(c) > 1 else c) for s, c in g.open_at.items()}
        if g.short or sum(map(len, fewer.values())) == sum(map(len, g.open_at.values())):
            continue  # one counter all day: nothing to take away
        days = pl.draws(forecast, g.group.services, centre, pl.seeds_for(sum(g.forecast.values()), fresh))
        sc = pl.score(forecast, centre, g.group, fewer, days)
        assert any(sc.misses(centre.target_share)), (g.group.key, sc.level)
        checked += 1
    assert checked >= 3


def test_a_group_with_too_few_counters_is_marked_short(centre, forecast):
    heavy = DayForecast(day=DAY, kind=forecast.kind, rates={sid: [x * 4 for x in row] for sid, row in
                                                            forecast.rates.items()},
                        first_slot=forecast.first_slot, last_slot=forecast.last_slot)
    group = next(g for g in pl.groups_of(centre.counters) if g.services == ("good-conduct",))
    gp = pl.plan_group(heavy, centre, group)
    assert gp.short and all(len(c) == len(group.counters) for c in gp.open_at.values() if c)


def test_citizens_who_give_up_are_planned_for_and_scored_as_the_reports_do(centre, forecast):
    import dataclasses

    group = next(g for g in pl.groups_of(centre.counters) if "kra-pin" in g.services)
    impatient = dataclasses.replace(centre, patience_s=900.0)
    days = pl.draws(forecast, group.services, impatient, (5, 6, 7))
    assert any(a.patience_s is not None for d in days for a in d)
    thin = {s: [group.counters[0]] for s in forecast.slots}
    # some leave; those who left before the target are not counted either way, as in the day's figures
    sc = pl.score(forecast, impatient, group, thin, days)
    assert sum(v[0] for v in sc.service.values()) < sum(len(d) for d in days)
    gp = pl.plan_group(forecast, impatient, group)
    assert gp.level is not None and gp.level >= impatient.target_share


def test_the_roster_as_it_stands_is_scored_beside_the_plan(plan, centre):
    p = plan
    ids = next(g for g in p.groups if "c01" in g.group.counters)
    assert ids.roster_at[20] == ["c01"] and ids.roster_level is not None and ids.roster_level < ids.level
    assert p.level(roster=True) < centre.target_share <= p.level()
    rows = list(csv.DictReader(io.StringIO(pl.plan_csv(p))))
    assert len(rows) == len(p.groups) * len(PROFILE)
    row = next(r for r in rows if r["half_hour"] == "10:00" and "id-card-new" in r["services"].split(";"))
    assert int(row["planned_counters"]) >= 3 and row["roster_counters"] == "1"
    unstaffed = next(r for r in rows if r["half_hour"] == "10:00" and "passport" in r["services"].split(";"))
    assert unstaffed["roster_counters"] == "0" and int(unstaffed["planned_counters"]) >= 1
