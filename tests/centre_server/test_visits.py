"""One-stop visits in the engine: several services on one ticket (queue/visits.py), by example and by property."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from centre_server.contract import EventType, TicketState
from centre_server.queue import engine as e, visits
from tests.centre_server.test_engine import T0, Day, make_state


def visit_day(policy: e.Policy | None = None) -> Day:
    """The engine tests' little centre, its menu saying what follows what: ID then KRA or birth."""
    d = Day(policy)
    d.state.services["id-card"].then = ("kra", "birth")
    d.state.services["kra"].then = ("birth",)
    d.state.services["birth"].then = ("id-card", "kra")
    return d


def test_one_number_two_counters_and_the_next_queue_at_once():
    d = visit_day()
    t = d.issue("id-card", then=("kra",))
    assert t.number == "A001" and visits.remaining(t) == ["kra"]
    planned = [ev for ev in d.events if ev.type == EventType.visit_planned]
    assert planned[0].data.next_services == ("kra",)
    # the KRA queue already has people who came after the citizen
    later = [d.issue("kra") for _ in range(3)]
    d.open("c1")
    d.open("c3", ("kra",))
    assert d.call("c1").id == t.id
    evs = d.do(e.Complete("c1"), dt=300)
    assert [ev.type for ev in evs] == [EventType.ticket_done, EventType.visit_step_queued]
    assert t.state == TicketState.waiting and t.service_id == "kra" and t.number == "A001"
    # its place by its original issue time: ahead of the three who came after it
    assert e.position(d.state, t) == 0
    assert d.call("c3").id == t.id
    assert t.visit is not None and t.visit.done[0].service_id == "id-card" and t.visit.done[0].counter_id == "c1"
    d.do(e.Complete("c3"), dt=200)
    assert t.state == TicketState.done and visits.remaining(t) == []
    assert all(t.id not in q for q in d.state.queues.values()), "a finished visit leaves no queue entry"
    assert d.call("c3").id == later[0].id
    # its wait at KRA counts from joining that queue, not from the morning
    calls = [ev for ev in d.events if ev.type == EventType.ticket_called and ev.data.ticket_id == t.id]
    assert calls[1].data.waited_s == 1


def test_joined_place_goes_to_the_back():
    d = visit_day(e.Policy(visit_place="joined"))
    t = d.issue("id-card", then=("kra",))
    later = d.issue("kra")
    d.open("c1")
    d.call("c1")
    d.do(e.Complete("c1"))
    assert e.position(d.state, t) == 1
    step = [ev for ev in d.events if ev.type == EventType.visit_step_queued][0]
    assert step.data.place == "joined"
    d.open("c3", ("kra",))
    assert d.call("c3").id == later.id


@pytest.mark.parametrize(("then", "code"), [
    (("kra", "birth", "kra"), "visit_repeats_service"),
    (("kra", "birth", "id-card", "kra"), "visit_too_long"),
    (("nope",), "unknown_service"),
    (("id-card",), "visit_not_offered"),  # the menu lists no ID card after a KRA PIN
])
def test_bad_plans_are_refused_without_a_ticket(then, code):
    d = visit_day()
    with pytest.raises(e.QueueError) as err:
        d.issue("kra" if code == "visit_not_offered" else "id-card", then=then)
    assert err.value.code == code and d.state.tickets == {}


def test_suspended_or_not_offered_next_service_is_refused():
    d = visit_day()
    d.do(e.SuspendService("kra", "iTax is down", "iTax haifanyi kazi"))
    with pytest.raises(e.QueueError) as err:
        d.issue("id-card", then=("kra",))
    assert err.value.code == "service_suspended" and err.value.status == 409
    d.state.services["birth"].offered = False
    with pytest.raises(e.QueueError) as err:
        d.issue("id-card", then=("birth",))
    assert err.value.code == "service_disabled"


def test_clerk_drops_adds_and_reorders_the_rest():
    d = visit_day()
    t = d.issue("id-card", then=("kra", "birth"))
    d.open("c1")
    d.call("c1")
    d.do(e.ChangeVisit("c1", ("birth", "kra")))
    assert visits.remaining(t) == ["birth", "kra"]
    d.do(e.ChangeVisit("c1", ("birth",)))
    assert visits.remaining(t) == ["birth"]
    changed = [ev for ev in d.events if ev.type == EventType.visit_changed]
    assert [ev.data.next_services for ev in changed] == [("birth", "kra"), ("birth",)]
    assert changed[0].data.counter_id == "c1" and changed[0].data.clerk == "clerk-c1"
    with pytest.raises(e.QueueError) as err:
        d.do(e.ChangeVisit("c1", ("id-card",)))  # the service being served now
    assert err.value.code == "visit_repeats_service"
    d.do(e.Complete("c1"))
    d.call("c1")  # c1 serves birth too
    with pytest.raises(e.QueueError) as err:
        d.do(e.ChangeVisit("c1", ("id-card",)))  # already served in this visit
    assert err.value.code == "visit_step_done"
    # a clerk may add a service the menu does not list after this one (staff know the case)
    d.do(e.ChangeVisit("c1", ("kra",)))
    assert visits.remaining(t) == ["kra"]


