"""The wait predictor learns from the centre's own events and follows queueing theory."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from centre_server.contract import Priority
from centre_server.queue import engine, estimate
from centre_server.queue.engine import Counter, Service
from centre_server.queue.estimate import WaitPredictor
from centre_server.sim.replay import Arrival, Shift, replay, start_epoch

H = 3600.0
DAY = 86400.0


def centre(counters: int = 2, typical: float = 300.0) -> engine.State:
    services = [Service(id="q", prefix="Q", name_en="Queue", name_sw="Foleni", service_time_s=typical)]
    state = engine.new_state(services, [Counter(id=f"c{i}", name=str(i), services=["q"]) for i in range(counters)])
    return state


def run(state: engine.State, command: engine.Command, now: float) -> list[engine.Event]:
    return engine.apply(state, command, now)  # evolve teaches the predictor each event


def test_starts_from_the_menu_and_learns_the_mean_service_time() -> None:
    p = WaitPredictor()
    p.prime("q", 600)
    assert p.mean_service_s["q"] == 600
    rng = random.Random(7)
    for _ in range(2000):
        p.observe("q", rng.expovariate(1 / 240))
    assert abs(p.mean_service_s["q"] - 240) < 25


def test_queue_length_estimate_when_every_counter_is_busy() -> None:
    state = centre(counters=2, typical=300)
    t0 = start_epoch()
    now = t0 + 8 * H
    for cid in ("c0", "c1"):
        run(state, engine.OpenCounter(cid), now)
    assert state.predictor.estimate(state, "q", 0, now) == 0  # free counters: called at once
    for i in range(2):
        run(state, engine.IssueTicket(f"b{i}", "q"), now)
        run(state, engine.CallNext(f"c{i}"), now)
    p = state.predictor
    call = p.call_time_s("q")  # 300 s less the prior share of quick no-shows
    assert 280 < call < 300
    for ahead in range(6):
        assert p.estimate(state, "q", ahead, now) == round((ahead + 1) * call / 2)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 200), st.integers(1, 10))
def test_estimate_grows_with_the_people_ahead(ahead: int, counters: int) -> None:
    state = centre(counters=counters)
    now = start_epoch() + 9 * H
    for i in range(counters):
        run(state, engine.OpenCounter(f"c{i}"), now)
        run(state, engine.IssueTicket(f"b{i}", "q"), now)
        run(state, engine.CallNext(f"c{i}"), now)
    p = state.predictor
    raw = [p._estimate(state, "q", a, now, False, None) for a in (ahead, ahead + 1)]
    assert raw[1] > raw[0] >= 0
    # what is printed is the same figure, capped by the logged guard (12 h without a closing time)
    shown = [p.estimate(state, "q", a, now) for a in (ahead, ahead + 1)]
    assert shown == [min(round(r), int(estimate.GUARD_NO_CLOSING_S)) for r in raw]


def test_learns_no_shows_and_how_long_they_hold_a_counter() -> None:
    state = centre(counters=1)
    now = start_epoch() + 8 * H
    run(state, engine.OpenCounter("c0"), now)
    for i in range(200):
        run(state, engine.IssueTicket(f"t{i}", "q"), now)
        run(state, engine.CallNext("c0"), now)
        now += 120
        if i % 4 == 0:
            run(state, engine.MarkNoShow("c0"), now)
        else:
            run(state, engine.Complete("c0"), now)
    p = state.predictor
    assert abs(p.no_show_share("q") - 0.25) < 0.03
    assert abs(p.no_show_s - 120) < 3  # the 60 s starting guess counts as one no-show


def test_learns_abandonment_and_ahead_thins_out() -> None:
    state = centre(counters=1)
    now = start_epoch() + 8 * H
    run(state, engine.OpenCounter("c0"), now)
    run(state, engine.IssueTicket("busy", "q"), now)
    run(state, engine.CallNext("c0"), now)
    before = state.predictor.estimate(state, "q", 20, now)
    for i in range(10):  # ten citizens leave after waiting 30 minutes each
        run(state, engine.IssueTicket(f"w{i}", "q"), now)
    run(state, engine.CancelTicket("w0", reason="left"), now + 1800)
    for i in range(1, 10):
        run(state, engine.CancelTicket(f"w{i}", reason="left"), now + 1800)
    p = state.predictor
    assert abs(p.abandonment_rate() - 10 / (10 * 1800)) < 1e-9
    assert p.estimate(state, "q", 20, now + 1800) < before


def test_priority_arrivals_jump_ahead_of_normal_tickets() -> None:
    state = centre(counters=1)
    now = start_epoch() + 8 * H
    run(state, engine.OpenCounter("c0"), now)
    run(state, engine.IssueTicket("busy", "q"), now)
    run(state, engine.CallNext("c0"), now)
    plain = state.predictor.estimate(state, "q", 5, now)
    for i in range(6):
        run(state, engine.IssueTicket(f"p{i}", "q", priority=Priority.elderly), now + i * 60)
    assert state.predictor.estimate(state, "q", 5, now + 360) > plain


def test_yesterdays_staffing_is_todays_plan() -> None:
    """Two counters in the morning, six from 10:00 yesterday: at 09:50 today the wait counts on them."""
    trace, shifts = [], []
    rng = random.Random(3)
    for day in range(2):
        base = day * DAY
        shifts += [Shift(f"c{i}", ("q",), base + 8 * H, base + 18 * H) for i in range(2)]
        shifts += [Shift(f"c{i}", ("q",), base + 10 * H, base + 18 * H) for i in range(2, 6)]
        trace += [Arrival(f"d{day}-{i}", base + 8 * H + i * 40, "q", Priority.none, rng.expovariate(1 / 300))
                  for i in range(150)]
    result = replay(trace, shifts)
    p = result.state.predictor
    assert len(p.staffing) == 2
    today = [o for o in result.outcomes if o.arrival_s > DAY + 9.5 * H and o.arrival_s < DAY + 10 * H]
    late = [o for o in today if o.ahead > 10]
    assert late, "the queue should be long before the extra counters open"
    for o in late:  # the plain formula with two counters would promise (ahead+1) * 300 / 2
        assert o.estimate_s < (o.ahead + 1) * p.call_time_s("q") / 2
