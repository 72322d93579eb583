"""Suspending a service in the engine: newcomers refused with the reason, those waiting kept, replayable."""

from __future__ import annotations

import pytest

from centre_server.contract import EventType, IssueRefusal, Priority, TicketState
from centre_server.queue import engine as e
from tests.centre_server.test_engine import Day


def test_a_suspended_service_refuses_newcomers_with_the_reason_and_keeps_those_waiting() -> None:
    d = Day()
    waiting = d.issue("kra")
    d.open("c3")
    evs = d.do(e.SuspendService("kra", "KRA's  iTax is down", "Mfumo wa iTax haufanyi kazi", by="mgr"))
    assert [ev.type for ev in evs] == [EventType.service_suspended]
    assert evs[0].data.waiting == 1 and evs[0].data.reason_en == "KRA's iTax is down"
    with pytest.raises(e.QueueError) as err:
        d.issue("kra")
    assert err.value.status == 409 and err.value.code == IssueRefusal.service_suspended
    assert err.value.body()["error"]["reason_sw"] == "Mfumo wa iTax haufanyi kazi"
    figures = e.service_figures(d.state, "kra", d.now)
    assert figures["accepting"] is False and figures["refusal"] is IssueRefusal.service_suspended
    assert figures["waiting"] == 1
    assert d.call("c3") is waiting and waiting.state is TicketState.called  # the clerk still serves them
    with pytest.raises(e.QueueError) as err:  # nor is anyone transferred into it
        d.do(e.Transfer("c3", "kra"))
    assert d.do(e.SuspendService("kra", "KRA's iTax is down", "Mfumo wa iTax haufanyi kazi")) == []
    assert [ev.type for ev in d.do(e.ResumeService("kra", by="mgr"))] == [EventType.service_resumed]
    assert d.do(e.ResumeService("kra")) == []
    assert d.issue("kra").number == "K002"


def test_a_suspension_needs_a_reason_in_both_languages() -> None:
    d = Day()
    for en, sw in (("", "sababu"), ("reason", "   ")):
        with pytest.raises(e.QueueError) as err:
            d.do(e.SuspendService("kra", en, sw))
        assert err.value.status == 422 and err.value.code == "reason_required"
    with pytest.raises(e.QueueError) as err:
        d.do(e.SuspendService("nope", "x", "y"))
    assert err.value.status == 404
    assert d.state.last_seq == 0


def test_the_log_alone_rebuilds_a_suspension() -> None:
    d = Day()
    d.do(e.SuspendService("birth", "Registry offline", "Sajili haipo mtandaoni"))
    fresh = e.new_state(list(Day().state.services.values()), [], d.state.policy)
    for ev in d.events:
        e.evolve(fresh, ev)
    assert fresh.services["birth"].suspension == d.state.services["birth"].suspension
    assert fresh.services["birth"].suspension is not None


def test_not_offered_here_and_priority_classes_the_standard_leaves_out() -> None:
    d = Day()
    d.state.services["birth"].offered = False
    with pytest.raises(e.QueueError) as err:
        d.issue("birth")
    assert err.value.code == IssueRefusal.service_disabled
    d.state.policy.priority_classes = frozenset({Priority.elderly})
    assert d.issue("id-card", Priority.elderly).priority is Priority.elderly
    with pytest.raises(e.QueueError) as err:
        d.issue("id-card", Priority.expectant)
    assert err.value.status == 422 and err.value.code == "priority_not_allowed"


def test_after_closing_a_suspended_service_says_the_centre_is_closed_and_when_it_opens() -> None:
    """Once the day is closed the citizen needs to know when to come back, not why the service stopped."""
    d = Day()
    d.do(e.SuspendService("kra", "KRA's iTax is down", "Mfumo wa iTax haufanyi kazi", by="mgr"))
    d.do(e.CloseDay())
    with pytest.raises(e.QueueError) as err:
        d.issue("kra")
    assert err.value.code == IssueRefusal.day_closed and "opens_at" in err.value.body()["error"]
    assert e.service_figures(d.state, "kra", d.now)["refusal"] is IssueRefusal.day_closed
    with pytest.raises(e.QueueError) as err:  # an unknown service is still unknown, at any hour
        d.issue("nope")
    assert err.value.status == 404