def test_a_clerk_can_turn_a_one_service_ticket_into_a_visit():
    d = visit_day()
    t = d.issue("birth")
    d.open("c1")
    d.call("c1")
    d.do(e.ChangeVisit("c1", ("id-card",)))  # not in the menu's list after birth: a clerk may
    d.do(e.Complete("c1"))
    assert t.service_id == "id-card" and t.state == TicketState.waiting and t.number == "B001"


def test_no_show_keeps_the_rest_until_reactivated_and_cancel_ends_all():
    d = visit_day(e.Policy(reactivation_window_s=1800))
    t = d.issue("id-card", then=("kra",))
    d.open("c1")
    d.call("c1")
    d.do(e.Complete("c1"))
    d.open("c3", ("kra",))
    d.call("c3")
    d.do(e.MarkNoShow("c3"))
    assert t.state == TicketState.no_show and all(t.id not in q for q in d.state.queues.values())
    d.do(e.Reactivate(t.id), dt=60)
    assert t.state == TicketState.waiting and t.service_id == "kra"
    u = d.issue("id-card", then=("kra", "birth"))
    d.do(e.CancelTicket(u.id))
    assert u.state == TicketState.cancelled and all(u.id not in q for q in d.state.queues.values())
    steps = visits.steps(u)
    assert [s["state"] for s in steps] == ["missed", "missed", "missed"]


def test_transfer_to_a_planned_service_takes_that_step_now():
    d = visit_day()
    t = d.issue("id-card", then=("birth", "kra"))
    d.open("c1")
    d.call("c1")
    d.do(e.Transfer("c1", "kra"))
    assert t.service_id == "kra" and visits.remaining(t) == ["birth"]
    d.open("c3", ("kra",))
    d.call("c3")
    d.do(e.Complete("c3"))
    assert t.service_id == "birth" and t.state == TicketState.waiting


def test_day_close_cancels_the_rest_and_a_paused_counter_passes_on():
    d = visit_day()
    t = d.issue("id-card", then=("kra",))
    d.open("c1")
    d.call("c1")
    d.do(e.StartService("c1"))
    d.do(e.PauseCounter("c1"))  # the clerk's break finishes the service: the citizen goes on to KRA
    assert t.service_id == "kra" and t.state == TicketState.waiting
    u = d.issue("id-card", then=("kra",))
    d.do(e.ResumeCounter("c1"))
    d.call("c1")
    d.do(e.StartService("c1"))
    d.do(e.CloseDay())
    # finished by the close (not served, the figures say), and its KRA PIN never queued
    assert u.state == TicketState.done and u.outcome == "day_closed" and u.service_id == "id-card"
    assert t.state == TicketState.cancelled
    assert [s["state"] for s in visits.steps(u)] == ["done", "missed"]
    assert not [ev for ev in d.events if ev.type == EventType.visit_step_queued and ev.data.ticket_id == u.id]


def test_the_estimate_covers_the_whole_visit():
    d = visit_day()
    d.open("c1")
    d.open("c3", ("kra",))
    d.open("c2", ("birth",))
    one = d.issue("id-card")
    whole = d.issue("id-card", then=("kra", "birth"))
    w_one = e.visit_wait(d.state, one, d.now)
    w_whole = e.visit_wait(d.state, whole, d.now)
    assert w_one is not None and w_whole is not None
    # at least this step's wait, plus the ID card's and the KRA PIN's typical times
    assert w_whole >= e.ticket_estimate(d.state, whole, d.now) + 300 + 300
    d.do(e.SetCounterServices("c1", ("id-card",)))
    d.do(e.CloseCounter("c2"))
    assert e.ticket_estimate(d.state, whole, d.now) is not None
    assert e.visit_wait(d.state, whole, d.now) is None  # nobody serves its last step today: not invented


def test_a_shallow_copy_never_reaches_the_live_plan():
    """The wait forecast runs futures on shallow copies of tickets: a simulated step must not move the real one."""
    d = visit_day()
    t = d.issue("id-card", then=("kra", "birth"))
    shadow = copy.copy(t)
    visits.advance(shadow, "kra", ["birth"], d.now + 60, "issue_time")
    visits.change(shadow, [])
    assert t.visit is not None and t.visit.done == [] and t.visit.next == ["kra", "birth"]
    assert t.service_id == "id-card"


# ------------------------------------------------------------------ properties over random days

