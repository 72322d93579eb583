"""Appointments: slots and capacity, the check-in window, release of no-shows, order against walk-ins.

The hub runs on a real Centre (real SQLite file) with a clock the test moves;
the ordering properties run on the pure engine with hypothesis.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from centre_server.channels.core import ChannelError, ChannelHub
from centre_server.channels.settings import ChannelSettings
from centre_server.config import load_settings
from centre_server.contract import Channel, Priority, TicketState
from centre_server.queue import engine
from centre_server.runtime.centre import Centre

NAIROBI = ZoneInfo("Africa/Nairobi")
MONDAY_0700 = datetime(2030, 1, 7, 7, 0, tzinfo=NAIROBI).timestamp()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def at(self, hh: int, mm: int) -> None:
        self.t = datetime(2030, 1, 7, hh, mm, tzinfo=NAIROBI).timestamp()


@pytest.fixture
def hub(centre_dir):
    clock = Clock(MONDAY_0700)
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    h = ChannelHub(centre, ChannelSettings(slot_capacity=2, sms_gateway="log"), centre_dir.path)
    h.clock = clock  # type: ignore[attr-defined]
    yield h
    h.stop()
    centre.close()


def slot(hh: int, mm: int) -> float:
    return datetime(2030, 1, 7, hh, mm, tzinfo=NAIROBI).timestamp()


def book(hub: ChannelHub, service_id: str, at: float, phone: str, lang: str) -> dict:
    """A booking made on the web and confirmed with the code the phone got by SMS (issue 16)."""
    pending = hub.book(service_id, at, phone, lang)
    assert pending["state"] == "pending"
    code = hub.pending_of(pending["id"])["code"]
    booked = hub.confirm_booking(pending["id"], code)
    assert booked["state"] == "booked"
    return booked


def test_slots_capacity_and_the_phone_limit(hub):
    days = hub.slots("passport")
    first_day, times = days[0]
    assert first_day.isoformat() == "2030-01-07" and times[0] == (slot(8, 0), 2)
    assert len(days) == 5  # booking_days = 7 from Monday: the weekend is closed
    assert all(d.weekday() < 5 for d, _ in days)
    book(hub, "passport", slot(8, 0), "0711000001", "en")
    book(hub, "passport", slot(8, 0), "0711000002", "sw")
    with pytest.raises(ChannelError) as err:
        hub.book("passport", slot(8, 0), "0711000003", "en")
    assert err.value.code == "slot_full" and "filled up" in err.value.message("en")
    assert dict(hub.slots("passport")[0][1])[slot(8, 0)] == 0
    with pytest.raises(ChannelError) as err:
        hub.book("passport", slot(8, 10), "0711000003", "en")  # not a slot start
    assert err.value.code == "bad_slot"
    with pytest.raises(ChannelError) as err:
        hub.book("passport", slot(8, 30), "07110", "en")
    assert err.value.code == "bad_phone"
    for hh in (9, 10):  # book_per_phone = 2 open bookings
        book(hub, "land-search", slot(hh, 0), "0711000009", "en")
    with pytest.raises(ChannelError) as err:
        hub.book("land-search", slot(12, 0), "+254711000009", "en")  # the same phone in another form
    assert err.value.code == "phone_limit" and err.value.status == 429
    # once check-in has opened for a slot it is no longer offered
    hub.clock.at(7, 31)
    assert slot(8, 0) not in dict(hub.slots("passport")[0][1])


def test_check_in_window_then_called_ahead_of_walk_ins_near_the_slot(hub):
    appt = book(hub, "passport", slot(8, 0), "0711000001", "en")
    centre = hub.centre
    walk_ins = []
    for i in range(3):
        tid = f"walkin-{i:03d}-xyz"
        hub.clock.t += 60
        centre.execute(engine.IssueTicket(ticket_id=tid, service_id="passport"))
        walk_ins.append(tid)
    hub.clock.at(7, 20)
    with pytest.raises(ChannelError) as err:
        hub.check_in(code=appt["code"])
    assert err.value.code == "too_early" and "07:30" in err.value.message("en") and "saa" in err.value.message("sw")
    hub.clock.at(7, 40)
    [res] = hub.check_in(phone="0711000001")  # by phone works as well as by code
    t = res.ticket
    assert res.kind == "appointment" and t.priority == Priority.appointment and t.slot_at == slot(8, 0)
    assert t.checked_in and t.channel == Channel.web
    assert hub.appointment(appt["id"])["state"] == "checked_in"
    centre.execute(engine.OpenCounter("c03", services=("passport",)))
    centre.execute(engine.CallNext("c03"))  # 07:40: not yet within appointment_early_s (10 min)
    assert centre.state.counters["c03"].ticket_id == walk_ins[0]
    hub.clock.at(7, 52)
    centre.execute(engine.StartService("c03"))  # each citizen called came (finding 11)
    centre.execute(engine.CallNext("c03"))  # near its slot: ahead of the walk-ins who came earlier
    assert centre.state.counters["c03"].ticket_id == t.id
    centre.execute(engine.StartService("c03"))
    centre.execute(engine.CallNext("c03"))
    assert centre.state.counters["c03"].ticket_id == walk_ins[1]
    # the same code again: the appointment is no longer "booked"
    with pytest.raises(ChannelError) as err:
        hub.check_in(code=appt["code"])
    assert err.value.code == "unknown_code"


def test_missed_appointments_are_released(hub, centre_dir):
    early = book(hub, "passport", slot(8, 0), "0711000001", "en")
    later = book(hub, "passport", slot(9, 0), "0711000002", "en")
    gone = book(hub, "passport", slot(8, 30), "0711000003", "en")
    hub.cancel_appointment(gone["id"])
    hub.clock.at(8, 14)
    assert hub.release_missed() == 0  # still within check_in_late_min (15)
    hub.clock.at(8, 16)
    with pytest.raises(ChannelError) as err:
        hub.check_in(code=early["code"])
    assert err.value.code == "window_passed" and err.value.status == 410
    assert hub.release_missed() == 1
    assert hub.appointment(early["id"])["state"] == "released"
    assert hub.appointment(later["id"])["state"] == "booked"
    assert hub.appointment(gone["id"])["state"] == "cancelled"
    with pytest.raises(ChannelError):
        hub.check_in(code=early["code"])  # a released booking's code checks nothing in
    # every booking got its SMS (queued in the outbox with the code)
    db = sqlite3.connect(centre_dir.path / "centre.db")
    texts = [r[0] for r in db.execute("SELECT text FROM sms_outbox WHERE kind='booked'")]
    db.close()
    assert any(early["code"] in x and "07:30" in x for x in texts)
    # the demo gateway writes them to DIR/sms.log, with the centre's local time
    assert hub.worker.send_due() == 6  # each: the confirmation code, then (confirmed) the booking code
    log = (centre_dir.path / "sms.log").read_text().splitlines()
    assert len(log) == 6 and all(line.split("\t")[0].endswith("+03:00") for line in log)
    assert sum("confirms your booking" in line for line in log) == 3
    assert any(later["code"] in line and "+254711000002" in line for line in log)


def test_remote_caps_per_service_and_hour(hub):
    hub.settings = hub.settings.model_copy(update={"remote_per_service_per_hour": 2})
    hub.issue_remote("helb", "0711000001", "en", Channel.web)
    hub.issue_remote("helb", "0711000002", "en", Channel.ussd)
    again, _ = hub.issue_remote("helb", "0711000002", "en", Channel.web)  # the same phone: its ticket again
    with pytest.raises(ChannelError) as err:
        hub.issue_remote("helb", "0711000003", "sw", Channel.web)
    assert err.value.status == 429 and "saa hii" in err.value.message("sw")
    hub.issue_remote("kplc", "0711000003", "en", Channel.web)  # other services are not affected
    hub.clock.t += 3601
    hub.issue_remote("helb", "0711000003", "en", Channel.web)  # an hour later there is room again
    assert again.channel == Channel.ussd


# ---------------------------------------------------------------- ordering properties (pure engine)

BASE = datetime(2030, 1, 7, 9, 0, tzinfo=NAIROBI).timestamp()


def _state(limit: int) -> engine.State:
    svc = engine.Service(id="s", prefix="S", name_en="S", name_sw="S")
    counter = engine.Counter(id="c1", name="1", services=["s"])
    return engine.new_state([svc], [counter], engine.Policy(priority_streak_limit=limit))


tickets_st = st.lists(st.one_of(st.just(None), st.integers(-3600, 7200)), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(tickets=tickets_st, limit=st.integers(1, 4), step=st.integers(0, 900))
def test_appointment_order_properties(tickets, limit, step):
    """None is a walk-in; an int is an appointment whose slot is that many seconds after the first call."""
    state = _state(limit)
    now = BASE
    for i, offset in enumerate(tickets):
        now = BASE + i * 30
        engine.apply(state, engine.IssueTicket(
            ticket_id=f"t{i:03d}", service_id="s", checked_in=True,
            priority=Priority.none if offset is None else Priority.appointment,
            slot_at=None if offset is None else BASE + len(tickets) * 30 + offset), now)
    now += 30
    engine.apply(state, engine.OpenCounter("c1"), now)
    early = state.policy.appointment_early_s
    streak = 0
    called = []
    while state.waiting():
        waiting = list(state.waiting())
        due = [t for t in waiting if t.slot_at is not None and now >= t.slot_at - early]
        walkers = [t for t in waiting if not (t.slot_at is not None and now >= t.slot_at - early)]
        if state.counters["c1"].ticket_id is not None:  # the citizen called last came (finding 11)
            engine.apply(state, engine.StartService("c1"), now)
        events = engine.apply(state, engine.CallNext("c1"), now)
        call = [e for e in events if e.type.value == "ticket_called"][0]
        t = state.tickets[call.data.ticket_id]
        called.append(t.id)
        if t in due:
            # a due appointment goes first in slot order, ahead of walk-ins, unless the bound stops it
            assert t.slot_at == min(d.slot_at for d in due)
            streak += 1
            assert streak <= limit or not walkers
        else:
            # the bound: a walk-in (or an appointment not yet due) is called in plain first-come order...
            assert t.queued_at == min(w.queued_at for w in walkers)
            # ...and only when no appointment is due, or after `limit` jumps in a row
            assert not due or streak >= limit
            streak = 0
        now += step
    assert sorted(called) == sorted(f"t{i:03d}" for i in range(len(tickets)))
    assert all(t.state == TicketState.done or t.state == TicketState.called for t in state.tickets.values())


@settings(max_examples=100, deadline=None)
@given(offsets=st.lists(st.integers(601, 7200), min_size=1, max_size=6), walkers=st.integers(1, 6))
def test_an_appointment_far_from_its_slot_never_jumps(offsets, walkers):
    """Checked in long before its slot, an appointment waits its turn like anyone who came before it."""
    state = _state(3)
    i = 0
    for _ in range(walkers):
        engine.apply(state, engine.IssueTicket(ticket_id=f"w{i:03d}", service_id="s"), BASE + i)
        i += 1
    for off in offsets:
        engine.apply(state, engine.IssueTicket(ticket_id=f"a{i:03d}", service_id="s", priority=Priority.appointment,
                                               slot_at=BASE + 100 + off), BASE + i)
        i += 1
    now = BASE + 100
    engine.apply(state, engine.OpenCounter("c1"), now)
    for k in range(walkers):
        if k:  # the walker called before came (a call over one only called is refused)
            engine.apply(state, engine.StartService("c1"), now)
        engine.apply(state, engine.CallNext("c1"), now)
        assert state.counters["c1"].ticket_id == f"w{k:03d}"
