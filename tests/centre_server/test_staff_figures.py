"""Per-counter and per-clerk figures (reports.figures.staff_rows) against a day computed by hand."""

from __future__ import annotations

import json

import pytest

from centre_server.contract.summary import problem
from centre_server.queue import engine as e
from centre_server.reports import figures
from tests.centre_server.test_engine import T0, make_state

KEY = "0123456789abcdef0123456789abcdef"


def hand_day() -> tuple[e.State, list[e.Event]]:
    """Two clerks, two counters, one parked citizen, one no-show (times in seconds after 08:00)."""
    state = make_state()
    state.day = e.day_of(T0, "Africa/Nairobi")
    log: list[e.Event] = []
    steps: list[tuple[int, e.Command]] = [
        (0, e.OpenCounter("c1", clerk="amina")),
        (0, e.OpenCounter("c3", clerk="baraka")),
        (60, e.IssueTicket("t1", "id-card")),
        (120, e.IssueTicket("t2", "id-card")),
        (180, e.IssueTicket("t3", "kra")),
        (240, e.IssueTicket("t4", "id-card")),
        (300, e.CallTicket("c1", "t1")),
        (360, e.StartService("c1")),
        (400, e.CallTicket("c3", "t3")),
        (600, e.Complete("c3", "documents_missing", reason="KRA PIN certificate")),
        (660, e.Complete("c1")),
        (700, e.CallTicket("c1", "t2")),
        (760, e.ParkTicket("c1", note="copy of ID")),
        (800, e.CallTicket("c1", "t4")),
        (900, e.MarkNoShow("c1")),
        (1000, e.CallParked("c3", "t2", clerk="baraka")),
        (1100, e.Complete("c3")),
        (1200, e.CloseCounter("c1")),
        (1800, e.CloseCounter("c3")),
    ]
    for at, cmd in steps:
        log.extend(e.apply(state, cmd, T0 + at))
    return state, log


def summary(log: list[e.Event], key: str | None = KEY) -> dict:
    return figures.summarise(
        centre_id="gpo", centre_name="GPO", day=e.day_of(T0, "Africa/Nairobi"), tz="Africa/Nairobi",
        ticket_events=[ev for ev in log if ev.type in figures.TICKET_EVENTS], counter_prior={},
        counter_events=[ev for ev in log if ev.type in figures.COUNTER_EVENTS],
        services={}, counters={"c1": "1", "c3": "3"}, now=T0 + 1800, clerk_key=key)


