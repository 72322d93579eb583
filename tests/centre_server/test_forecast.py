"""The wait forecast: the engine run forward from the live state reads sensible, bounded waits."""

from __future__ import annotations

import json
import math
import random
import statistics
import threading

from centre_server.config import load_settings
from centre_server.contract import Priority
from centre_server.queue import engine, forecast
from centre_server.queue.engine import Counter, Service
from centre_server.queue.estimate import ForecastTable, WaitPredictor
from centre_server.runtime.centre import Centre
from centre_server.sim.replay import start_epoch
from tests.conftest import wait_until

H = 3600.0


def hall(counters: int = 3, typical: float = 300.0, shared: bool = False) -> engine.State:
    """A centre of one service (and a second on shared counters), its counters open and busy."""
    services = [Service(id="q", prefix="Q", name_en="Queue", name_sw="Foleni", service_time_s=typical),
                Service(id="r", prefix="R", name_en="Other", name_sw="Nyingine", service_time_s=typical)]
    skills = [["q", "r"] if shared and i % 2 else ["q"] for i in range(counters)]
    return engine.new_state(services, [Counter(id=f"c{i}", name=str(i), services=skills[i])
                                       for i in range(counters)])


def learn(state: engine.State, mean: float, t0: float, rng: random.Random, n: int = 200) -> float:
    """A morning of served citizens at ``mean`` seconds each: the predictor learns from them."""
    now = t0
    cids = list(state.counters)
    for cid in cids:
        engine.apply(state, engine.OpenCounter(cid), now)
    for i in range(n):
        engine.apply(state, engine.IssueTicket(f"w{i}", "q"), now)
        cid = cids[i % len(cids)]
        engine.apply(state, engine.CallNext(cid), now)
        now += rng.expovariate(1 / mean) / len(cids)
        engine.apply(state, engine.Complete(cid), now)
    return now


def busy_queue(state: engine.State, now: float, waiting: int, priority: int = 0) -> None:
    for cid in state.counters:
        engine.apply(state, engine.IssueTicket(f"s-{cid}", "q"), now)
        engine.apply(state, engine.CallNext(cid), now)
    for i in range(waiting):
        engine.apply(state, engine.IssueTicket(f"n{i}", "q", priority=Priority.elderly if i < priority
                                               else Priority.none), now + i)


def test_position_table_grows_with_position_and_matches_queue_theory() -> None:
    rng = random.Random(3)
    state = hall(counters=3)
    now = learn(state, 300.0, start_epoch() + 8 * H, rng)
    busy_queue(state, now, waiting=12)
    table = forecast.forecast(state, now + 20, futures=48, rng=random.Random(1))
    first, waits = table.normal["q"]
    # before each of the 12 waiting, a newcomer at the end, and behind those who may come before the next refresh
    assert first == 0 and len(waits) == 13 + forecast.BEYOND
    assert all(a <= b for a, b in zip(waits, waits[1:], strict=False))  # never less for more ahead
    # M/M/3 with every counter busy: E[wait | k ahead] = (k + 1) * mean / 3
    mean = state.predictor.mean_service_s["q"]
    for k in (0, 6, 12):
        assert abs(waits[k] / ((k + 1) * mean / 3) - 1) < 0.25, (k, waits[k])
    # the estimator reads it: a newcomer behind the twelve gets the end position's wait
    state.predictor.forecast = table
    assert engine.estimate_wait(state, "q", 12, now + 30) == round(waits[12])
    # past the end the table goes on at the queue's own pace, never faster than nothing
    assert table.wait("q", 20) > waits[12]


def test_priority_table_and_shared_counters() -> None:
    rng = random.Random(4)
    state = hall(counters=4, shared=True)
    now = learn(state, 240.0, start_epoch() + 8 * H, rng)
    busy_queue(state, now, waiting=10, priority=3)
    for i in range(6):
        engine.apply(state, engine.IssueTicket(f"r{i}", "r"), now + 50 + i)
    table = forecast.forecast(state, now + 60, futures=32, rng=random.Random(2))
    first, waits = table.normal["q"]
    assert first == 3  # a normal ticket has the three priority citizens ahead of it at least
    pfirst, pwaits = table.priority["q"]
    assert pfirst == 0 and len(pwaits) == 4
    assert pwaits[-1] <= waits[-1]  # a priority newcomer goes before a normal one
    assert all(not math.isnan(w) for w in waits + pwaits + table.normal["r"][1])