SERVICES = ["id-card", "birth", "kra"]
plan = st.lists(st.sampled_from(SERVICES), min_size=1, max_size=4, unique=True)
step = st.one_of(
    st.tuples(st.just("issue"), plan),
    st.tuples(st.just("call"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("issue"), plan),  # issuing and calling twice as often: visits get served
    st.tuples(st.just("call"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("start"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("complete"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("no_show"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("reactivate"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("transfer"), st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(SERVICES)),
    st.tuples(st.just("change"), st.sampled_from(["c1", "c2", "c3"]), st.permutations(SERVICES),
              st.integers(0, 3)),
    st.tuples(st.just("pause"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("open"), st.sampled_from(["c1", "c2", "c3"])),
)


def _command(s: tuple, d: Day) -> e.Command:
    ids = sorted(d.state.tickets)
    pick = (lambda i: ids[i % len(ids)]) if ids else (lambda i: "none")
    kind = s[0]
    if kind == "issue":
        d.n += 1
        return e.IssueTicket(f"t{d.n}", s[1][0], then=tuple(s[1][1:]))
    if kind == "change":
        return e.ChangeVisit(s[1], tuple(s[2][:s[3]]))
    return {
        "call": lambda: e.CallNext(s[1]), "start": lambda: e.StartService(s[1]),
        "complete": lambda: e.Complete(s[1]), "no_show": lambda: e.MarkNoShow(s[1]),
        "reactivate": lambda: e.Reactivate(pick(s[1])), "cancel": lambda: e.CancelTicket(pick(s[1])),
        "transfer": lambda: e.Transfer(s[1], s[2]), "pause": lambda: e.PauseCounter(s[1]),
        "open": lambda: e.OpenCounter(s[1]),
    }[kind]()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=10, max_size=100), gaps=st.lists(st.floats(0, 600), min_size=100, max_size=100),
       place=st.sampled_from(["issue_time", "joined"]))
def test_visits_lose_nothing_serve_nothing_twice_and_keep_their_order(steps, gaps, place):
    d = Day(e.Policy(visit_place=place, auto_no_show_after_recalls=2))
    for sid in SERVICES:  # every order is allowed: the property is about the engine, not the menu
        d.state.services[sid].then = tuple(x for x in SERVICES if x != sid)
    for c in ("c1", "c2", "c3"):
        d.do(e.OpenCounter(c, tuple(SERVICES)), dt=0)
    log: list[e.Event] = list(d.events)
    for i, s in enumerate(steps):
        d.now += gaps[i]
        before = copy.deepcopy(d.state.tickets)
        try:
            evs = e.apply(d.state, _command(s, d), d.now)
        except e.QueueError as err:
            evs = err.events
            assert evs or d.state.tickets == before, "a refused command changes nothing"
        log.extend(evs)
        for t in d.state.tickets.values():
            served = [x.service_id for x in t.visit.done] if t.visit else []
            whole = served + [t.service_id] + visits.remaining(t)
            assert len(whole) == len(set(whole)), "a service of a visit served twice or planned twice"
            assert len(whole) <= visits.MAX_VISIT_SERVICES
            in_queues = [sid for sid, q in d.state.queues.items() if t.id in q]
            if t.state == TicketState.waiting:
                assert in_queues == [t.service_id], "a waiting ticket is in exactly its step's queue"
            else:
                assert in_queues == [], "a ticket not waiting (a finished visit too) is in no queue"
            if t.state == TicketState.done:
                assert visits.remaining(t) == [], "a finished visit has nothing left"
    # order kept and nothing lost: per ticket, the services done follow the plan as last changed
    rest: dict[str, list[str]] = {}
    done: dict[str, list[str]] = {}
    for ev in log:
        data = ev.data
        if ev.type == EventType.ticket_issued:
            rest[data.ticket_id], done[data.ticket_id] = [], []
        elif ev.type in (EventType.visit_planned, EventType.visit_changed):
            rest[data.ticket_id] = list(data.next_services)
        elif ev.type == EventType.ticket_done:
            assert data.service_id not in done[data.ticket_id], "a service of a visit served twice"
            done[data.ticket_id].append(data.service_id)
        elif ev.type == EventType.visit_step_queued:
            assert data.service_id not in done[data.ticket_id]
            # the next step is the plan's next, and nothing of the plan is skipped
            assert [data.service_id, *data.next_services] == rest[data.ticket_id], "visit order broken"
            rest[data.ticket_id] = list(data.next_services)
    event(f"visits finished: {sum(1 for t in d.state.tickets.values() if t.visit and t.visit.done) > 0}")
    for tid, t in d.state.tickets.items():
        served = [x.service_id for x in t.visit.done] if t.visit else []
        if t.state == TicketState.done:
            served.append(t.service_id)
        assert served == done[tid], "the ticket's steps are the log's, in order"
    # the log alone rebuilds the same tickets, visits and queues (a restart replays visits identically)
    replayed = make_state(d.state.policy)
    replayed.day = e.day_of(T0, "Africa/Nairobi")
    for sid in SERVICES:
        replayed.services[sid].then = d.state.services[sid].then
    for ev in log:
        e.evolve(replayed, ev)
    assert replayed.tickets == d.state.tickets
    assert {k: list(q) for k, q in replayed.queues.items() if q} == {k: list(q) for k, q in d.state.queues.items() if q}
