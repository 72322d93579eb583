"""What the hall state says of one-stop visits that moved on (``state/hall``'s ``next_steps``), and when the
server republishes it: the real engine and projection, no clock but the test's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from centre_server.contract import HALL_NEXT_STEPS
from centre_server.queue import engine as e
from centre_server.runtime import projections
from tests.centre_server.test_visits import visit_day

NBO = ZoneInfo("Africa/Nairobi")


def steps(d) -> list[tuple[str, str, list[str]]]:
    hall = projections.hall_payload(d.state, "Test", d.now, NBO)
    return [(n.number, n.service_id, n.counters) for n in hall.next_steps]


def test_a_visit_that_moved_on_is_in_the_hall_state_until_called():
    d = visit_day()
    d.open("c1", ("id-card",))
    t = d.issue("id-card", then=("kra",))
    assert steps(d) == []  # waiting for its first service: nothing to say yet
    d.call("c1")
    evs = d.do(e.Complete("c1"))
    assert projections.touched(d.state, evs)[2]  # the hall is republished
    assert steps(d) == [(t.number, "kra", ["3"])]  # no counter open for KRA: the counter that serves it
    evs = d.do(e.OpenCounter("c3", ("kra",), clerk="amina"))
    assert projections.touched(d.state, evs)[2]  # where it is served may have changed: republished
    evs = d.do(e.CallNext("c3"))
    assert projections.touched(d.state, evs)[2] and steps(d) == []


def test_a_cancelled_visit_leaves_the_hall_state_at_once():
    d = visit_day()
    d.open("c1", ("id-card",))
    t = d.issue("id-card", then=("kra", "birth"))
    d.call("c1")
    d.do(e.Complete("c1"))
    assert [s[:2] for s in steps(d)] == [(t.number, "kra")]
    evs = d.do(e.CancelTicket(t.id))
    assert projections.touched(d.state, evs)[2] and steps(d) == []


def test_the_newest_visits_moving_on_first_and_no_more_than_the_board_shows():
    d = visit_day()
    d.open("c1", ("id-card",))
    tickets = [d.issue("id-card", then=("kra",)) for _ in range(HALL_NEXT_STEPS + 2)]
    for _ in tickets:
        d.call("c1")
        d.do(e.Complete("c1"), dt=60)
    numbers = [s[0] for s in steps(d)]
    assert numbers == [t.number for t in reversed(tickets)][:HALL_NEXT_STEPS]
    # a ticket that is no visit changes nothing the hall says: not republished for it
    before = len(d.events)
    d.issue("birth")
    assert not projections.touched(d.state, d.events[before:])[2]