def test_no_estimate_above_the_guard_and_unknown_when_nobody_serves() -> None:
    state = hall(counters=1)
    now = learn(state, 1800.0, start_epoch() + 8 * H, random.Random(5), n=30)
    busy_queue(state, now, waiting=60)  # 60 people at a slow counter: hours of waiting
    table = forecast.forecast(state, now + 70, futures=8, rng=random.Random(3))
    state.predictor.forecast = table
    closes = now + 2 * H
    est = state.predictor.estimate(state, "q", 60, now + 70, closes_at=closes)
    assert est is not None and est <= closes - (now + 70) + 3600  # capped at closing + 1 h
    # service "r" has no counter open nor planned: no number, the screens say why
    assert "r" not in table.normal
    assert engine.wait_for(state, "r", 0, now + 70) == (None, engine.WaitUnknown.no_counter)


def test_a_stale_or_missing_table_falls_back_to_the_closed_forms() -> None:
    state = hall(counters=2)
    now = learn(state, 300.0, start_epoch() + 8 * H, random.Random(6))
    busy_queue(state, now, waiting=5)
    closed = state.predictor.estimate(state, "q", 5, now)
    absurd = ForecastTable(at=now, max_age_s=60.0, normal={"q": (0, (7.0,) * 6)}, priority={}, step={"q": 1.0})
    state.predictor.forecast = absurd
    assert state.predictor.estimate(state, "q", 5, now + 30) == 7  # fresh: read
    assert state.predictor.estimate(state, "q", 5, now + 61) == closed  # stale: the closed forms
    assert state.predictor.estimate(state, "q", 5, now - 3600) == closed  # from the future: not trusted


def test_the_forecaster_starts_and_stops_with_the_server(centre_dir) -> None:
    settings = load_settings(centre_dir.path)
    settings.queue.forecast_every_s = 0.2
    centre = Centre(settings)
    centre.start_writer()
    try:
        assert centre.forecaster is not None and centre.forecaster.running
        for cid in list(centre.state.counters)[:2]:
            centre.execute(engine.OpenCounter(cid))
        svc = next(iter(centre.state.counters.values())).services[0]
        for i in range(4):
            centre.execute(engine.IssueTicket(ticket_id=f"F{i}", service_id=svc))
        wait_until(lambda: centre.state.predictor.forecast is not None, what="a forecast table")
        table = centre.state.predictor.forecast
        assert table is not None and svc in table.normal
        thread = next(t for t in threading.enumerate() if t.name == "wait-forecaster")
    finally:
        centre.stop_writer()
        centre.close()
    assert centre.forecaster is None and not thread.is_alive()


def test_turned_off_no_thread(centre_dir) -> None:
    settings = load_settings(centre_dir.path)
    settings.queue.forecast_every_s = 0
    centre = Centre(settings)
    centre.start_writer()
    try:
        assert centre.forecaster is None
        assert not any(t.name == "wait-forecaster" for t in threading.enumerate())
    finally:
        centre.stop_writer()
        centre.close()


def test_a_counter_that_opens_or_closes_drops_the_table() -> None:
    """The futures were run with other counters: the closed forms answer until the next table."""
    state = hall(counters=2)
    now = learn(state, 300.0, start_epoch() + 8 * H, random.Random(7))
    busy_queue(state, now, waiting=4)
    state.predictor.forecast = forecast.forecast(state, now, futures=8, rng=random.Random(1))
    for cid in list(state.counters):
        engine.apply(state, engine.CloseCounter(cid), now + 5)
    assert state.predictor.forecast is None
    assert engine.wait_for(state, "q", 4, now + 6)[0] is None  # nobody serves: no number, as before


