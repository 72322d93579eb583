"""Finding 17: the wait forecast's futures run the engine over one-stop visits, transfers and counters left
open without a clerk, and never fail (a failed forecast leaves the hall on the closed forms' waits)."""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings, strategies as st

from centre_server.queue import engine as e, forecast
from tests.centre_server.test_visits import visit_day

SERVICES = ("id-card", "birth", "kra")
COUNTERS = ("c1", "c2", "c3")


def _assert_forecast_runs(d, futures: int = 12) -> forecast.ForecastTable:
    """Futures from ``d``'s live state: every position the table gives is a wait, never a crash."""
    before = {tid: (t.state, t.service_id) for tid, t in d.state.tickets.items()}
    table = forecast.forecast(d.state, d.now + 5, futures=futures, rng=random.Random(7))
    for _, waits in [*table.normal.values(), *table.priority.values()]:
        assert all(math.isnan(w) or w >= 0 for w in waits), waits
    # the futures run on a copy: the live day is as it was
    assert {tid: (t.state, t.service_id) for tid, t in d.state.tickets.items()} == before
    return table


def test_a_visit_finishing_a_step_in_a_future_joins_its_next_queue() -> None:
    """The newuser's morning: a one-stop visit (ID card, then KRA PIN) at counter 1 while counter 3, open for
    KRA, serves someone else and will call next; an open counter whose clerk has gone stands beside them."""
    d = visit_day()
    d.open("c1", ("id-card",))
    d.open("c3", ("kra",))
    d.do(e.OpenCounter("c2", ("birth",), clerk=None))  # open, nobody's (a keypad's or a left counter)
    d.issue("kra")
    d.call("c3")
    d.do(e.StartService("c3"))
    visit = d.issue("id-card", then=("kra",))
    assert d.call("c1").id == visit.id
    d.do(e.StartService("c1"))
    for _ in range(4):
        d.issue("kra")
    table = _assert_forecast_runs(d, futures=24)
    assert "kra" in table.normal and not all(math.isnan(w) for w in table.normal["kra"][1])


STEP = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(SERVICES), st.lists(st.sampled_from(SERVICES), max_size=2)),
    st.tuples(st.just("open"), st.sampled_from(COUNTERS), st.booleans()),
    st.tuples(st.sampled_from(["call", "start", "complete", "no_show", "pause", "close"]),
              st.sampled_from(COUNTERS), st.none()),
    st.tuples(st.just("transfer"), st.sampled_from(COUNTERS), st.sampled_from(SERVICES)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=4, max_size=30))
def test_forecast_survives_any_day_of_visits_transfers_and_open_counters(steps) -> None:
    d = visit_day()
    for kind, where, arg in steps:
        cmd: object
        match kind:
            case "issue":
                cmd = e.IssueTicket(f"h{len(d.events)}", where, then=tuple(s for s in arg if s != where))
            case "open":
                cmd = e.OpenCounter(where, clerk=f"clerk-{where}" if arg else None)
            case "call":
                cmd = e.CallNext(where)
            case "start":
                cmd = e.StartService(where)
            case "complete":
                cmd = e.Complete(where)
            case "no_show":
                cmd = e.MarkNoShow(where)
            case "pause":
                cmd = e.PauseCounter(where)
            case "close":
                cmd = e.CloseCounter(where)
            case _:
                cmd = e.Transfer(where, arg)
        try:
            d.do(cmd, dt=30.0)
        except e.QueueError:
            continue
    _assert_forecast_runs(d, futures=6)
