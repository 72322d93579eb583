"""The clerk's toolkit in the engine: parking a citizen and calling them back, outcome codes per service."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from centre_server.contract import CounterState, EventType, TicketState
from centre_server.contract.events import TicketDone, TicketParked, event_from_data
from centre_server.menu import MenuError, builtin_outcomes, parse_menu
from centre_server.queue import engine as e
from tests.centre_server.test_engine import T0, Day, make_state


def _parked_day() -> tuple[Day, e.Ticket, e.Ticket]:
    d = Day()
    first, second = d.issue(), d.issue()
    d.open("c1")
    d.open("c3")
    assert d.call("c1").id == first.id
    return d, first, second


def test_parked_citizen_frees_the_counter_and_is_not_a_no_show():
    d, first, second = _parked_day()
    evs = d.do(e.ParkTicket("c1", note="  copy of\nbirth\x00 certificate\u200b ", clerk="wanjiku"))  # hostile bytes
    assert [ev.type for ev in evs] == [EventType.ticket_parked]
    assert evs[0].data.note == "copy of birth certificate" and evs[0].data.clerk == "wanjiku"
    assert first.state == TicketState.parked and first.park_note == "copy of birth certificate"
    assert d.state.counters["c1"].ticket_id is None  # the counter does not wait for them
    assert first.id not in d.state.queues.get("id-card", {})  # nor does call-next pick them
    assert d.call("c1").id == second.id
    assert first.no_show_at is None


def test_parked_citizen_called_back_at_another_counter_is_announced_like_a_call():
    d, first, second = _parked_day()
    d.do(e.ParkTicket("c1"))
    evs = d.do(e.CallParked("c3", first.id, clerk="otieno"), dt=600)
    called = [ev.data for ev in evs if ev.type == EventType.ticket_called]
    # the hall hears a ticket_called: it shows and says the number like any call
    assert called and called[0].counter_id == "c3" and called[0].waited_s == 0 and called[0].jumped is False
    assert d.state.hall[0]["number"] == first.number and d.state.hall[0]["counter_id"] == "c3"
    assert first.state == TicketState.called and first.counter_id == "c3" and first.parked_at is None
    assert first.first_called_at is not None and first.first_called_at < first.called_at  # the first call stands
    d.do(e.Complete("c3"))
    assert first.state == TicketState.done


def test_call_back_refused_when_not_parked_or_counter_does_not_serve_it():
    d, first, second = _parked_day()
    with pytest.raises(e.QueueError) as err:
        d.do(e.CallParked("c1", second.id))
    assert err.value.code == "not_parked"
    d.do(e.ParkTicket("c1"))
    with pytest.raises(e.QueueError) as err:
        d.do(e.CallParked("c2", first.id))  # counter 2 serves birth certificates only
    assert err.value.code in ("counter_closed", "not_this_counter")
    d.open("c2")
    with pytest.raises(e.QueueError) as err:
        d.do(e.CallParked("c2", first.id))
    assert err.value.code == "not_this_counter" and err.value.status == 409
    with pytest.raises(e.QueueError) as err:
        d.do(e.ParkTicket("c2"))  # nobody at counter 2
    assert err.value.code == "no_ticket_at_counter"


def test_a_parked_ticket_is_cancelled_at_day_close_and_frees_nothing():
    d, first, second = _parked_day()
    d.do(e.ParkTicket("c1"))
    assert d.call("c1").id == second.id
    evs = d.do(e.CloseDay())
    cancelled = {ev.data.ticket_id: ev.data.reason for ev in evs if ev.type == EventType.ticket_cancelled}
    assert cancelled[first.id] == "day_closed"
    assert first.state == TicketState.cancelled


def test_cancelling_a_parked_ticket_leaves_the_counter_serving_the_next():
    d, first, second = _parked_day()
    d.do(e.ParkTicket("c1"))
    d.call("c1")
    d.do(e.CancelTicket(first.id, "left"))
    assert d.state.counters["c1"].ticket_id == second.id  # the parked ticket's old counter is not freed


def test_outcome_codes_of_the_service_with_and_without_reason():
    d = Day()
    d.state.services["id-card"].outcomes = ("served", "documents_missing", "system_down")
    t = d.issue()
    d.open("c1")
    d.call("c1")
    with pytest.raises(e.QueueError) as err:
        d.do(e.Complete("c1", "not_eligible"))  # one of the old four, but not this service's
    assert (err.value.code, err.value.status) == ("unknown_outcome", 422)
    assert err.value.extra["outcomes"] == ["served", "documents_missing", "system_down"]
    with pytest.raises(e.QueueError) as err:
        d.do(e.Complete("c1", "documents_missing", reason="   "))
    assert (err.value.code, err.value.status) == ("outcome_reason_required", 422)
    assert t.state == TicketState.called  # refused: nothing changed
    evs = d.do(e.Complete("c1", "documents_missing", reason="KRA PIN certificate"))
    assert isinstance(evs[0].data, TicketDone)
    assert (evs[0].data.outcome, evs[0].data.reason) == ("documents_missing", "KRA PIN certificate")
    assert (t.outcome, t.outcome_reason) == ("documents_missing", "KRA PIN certificate")


def test_a_code_without_reason_needs_none_and_plain_complete_is_served():
    d = Day()
    a, b = d.issue(), d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.Complete("c1", "referred"))  # the old default list: "referred" needs no reason
    d.call("c1")
    d.do(e.Complete("c1"))
    assert (a.outcome, b.outcome) == ("referred", "served")


def test_old_event_logs_with_the_four_old_codes_still_load():
    # a ticket_done row written before reasons existed: no "reason" key
    old = {"ticket_id": "x", "number": "A001", "service_id": "id-card", "priority": "none",
           "counter_id": "c1", "counter_name": "1", "outcome": "not_eligible", "clerk": "wanjiku"}
    ev = event_from_data("ticket_done", old)
    assert isinstance(ev, TicketDone) and ev.outcome == "not_eligible" and ev.reason is None
    parked = event_from_data("ticket_parked", {"ticket_id": "x", "number": "A001", "service_id": "id-card",
                                               "priority": "none", "counter_id": "c1", "counter_name": "1"})
    assert isinstance(parked, TicketParked) and parked.note is None


def test_menu_outcomes_column_is_checked():
    known = builtin_outcomes()
    assert known["documents_missing"].reason_required and not known["served"].reason_required
    head = "id,prefix,name_en,name_sw,category,category_sw,target_wait_min,service_time_min,outcomes\n"
    ok = parse_menu(head + "kra-pin,K,KRA PIN,PIN ya KRA,Tax,Kodi,20,5,served;system_down\n"
                    "id-card,A,ID,Kitambulisho,Id,Id,20,5,\n", known)
    assert ok[0].outcomes == ("served", "system_down") and ok[1].outcomes == ()
    with pytest.raises(MenuError, match="unknown outcome code"):
        parse_menu(head + "kra-pin,K,KRA PIN,PIN ya KRA,Tax,Kodi,20,5,served;bribed\n", known)
    with pytest.raises(MenuError, match="must include 'served'"):
        parse_menu(head + "kra-pin,K,KRA PIN,PIN ya KRA,Tax,Kodi,20,5,system_down\n", known)
    # an old menu without the column still reads: every service has the four old codes
    old = parse_menu(head.replace(",outcomes", "") + "kra-pin,K,KRA PIN,PIN ya KRA,Tax,Kodi,20,5\n", known)
    assert old[0].outcomes == () and [o.code for o in e.outcomes_of(e.new_state(old, []), "kra-pin")] == [
        "served", "documents_missing", "referred", "not_eligible"]


STEP = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(["id-card", "birth", "kra"])),
    st.tuples(st.just("call"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("park"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("back"), st.sampled_from(["c1", "c2", "c3"]), st.integers(0, 30)),
    st.tuples(st.just("complete"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("close"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("open"), st.sampled_from(["c1", "c2", "c3"])),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=80))
def test_random_days_with_parking_lose_nobody(steps):
    d = Day()
    events: list[e.Event] = []
    for s in steps:
        ids = sorted(d.state.tickets)
        pick = (lambda i: ids[i % len(ids)]) if ids else (lambda i: "none")
        if s[0] == "issue":
            d.n += 1
            cmd: e.Command = e.IssueTicket(f"t{d.n}", s[1])
        else:
            cmd = {"call": lambda: e.CallNext(s[1]), "park": lambda: e.ParkTicket(s[1], "note"),
                   "back": lambda: e.CallParked(s[1], pick(s[2])), "complete": lambda: e.Complete(s[1]),
                   "close": lambda: e.CloseCounter(s[1]), "open": lambda: e.OpenCounter(s[1]),
                   "cancel": lambda: e.CancelTicket(pick(s[1]))}[s[0]]()
        before = copy.deepcopy(d.state)
        d.now += 30
        try:
            events.extend(e.apply(d.state, cmd, d.now))
        except e.QueueError:
            assert d.state.tickets == before.tickets and d.state.counters == before.counters
        for t in d.state.tickets.values():
            queued = any(t.id in q for q in d.state.queues.values())
            assert queued == (t.state == TicketState.waiting), "only waiting tickets are in a queue"
            if t.state == TicketState.parked:
                assert all(c.ticket_id != t.id for c in d.state.counters.values()), "parked yet at a counter"
        for c in d.state.counters.values():
            if c.ticket_id:
                assert d.state.tickets[c.ticket_id].state in (TicketState.called, TicketState.serving)
            if c.state == CounterState.closed:
                assert c.ticket_id is None
    d.do(e.CloseDay())
    assert not [t for t in d.state.tickets.values() if t.state == TicketState.parked], "parked past the close"
    replayed = make_state(d.state.policy)
    replayed.day = e.day_of(T0, "Africa/Nairobi")
    for ev in events + d.events:  # the log alone rebuilds the same tickets and counters (a restart)
        e.evolve(replayed, ev)
    assert replayed.tickets == d.state.tickets and replayed.counters == d.state.counters