def test_a_long_queue_is_read_between_markers() -> None:
    state = hall(counters=4)
    now = learn(state, 120.0, start_epoch() + 8 * H, random.Random(8))
    busy_queue(state, now, waiting=350)
    snap = forecast.take_snapshot(state, now + 400)
    assert len(snap.markers) < 150  # every few positions, and each end, not 350
    table = forecast.run_futures(snap, futures=4, rng=random.Random(2))
    first, waits = table.normal["q"]
    assert len(waits) == 351 + forecast.BEYOND and all(a <= b for a, b in zip(waits, waits[1:], strict=False))


def test_a_slower_counter_is_learned_and_equal_counters_stay_equal() -> None:
    from centre_server.queue.estimate import WaitPredictor

    rng = random.Random(9)
    same, apart = WaitPredictor(), WaitPredictor()
    for p in (same, apart):
        p.prime("q", 300)
    for _ in range(400):
        for i in range(4):
            same.observe("q", rng.expovariate(1 / 300), f"c{i}")
            apart.observe("q", rng.expovariate(1 / (600 if i == 0 else 300)), f"c{i}")
    assert all(v == 1.0 for v in same.counter_speeds().values())  # noise alone: no counter singled out
    speeds = apart.counter_speeds()
    assert speeds["c0"] > 1.4 and all(speeds[f"c{i}"] < 1.0 for i in (1, 2, 3))


def test_a_counter_busy_since_the_snapshot_counts_as_one_more_ahead() -> None:
    """The table saw a free counter; a citizen took it since: a newcomer now is not called at once."""
    state = hall(counters=2)
    now = learn(state, 300.0, start_epoch() + 8 * H, random.Random(10))
    engine.apply(state, engine.IssueTicket("busy", "q"), now)
    engine.apply(state, engine.CallNext("c0"), now)  # c1 stays free
    table = forecast.forecast(state, now + 1, futures=16, rng=random.Random(4))
    state.predictor.install(table)
    assert table.wait("q", 0) == 0.0  # at the snapshot: the free counter calls a newcomer at once
    engine.apply(state, engine.IssueTicket("took-it", "q"), now + 5)
    engine.apply(state, engine.CallNext("c1"), now + 5)
    later = state.predictor.estimate(state, "q", 0, now + 6)
    assert later is not None and later > 30  # both busy now: about half a service time


def test_remote_tickets_not_yet_checked_in_count_as_people_ahead() -> None:
    """Citizens who joined by SMS, USSD or the web and have not checked in yet are still ahead: the
    forecast assumes they come (the learned no-show share covers those who do not). Run forward
    with the engine's skip-at-the-front rule, every one of them was skipped at once, so three remote
    tickets shared one wait and the kiosk ticket behind them was told it was next."""
    rng = random.Random(5)
    state = hall(counters=2)
    now = learn(state, 300.0, start_epoch() + 8 * H, rng)
    for cid in state.counters:
        engine.apply(state, engine.IssueTicket(f"s-{cid}", "q"), now)
        engine.apply(state, engine.CallNext(cid), now)
    for i in range(3):
        engine.apply(state, engine.IssueTicket(f"r{i}", "q", checked_in=False), now + i)
    engine.apply(state, engine.IssueTicket("k0", "q"), now + 3)
    table = forecast.forecast(state, now + 10, futures=48, rng=random.Random(2))
    _, waits = table.normal["q"]
    assert len(waits) == 5 + forecast.BEYOND
    assert all(b - a > 30 for a, b in zip(waits, waits[1:4], strict=False)), waits  # each one ahead adds time
    mean = state.predictor.mean_service_s["q"]
    assert abs(waits[3] / (4 * mean / 2) - 1) < 0.3, waits  # the kiosk ticket: four ahead of it, two counters