def test_per_counter_and_per_clerk_figures_match_the_hand_computed_day():
    _, log = hand_day()
    stories = list(figures.stories_from_events([ev for ev in log if ev.type in figures.TICKET_EVENTS]).values())
    start, _ = figures.day_bounds(e.day_of(T0, "Africa/Nairobi"), "Africa/Nairobi")
    counter_events = [ev for ev in log if ev.type in figures.COUNTER_EVENTS]
    spans = figures._intervals({}, counter_events, start, T0 + 1800)
    clerk_spans = figures._clerk_spans({}, counter_events, start, T0 + 1800)
    counters, clerks = figures.staff_rows(stories, spans, clerk_spans, {"c1": "1", "c3": "3"}, start, T0 + 1800)
    by_counter = {r["counter_id"]: r for r in counters}
    by_clerk = {r["clerk"]: r for r in clerks}
    # counter 1 (amina), open 0..1200 s = 1200 s staffed.
    #   busy: t1 300..660 (360 s) + t2 700..760 until parked (60 s) + t4 800..900 until the no-show (100 s) = 520 s
    #   idle share (1200 - 520) / 1200 = 0.56667 -> 0.5667; staffed 0.33 h, busy 0.144 h -> 0.14 h
    #   served: t1 only (t2 was parked here but finished at counter 3), service 360..660 = 300 s; no-shows: t4
    c1 = by_counter["c1"]
    assert (c1["served"], c1["no_shows"], c1["service_mean_s"], c1["service_p90_s"]) == (1, 1, 300.0, 300.0)
    assert (c1["staffed_hours"], c1["busy_hours"], c1["idle_share"]) == (0.33, 0.14, 0.5667)
    assert c1["outcomes"] == {"served": 1}
    # counter 3 (baraka), open 0..1800 s = 1800 s staffed.
    #   busy: t3 400..600 (200 s) + t2 called back 1000..1100 (100 s) = 300 s; idle 1500 / 1800 = 0.8333
    #   served: t3 (no start pressed: call 400 -> done 600 = 200 s, documents_missing)
    #           t2 (60 s before the park at counter 1 + 100 s after the call back = 160 s, served)
    #   mean (200 + 160) / 2 = 180 s; p90 nearest rank of [160, 200]: rank ceil(1.8) = 2 -> 200 s
    c3 = by_counter["c3"]
    assert (c3["served"], c3["no_shows"], c3["service_mean_s"], c3["service_p90_s"]) == (2, 0, 180.0, 200.0)
    assert (c3["staffed_hours"], c3["busy_hours"], c3["idle_share"]) == (0.5, 0.08, 0.8333)
    assert c3["outcomes"] == {"documents_missing": 1, "served": 1}
    # each clerk kept one counter all day: the same figures by clerk
    for clerk, cid in (("amina", "c1"), ("baraka", "c3")):
        row = {k: v for k, v in by_clerk[clerk].items() if k not in ("clerk", "counters")}
        assert row == {k: v for k, v in by_counter[cid].items() if k not in ("counter_id", "name")}
        assert by_clerk[clerk]["counters"] == 1


def test_headquarters_gets_pseudonyms_never_usernames_and_the_summary_validates():
    _, log = hand_day()
    data = summary(log)
    text = json.dumps(data)
    assert "amina" not in text and "baraka" not in text
    names = {figures.clerk_pseudonym(KEY, "amina"): "amina", figures.clerk_pseudonym(KEY, "baraka"): "baraka"}
    assert {r["clerk"] for r in data["clerks"]} == set(names)
    assert {names[r["clerk"]]: r["served"] for r in data["clerks"]} == {"amina": 1, "baraka": 2}
    assert problem(data) is None
    # the same centre key gives the same pseudonym every day; another centre's key another one
    assert figures.clerk_pseudonym(KEY, "amina") != figures.clerk_pseudonym("another", "amina")
    # without the key (a database older than it) the summary has no clerk rows at all
    assert summary(log, key=None)["clerks"] == []
    # an older centre's summary, without clerk rows or the new counter figures, still validates
    old = dict(data)
    old.pop("clerks")
    old["counters"] = [{"counter_id": "c1", "name": "1", "staffed_hours": 0.33, "served": 1}]
    assert problem(old) is None
    bad = dict(data, clerks=[{**data["clerks"][0], "clerk": "amina"}])
    assert problem(bad) is not None and "clerk" in problem(bad)


def test_a_day_open_now_counts_the_ticket_still_at_the_counter_as_busy():
    state = make_state()
    state.day = e.day_of(T0, "Africa/Nairobi")
    log: list[e.Event] = []
    for at, cmd in [(0, e.OpenCounter("c1", clerk="amina")), (10, e.IssueTicket("t1", "id-card")),
                    (100, e.CallNext("c1"))]:
        log.extend(e.apply(state, cmd, T0 + at))
    data = figures.summarise(
        centre_id="gpo", centre_name="GPO", day=state.day, tz="Africa/Nairobi",
        ticket_events=[ev for ev in log if ev.type in figures.TICKET_EVENTS], counter_prior={},
        counter_events=[ev for ev in log if ev.type in figures.COUNTER_EVENTS],
        services={}, counters={"c1": "1"}, now=T0 + 400, clerk_key=KEY)
    # open 0..400 s, the called ticket at the counter since 100 s: busy 300 s, idle 100 / 400 = 0.25
    assert data["counters"][0]["idle_share"] == pytest.approx(0.25)
    assert data["counters"][0]["served"] == 0