def test_where_a_closing_counter_stopped_calling() -> None:
    """Closed leaving citizens waiting: it stopped between its last call and its close. Closed with
    nobody waiting (a quiet lunch hour): it would have called anyone who came, so it stopped at the close."""
    state = hall(counters=2)
    t0 = 1_767_250_800.0  # 2026-01-01 10:00 in Nairobi (07:00 UTC)
    for cid in ("c0", "c1"):
        engine.apply(state, engine.OpenCounter(cid), t0)
    engine.apply(state, engine.IssueTicket("t1", "q"), t0 + 10)
    engine.apply(state, engine.IssueTicket("t2", "q"), t0 + 20)
    engine.apply(state, engine.IssueTicket("t3", "q"), t0 + 30)
    engine.apply(state, engine.CallNext("c0"), t0 + 100)  # t1; t2 and t3 go on waiting
    engine.apply(state, engine.Complete("c0"), t0 + 400)
    engine.apply(state, engine.CloseCounter("c0"), t0 + 400)  # left t2 and t3 waiting
    engine.apply(state, engine.CallNext("c1"), t0 + 500)  # t2
    engine.apply(state, engine.StartService("c1"), t0 + 510)  # t2 came (a call over a call is refused)
    engine.apply(state, engine.CallNext("c1"), t0 + 800)  # t3 (complete_on_call_next finishes t2)
    engine.apply(state, engine.Complete("c1"), t0 + 900)
    engine.apply(state, engine.CloseCounter("c1"), t0 + 1500)  # idle since t0 + 900, nobody waiting
    stops = state.predictor.stops["2026-01-01"]
    tod = 10 * 3600.0
    assert stops[("c0", int(tod + 400))] == tod + 250  # halfway between its last call and its close
    assert stops[("c1", int(tod + 1500))] == tod + 1500  # at the close


def _day_with_lunch(state: engine.State, midnight: float, rng: random.Random) -> None:
    """A morning of citizens at both counters (20 min each); c0 goes to lunch 12:00-12:45."""
    for cid in ("c0", "c1"):
        engine.apply(state, engine.OpenCounter(cid), midnight + 8 * H)
    now = midnight + 8 * H
    for i in range(8):  # one after the other, done by about 11:00
        cid = ("c0", "c1")[i % 2]
        engine.apply(state, engine.IssueTicket(f"m{midnight:.0f}-{i}", "q"), now)
        engine.apply(state, engine.CallNext(cid), now)
        now += rng.expovariate(1 / 1200.0)
        engine.apply(state, engine.Complete(cid), now)
    engine.apply(state, engine.CloseCounter("c0"), midnight + 12 * H)  # free: nobody waiting


def test_a_queue_past_its_end_sees_the_colleague_back_from_lunch() -> None:
    """Over lunch one counter is left and its colleague is back in minutes. A newcomer with one more
    ahead than the snapshot had (one came between two refreshes) is past the queue's end: the futures
    read that position too, with the colleague back, instead of going on at the pace of the one
    counter open now (which printed half an hour on a Huduma day where 13 minutes came true)."""
    rng = random.Random(18)
    state = hall(counters=2, typical=1200.0)
    yesterday = start_epoch()
    _day_with_lunch(state, yesterday, rng)
    engine.apply(state, engine.OpenCounter("c0"), yesterday + 12.75 * H)
    for cid in ("c0", "c1"):
        engine.apply(state, engine.CloseCounter(cid), yesterday + 17 * H)
    today = yesterday + 24 * H
    _day_with_lunch(state, today, rng)
    engine.apply(state, engine.IssueTicket("at-c1", "q"), today + 12.5 * H)
    engine.apply(state, engine.CallNext("c1"), today + 12.5 * H)
    engine.apply(state, engine.IssueTicket("waiting", "q"), today + 12.6 * H)
    now = today + 12 * H + 40 * 60  # 12:40: c0 is back at 12:45, c1 busy since 12:30
    table = forecast.forecast(state, now, futures=64, rng=random.Random(7))
    first, waits = table.normal["q"]
    assert first == 0 and len(waits) == 2 + forecast.BEYOND  # the newcomers behind the end read too
    assert all(a < b for a, b in zip(waits, waits[1:], strict=False))
    assert waits[0] < 8 * 60  # the one waiting: c0 calls them when it is back at 12:45
    mean = state.predictor.mean_service_s["q"]
    # two ahead (one came since the snapshot): one more citizen costs about a service over the two
    # counters, not a whole service at the one counter open now
    assert table.wait("q", 2) - table.wait("q", 1) < 0.75 * mean
    assert table.wait("q", 3) - table.wait("q", 2) < 0.75 * mean  # and so on past the table
    state.predictor.install(table)
    est = engine.estimate_wait(state, "q", 2, now + 10)
    assert est is not None and est == round(table.wait("q", 2) or 0) and est < 45 * 60


def test_the_end_of_a_shift_narrowed_by_the_days() -> None:
    """A counter that served until it closed stopped calling somewhere between its last call and its
    close; the same lunch on other days narrows it to where the spans overlap. A counter free before
    it closed stopped at the close; a day whose span misses the others' (left early) is passed over."""
    state = hall(counters=2)
    day0 = start_epoch() + 7 * H  # 2026-01-05, 07:00 local: one hour before the counters open
    for d, (call, close) in enumerate([(11.5, 12.4), (11.9, 12.2), (10.0, 10.5), (11.8, 12.3)]):
        base = day0 + d * 24 * H
        midnight = base - 7 * H
        for cid in ("c0", "c1"):
            engine.apply(state, engine.OpenCounter(cid), midnight + 8 * H)
        engine.apply(state, engine.IssueTicket(f"d{d}", "q"), midnight + call * H)
        engine.apply(state, engine.CallNext("c0"), midnight + call * H)
        engine.apply(state, engine.Complete("c0"), midnight + close * H)  # served until it closed
        engine.apply(state, engine.CloseCounter("c0"), midnight + close * H)
        engine.apply(state, engine.CloseCounter("c1"), midnight + 12.25 * H)  # free since 08:00
        engine.apply(state, engine.OpenCounter("c0"), midnight + 13 * H)
        engine.apply(state, engine.OpenCounter("c1"), midnight + 13 * H)
    days = sorted(state.predictor.stop_spans)
    assert len(days) == 3  # the last three days kept
    # the last day's own span is [11:48, 12:18]; the first day kept [11:54, 12:12] narrows it, the
    # 10:00-10:30 day (another shift) is passed over: halfway through [11:54, 12:12]
    _, stops = state.predictor.plan_of("2026-01-09")
    assert stops[("c0", int(12.3 * H))] == (11.9 * H + 12.2 * H) / 2
    assert stops[("c1", int(12.25 * H))] == 12.25 * H  # free before it closed: at the close
    # kept across a restart (as JSON, the way the centre's database keeps it)
    again = WaitPredictor()
    assert again.restore(json.loads(json.dumps(state.predictor.learned())))
    assert again.plan_of("2026-01-09")[1] == stops
    # a row saved before the spans were kept still restores (the stops alone, as then)
    old = json.loads(json.dumps(state.predictor.learned()))
    del old["stop_spans"], old["last_free"]
    assert WaitPredictor().restore(old)


def test_an_unchanged_hall_keeps_its_figures_and_a_call_shows_at_once() -> None:
    """The same random numbers every refresh: nothing changed, the same table (a citizen's estimate moved
    between 1,445 and 2,034 s over three quiet minutes when each refresh drew fresh futures)."""
    state = hall(counters=1)
    now = learn(state, 240.0, start_epoch() + 8 * H, random.Random(6), n=80)  # a morning at one counter
    busy_queue(state, now, waiting=4)
    seed = 12345

    def fourth(at: float, draws: int = seed) -> float:  # the last of the four waiting: three ahead
        return forecast.run_futures(forecast.take_snapshot(state, at), 32, seed=draws).normal["q"][1][3]

    again = [fourth(now + 10 + 15 * k) for k in range(4)]  # four refreshes 15 s apart, nothing changing
    fresh = [fourth(now + 10, draws=s) for s in range(1, 9)]  # what fresh draws each refresh gave
    noise = statistics.pstdev(fresh)
    assert noise > 30.0  # 32 futures of four services each: the table's own Monte-Carlo spread
    assert fourth(now + 10) == again[0]  # the same state and moment: the same figure to the bit
    assert max(again) - min(again) < noise / 4  # the service under way runs on: barely a change
    # each figure is still one Monte-Carlo mean like any other: the same draws are not a biased pick
    assert abs(again[0] - statistics.fmean(fresh)) < 3 * noise
    # a real change shows at once: the counter finishes and calls the next, one fewer ahead
    engine.apply(state, engine.Complete("c0"), now + 60)
    engine.apply(state, engine.CallNext("c0"), now + 60)
    after = forecast.run_futures(forecast.take_snapshot(state, now + 61), 32, seed=seed).normal["q"][1][2]
    assert after < min(again) - 120.0


def test_more_futures_while_a_refresh_is_cheap() -> None:
    """A small hall gets up to MAX_FUTURES futures within the top-up's engine commands, doubling from
    FUTURES; the count depends on the hall alone (never on the machine's load), so the table too."""
    state = hall(counters=2)
    now = learn(state, 300.0, start_epoch() + 8 * H, random.Random(8))
    busy_queue(state, now, waiting=3)
    snap = forecast.take_snapshot(state, now + 5)
    table = forecast.run_futures(snap, forecast.FUTURES, seed=1, most=forecast.MAX_FUTURES)
    assert table.futures in (64, 128, 256)
    again = forecast.run_futures(forecast.take_snapshot(state, now + 5), forecast.FUTURES, seed=1,
                                 most=forecast.MAX_FUTURES)
    assert (again.futures, again.normal) == (table.futures, table.normal)
    assert forecast.run_futures(snap, forecast.FUTURES, seed=1).futures == forecast.FUTURES  # no top-up asked
    assert forecast.run_futures(snap, 32, seed=1, most=256, top_up=0).futures == 32  # nothing to spare


def test_the_forecasters_share_of_a_core_is_kept_as_a_credit() -> None:
    """4 % of each second accrues up to CREDIT_S and a refresh spends what it took: a burst of tables
    remade at once (counters opening in the morning, tickets at the kiosks) is paid back before the next,
    so a hall where one refresh costs 1.5 CPU-s gets one every 37.5 s (4 %), not every period."""
    from centre_server.runtime.forecaster import CREDIT_S, MAX_SHARE, Forecaster

    state = hall(counters=1)
    live = type("Live", (), {"lock": threading.Lock(), "state": state, "clock": staticmethod(lambda: 0.0)})()
    f = Forecaster(live, period_s=15.0)
    assert f._credit(f.credit_at + 3600.0) == CREDIT_S  # never more than a burst's worth saved up
    f.credit, f.credit_at = -1.5, 100.0  # a refresh of 1.5 CPU-s spent from nothing
    assert abs(f._credit(100.0 + 1.5 / MAX_SHARE)) < 1e-9  # paid back after 37.5 s: 4 % of a core
    assert f._credit(110.0) < 0.0  # the periodic refresh at 15 s waits


def test_a_counter_back_from_its_shift_change_is_not_taken_as_closing() -> None:
    """Yesterday c0 closed at 12:00 for a shift change and opened again at 12:15. Today at 12:19 it
    is back and serving: the futures must keep it. Taken as 'closing' (it had closed within the last
    20 minutes of the plan), it finished its citizen and never came back in any future: a Huduma
    day's newcomer with one ahead and three counters was told 38 minutes where 4 came true."""
    rng = random.Random(4)
    state = hall(counters=2, typical=1200.0)
    yesterday = start_epoch()
    for day in (yesterday, yesterday + 24 * H):
        _day_with_lunch(state, day, rng)  # c0 closes at 12:00, for its shift change
        engine.apply(state, engine.OpenCounter("c0"), day + 12.25 * H)
        if day == yesterday:
            for cid in ("c0", "c1"):
                engine.apply(state, engine.CloseCounter(cid), day + 17 * H)
    today = yesterday + 24 * H
    for i, cid in enumerate(("c0", "c1")):
        engine.apply(state, engine.IssueTicket(f"busy-{cid}", "q"), today + 12.26 * H + i)
        engine.apply(state, engine.CallNext(cid), today + 12.26 * H + i)
    engine.apply(state, engine.IssueTicket("waiting", "q"), today + 12.3 * H)
    now = today + 12.3 * H + 60  # 12:19: both counters serve, one citizen waits
    snap = forecast.take_snapshot(state, now)
    assert "c0" not in snap.closing
    table = forecast.run_futures(snap, 64, rng=random.Random(3))
    mean = state.predictor.mean_service_s["q"]
    # the one waiting: the first of two busy counters to finish (about half a service), not c1 alone
    assert table.wait("q", 0) < 0.75 * mean, (table.wait("q", 0), mean)
    assert table.wait("q", 1) < 1.25 * mean, (table.wait("q", 1), mean)


def test_past_the_end_of_a_shared_queue_other_services_newcomers_are_not_ahead() -> None:
    """Five services share two counters; one serves, the other is free, nobody waits. A newcomer
    who finds one more ahead than the snapshot had (one came since, and took the free counter)
    waits for the first of the two to be done: about half a service. When every queue had a
    simulated newcomer of its own at the snapshot, the five stood ahead of each other and this
    newcomer waited for all of them (a Huduma day's 15:52 newcomer was told 29 min; 3 came true)."""
    rng = random.Random(11)
    ids = ["a", "b", "c", "d", "e"]
    services = [Service(id=x, prefix=x.upper(), name_en=x, name_sw=x, service_time_s=300.0) for x in ids]
    state = engine.new_state(services, [Counter(id=f"c{i}", name=str(i), services=ids) for i in range(2)])
    now = start_epoch() + 8 * H
    for cid in ("c0", "c1"):
        engine.apply(state, engine.OpenCounter(cid), now)
    for i in range(60):  # a morning of citizens of every service, 5 min each
        engine.apply(state, engine.IssueTicket(f"m{i}", ids[i % 5]), now)
        engine.apply(state, engine.CallNext("c0"), now)
        now += rng.expovariate(1 / 300.0)
        engine.apply(state, engine.Complete("c0"), now)
    engine.apply(state, engine.IssueTicket("at-c0", "a"), now)
    engine.apply(state, engine.CallNext("c0"), now)
    table = forecast.forecast(state, now + 60, futures=128, rng=random.Random(5))
    for sid in ids:
        mean = state.predictor.mean_service_s[sid]
        assert table.wait(sid, 0) == 0.0  # the free counter calls them at once
        # one more ahead: the first of c0 (serving) and c1 (the one who came) to be done, not the
        # four other services' newcomers first (about two services' time)
        assert table.wait(sid, 1) < 0.8 * mean, (sid, table.wait(sid, 1), mean)


def test_a_counter_that_stopped_calling_before_its_lunch_is_closing() -> None:
    """Yesterday c0 made its last call at 11:40 and closed for lunch at 12:00 with a citizen still
    waiting: it stopped calling about 11:50. Today at 11:55 it serves: the futures let it finish and
    go, back at 12:45, though the plan has it open until 12:00 (a counter kept calling through its
    lunch told a Huduma day's citizen 16 minutes where 46 came true)."""
    state = hall(counters=2, typical=1200.0)
    yesterday = start_epoch()
    for day in (yesterday, yesterday + 24 * H):
        for cid in ("c0", "c1"):
            engine.apply(state, engine.OpenCounter(cid), day + 8 * H)
        for i in range(4):
            engine.apply(state, engine.IssueTicket(f"t{day:.0f}-{i}", "q"), day + 11 * H + i)
        engine.apply(state, engine.CallNext("c0"), day + 11 * H)
        engine.apply(state, engine.Complete("c0"), day + 11 * H + 40 * 60)
        engine.apply(state, engine.CallNext("c0"), day + 11 * H + 40 * 60)  # its last call before lunch
        engine.apply(state, engine.CallNext("c1"), day + 11 * H + 50 * 60)
        if day > yesterday:
            break
        engine.apply(state, engine.Complete("c0"), day + 12 * H)
        engine.apply(state, engine.CloseCounter("c0"), day + 12 * H)  # one still waiting
        engine.apply(state, engine.OpenCounter("c0"), day + 12.75 * H)
        for cid in ("c0", "c1"):
            engine.apply(state, engine.CloseCounter(cid), day + 17 * H)
    now = yesterday + 24 * H + 11 * H + 55 * 60  # 11:55: both serve, one waits
    snap = forecast.take_snapshot(state, now)
    assert "c0" in snap.closing
    assert any(cid == "c0" and sv is not None for _, cid, sv in snap.plan)  # and comes back at 12:45
