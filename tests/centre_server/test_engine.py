"""The queue engine alone: rules by example, and properties over random days (hypothesis)."""

from __future__ import annotations

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from centre_server.contract import CounterState, EventType, Priority, TicketState
from centre_server.queue import engine as e

NBO = ZoneInfo("Africa/Nairobi")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=NBO).timestamp()  # a Monday, 08:00 in Nairobi


def make_state(policy: e.Policy | None = None) -> e.State:
    services = [e.Service("id-card", "A", "ID card", "Kitambulisho", target_wait_s=1800, service_time_s=300),
                e.Service("birth", "B", "Birth certificate", "Cheti cha kuzaliwa", target_wait_s=600,
                          service_time_s=300),
                e.Service("kra", "K", "KRA PIN", "PIN ya KRA", target_wait_s=1200, service_time_s=300)]
    counters = [e.Counter("c1", "1", ["id-card", "birth"]), e.Counter("c2", "2", ["birth"]),
                e.Counter("c3", "3", ["kra", "id-card"])]
    return e.new_state(services, counters, policy)


class Day:
    """A little driver: a state, a clock, and the events so far."""

    def __init__(self, policy: e.Policy | None = None) -> None:
        self.state = make_state(policy)
        self.state.day = e.day_of(T0, "Africa/Nairobi")
        self.now = T0
        self.events: list[e.Event] = []
        self.n = 0

    def do(self, cmd, dt: float = 1.0) -> list[e.Event]:
        self.now += dt
        evs = e.apply(self.state, cmd, self.now)
        self.events.extend(evs)
        return evs

    def issue(self, service: str = "id-card", priority: Priority = Priority.none, **kw) -> e.Ticket:
        self.n += 1
        tid = f"t{self.n}"
        self.do(e.IssueTicket(tid, service, priority, **kw))
        return self.state.tickets[tid]

    def open(self, counter: str, services: tuple[str, ...] | None = None, clerk: str | None = None) -> None:
        self.do(e.OpenCounter(counter, services, clerk=clerk or f"clerk-{counter}"))

    def call(self, counter: str) -> e.Ticket:
        """Call next; a citizen only called at the counter came (started first: a call over a ticket never
        started is refused, finding 11)."""
        held = self.state.counters[counter].ticket_id
        if held is not None and self.state.tickets[held].state == TicketState.called:
            self.do(e.StartService(counter))
        evs = self.do(e.CallNext(counter))
        called = [ev for ev in evs if ev.type == EventType.ticket_called]
        return self.state.tickets[called[-1].data.ticket_id]


def test_issue_numbers_per_service_and_day():
    d = Day()
    a1, a2, b1 = d.issue("id-card"), d.issue("id-card"), d.issue("birth")
    assert (a1.number, a2.number, b1.number) == ("A001", "A002", "B001")
    assert d.events[0].type == EventType.ticket_issued and d.events[0].seq == 1
    assert [ev.seq for ev in d.events] == [1, 2, 3]


def test_unknown_and_disabled_service_refused_without_change():
    d = Day()
    with pytest.raises(e.QueueError) as err:
        d.issue("nope")
    assert err.value.status == 404
    d.state.services["kra"].enabled = False
    with pytest.raises(e.QueueError) as err:
        d.issue("kra")
    assert err.value.code == "service_disabled"
    assert d.state.tickets == {} and d.state.last_seq == 0


def test_idempotency_key_issues_once():
    d = Day()
    d.issue("id-card", idempotency_key="k1")
    evs = d.do(e.IssueTicket("other", "id-card", idempotency_key="k1"))
    assert evs == [] and len(d.state.tickets) == 1


def test_idempotency_key_is_remembered_past_midnight_but_not_for_ever():
    """A kiosk's retry sent just before midnight gets its ticket back after it; days later a key is new."""
    d = Day()
    first = d.issue("id-card", idempotency_key="kiosk-1:k1")
    evs = d.do(e.IssueTicket("retry", "id-card", idempotency_key="kiosk-1:k1"), dt=86400)
    assert EventType.day_closed in [ev.type for ev in evs]  # the roll-over closed the day...
    assert EventType.ticket_issued not in [ev.type for ev in evs]  # ...and no second ticket came
    assert e.issued_for(d.state, "kiosk-1:k1") == first.id and "retry" not in d.state.tickets
    d.do(e.Tick(), dt=86400)  # another day: yesterday's keys are forgotten
    assert e.issued_for(d.state, "kiosk-1:k1") is None
    evs = d.do(e.IssueTicket("new", "id-card", idempotency_key="kiosk-1:k1"))
    assert evs[-1].type == EventType.ticket_issued and e.issued_for(d.state, "kiosk-1:k1") == "new"


def test_call_next_longest_wait_across_services_and_fcfs():
    d = Day()
    b = d.issue("birth")
    a = d.issue("id-card")
    d.open("c1")
    assert d.call("c1").id == b.id  # birth waited longer
    assert d.call("c1").id == a.id
    assert b.state == TicketState.done  # calling next finished the previous one


def test_closed_and_paused_counters_cannot_call():
    d = Day()
    d.issue()
    with pytest.raises(e.QueueError) as err:
        d.call("c1")
    assert err.value.code == "counter_closed"
    d.open("c1")
    d.do(e.PauseCounter("c1"))
    with pytest.raises(e.QueueError) as err:
        d.call("c1")
    assert err.value.code == "counter_paused"
    d.do(e.ResumeCounter("c1"))
    assert d.call("c1").number == "A001"


def test_nothing_waiting_is_a_404():
    d = Day()
    d.open("c2")
    d.issue("id-card")  # not a service of c2
    with pytest.raises(e.QueueError) as err:
        d.call("c2")
    assert err.value.status == 404 and err.value.code == "nothing_waiting"


def test_priority_first_with_anti_starvation_bound():
    d = Day(e.Policy(priority_streak_limit=2))
    normals = [d.issue() for _ in range(3)]
    prios = [d.issue(priority=Priority.elderly) for _ in range(5)]
    d.open("c1")
    order = [d.call("c1").id for _ in range(8)]
    assert order[:2] == [prios[0].id, prios[1].id]
    assert order[2] == normals[0].id  # after two priority calls, one normal
    assert order[3:5] == [prios[2].id, prios[3].id]
    assert order[5] == normals[1].id


def test_target_breach_preference():
    d = Day(e.Policy(prefer_breached_target=True))
    a = d.issue("id-card")  # target 30 min
    d.now += 60
    b = d.issue("birth")  # target 10 min
    d.now += 700  # birth is now over its target, id-card is not
    d.open("c1")
    assert d.call("c1").id == b.id
    d2 = Day()
    a2 = d2.issue("id-card")
    d2.issue("birth")
    d2.open("c1")
    assert d2.call("c1").id == a2.id and a.number == "A001"


def test_skill_order_policy():
    d = Day(e.Policy(call_order="skill_order"))
    k = d.issue("kra")
    a = d.issue("id-card")
    d.open("c3", ("id-card", "kra"))
    assert d.call("c3").id == a.id
    assert d.call("c3").id == k.id


def test_recall_then_auto_no_show_and_reactivation_window():
    d = Day(e.Policy(auto_no_show_after_recalls=2, reactivation_window_s=600))
    t = d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.Recall("c1"))
    d.do(e.Recall("c1"))
    assert t.recalls == 2 and t.state == TicketState.called
    evs = d.do(e.Recall("c1"))
    assert evs[0].type == EventType.ticket_no_show and t.state == TicketState.no_show
    assert d.state.counters["c1"].ticket_id is None
    d.do(e.Reactivate(t.id), dt=300)
    assert t.state == TicketState.waiting and t.queued_at == t.issued_at
    d.call("c1")
    d.do(e.MarkNoShow("c1"))
    with pytest.raises(e.QueueError) as err:
        d.do(e.Reactivate(t.id), dt=601)
    assert err.value.code == "window_passed"


def test_min_recalls_before_no_show():
    d = Day(e.Policy(min_recalls_before_no_show=1))
    d.issue()
    d.open("c1")
    d.call("c1")
    with pytest.raises(e.QueueError) as err:
        d.do(e.MarkNoShow("c1"))
    assert err.value.code == "recall_first"
    d.do(e.Recall("c1"))
    assert d.do(e.MarkNoShow("c1"))[0].type == EventType.ticket_no_show


def test_transfer_keeps_original_issue_time():
    d = Day()
    t = d.issue("id-card")
    d.now += 100
    later = d.issue("birth")
    d.open("c1", ("id-card",))
    d.call("c1")
    d.do(e.StartService("c1"))
    d.do(e.Transfer("c1", "birth"), dt=200)
    assert t.state == TicketState.waiting and t.service_id == "birth" and t.number == "A001"
    assert t.transfers[0]["from"] == "id-card" and t.queued_at == t.issued_at
    d.open("c2")
    assert d.call("c2").id == t.id  # ahead of the birth ticket issued after it
    assert later.state == TicketState.waiting


def test_complete_records_service_time_and_outcome():
    d = Day()
    t = d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.StartService("c1"), dt=30)
    d.do(e.Complete("c1", "referred"), dt=240)
    assert t.state == TicketState.done and t.outcome == "referred"
    assert t.ended_at - t.started_at == pytest.approx(240)
    assert d.state.counters["c1"].idle_since == t.ended_at


def test_cancel_only_waiting():
    d = Day()
    t = d.issue()
    d.do(e.CancelTicket(t.id, "citizen left"))
    assert t.state == TicketState.cancelled
    with pytest.raises(e.QueueError):
        d.do(e.CancelTicket(t.id))


def test_feedback_for_the_last_ticket_at_a_counter():
    d = Day()
    with pytest.raises(e.QueueError):
        d.do(e.GiveFeedback(rating=4, counter_id="c1"))
    t = d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.Complete("c1"))
    d.do(e.GiveFeedback(rating=3, counter_id="c1"))
    assert t.rating == 3
    with pytest.raises(e.QueueError) as bad:
        d.do(e.GiveFeedback(rating=7, counter_id="c1"))
    assert bad.value.code == "bad_rating" and "1 Poor, 2 Fair, 3 Good, 4 Excellent" in bad.value.message


def test_one_rating_per_ticket_the_first_stands():
    # A web rating used to be overwritten by a later SMS or button press: now any second one is refused.
    d = Day()
    t = d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.Complete("c1"))
    d.do(e.GiveFeedback(rating=4, ticket_id=t.id, comment="quick"))
    for second in (e.GiveFeedback(rating=1, ticket_id=t.id), e.GiveFeedback(rating=1, counter_id="c1")):
        with pytest.raises(e.QueueError) as refused:
            d.do(second)
        assert (refused.value.code, refused.value.status) == ("already_rated", 409)
        assert refused.value.message == f"{t.number} was already rated Excellent: the first rating stands"
    assert t.rating == 4


def test_close_counter_finishes_its_ticket():
    d = Day()
    t = d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.StartService("c1"))
    d.do(e.CloseCounter("c1"))
    assert t.state == TicketState.done and t.outcome == "served"
    assert d.state.counters["c1"].state == CounterState.closed


def test_a_ticket_called_but_never_started_is_never_served():
    """Finding 11: call next over a called ticket is refused (nothing moves: a double tap finishes nobody);
    a pause or a close over one makes it a no-show the clerk may re-activate, never "served"."""
    d = Day()
    first, second, third = d.issue(), d.issue(), d.issue()
    d.open("c1")
    d.do(e.CallNext("c1"))
    before = len(d.events)
    for cmd in (e.CallNext("c1"), e.CallTicket("c1", third.id)):
        with pytest.raises(e.QueueError) as refused:
            d.do(cmd)
        assert refused.value.code == "ticket_called" and refused.value.status == 409
        assert first.number in refused.value.message
    assert len(d.events) == before and first.state == TicketState.called and second.state == TicketState.waiting
    # the citizen came: started, then call next finishes them as served (complete_on_call_next)
    d.do(e.StartService("c1"))
    d.do(e.CallNext("c1"))
    assert first.state == TicketState.done and first.outcome == "served" and second.state == TicketState.called
    # nobody came for the second: the counter closes (or pauses) over it, a no-show, counted apart
    d.do(e.CloseCounter("c1"))
    assert second.state == TicketState.no_show and second.outcome is None
    closed = [ev for ev in d.events if ev.type == EventType.ticket_no_show]
    assert [ev.data.reason for ev in closed] == ["counter_closed"]
    d.open("c2", ("id-card",))
    d.do(e.CallNext("c2"))
    d.do(e.PauseCounter("c2"))
    assert third.state == TicketState.no_show and [ev.data.reason for ev in d.events
                                                    if ev.type == EventType.ticket_no_show][-1] == "counter_paused"
    assert not [ev for ev in d.events if ev.type == EventType.ticket_done and ev.data.ticket_id != first.id]


def test_day_rolls_over_at_nairobi_midnight():
    d = Day()
    d.issue()
    d.issue()
    d.open("c1")
    d.call("c1")
    # 23:59:30 Nairobi is still the same day
    d.now = datetime(2026, 11, 23, 23, 59, 30, tzinfo=NBO).timestamp()
    assert d.issue().number == "A003"
    d.now = datetime(2026, 11, 24, 0, 0, 5, tzinfo=NBO).timestamp() - 1
    t = d.issue()
    assert t.number == "A001" and t.day == "2026-11-24"
    closed = [ev for ev in d.events if ev.type == EventType.day_closed]
    assert closed and closed[0].data.day == "2026-11-23" and closed[0].data.next_day == "2026-11-24"
    assert d.state.counters["c1"].state == CounterState.closed
    # a clock stepped back over midnight (NTP) does not reopen yesterday
    d.now = datetime(2026, 11, 23, 23, 59, 0, tzinfo=NBO).timestamp() - 1
    assert d.issue().number == "A002" and d.state.day == "2026-11-24"


def test_rollover_survives_a_refused_command():
    d = Day()
    d.issue()
    d.now = datetime(2026, 11, 24, 9, 0, tzinfo=NBO).timestamp()
    with pytest.raises(e.QueueError) as err:
        e.apply(d.state, e.CallNext("c1"), d.now)
    assert [ev.type for ev in err.value.events][-1] == EventType.day_closed


def test_close_day_cancels_what_waits():
    d = Day()
    waiting = d.issue()
    served = d.issue()
    d.open("c1")
    d.do(e.CallTicket("c1", served.id))
    d.do(e.StartService("c1"))
    d.do(e.CloseDay())
    assert waiting.state == TicketState.cancelled and waiting.cancel_reason == "day_closed"
    assert served.state == TicketState.done and served.outcome == "day_closed"


def test_close_day_does_not_count_a_ticket_only_called_as_served():
    """BN001 was called at 18:01 and never started: the close made it done with a 462 s service."""
    d = Day()
    called = d.issue()
    d.open("c1")
    d.do(e.CallTicket("c1", called.id))
    d.now += 462
    d.do(e.CloseDay())
    assert called.state == TicketState.cancelled and called.cancel_reason == "day_closed"
    assert called.started_at is None
    assert d.state.counters["c1"].ticket_id is None


def test_estimate_grows_with_queue_and_falls_with_counters():
    d = Day()
    for _ in range(6):
        d.issue("kra")
    f1 = e.service_figures(d.state, "kra", d.now)
    d.open("c3", ("kra",))
    f2 = e.service_figures(d.state, "kra", d.now)
    assert f1["waiting"] == 6 and f2["open_counters"] == 1
    # nobody serves it and no plan says anyone will: no number is invented
    assert f1["estimated_wait_s"] is None and f1["wait_unknown"] == "no_counter" and f1["accepting"]
    assert f2["estimated_wait_s"] > 0 and f2["wait_unknown"] is None
    d.open("c1", ("kra",))
    f3 = e.service_figures(d.state, "kra", d.now)
    assert f3["estimated_wait_s"] < f2["estimated_wait_s"]


# --------------------------------------------------------------------------
# Properties over random days
# --------------------------------------------------------------------------

SERVICES = ["id-card", "birth", "kra"]
COUNTERS = ["c1", "c2", "c3"]

step = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(SERVICES), st.sampled_from(list(Priority)[:4])),
    st.tuples(st.just("call"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("call"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("recall"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("no_show"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("start"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("complete"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("transfer"), st.sampled_from(COUNTERS), st.sampled_from(SERVICES)),
    st.tuples(st.just("open"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("pause"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("resume"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("close"), st.sampled_from(COUNTERS)),
    st.tuples(st.just("cancel"), st.integers(0, 200)),
    st.tuples(st.just("reactivate"), st.integers(0, 200)),
    st.tuples(st.just("night")),
)


def to_command(s: tuple, d: Day) -> e.Command | None:
    kind = s[0]
    if kind == "issue":
        d.n += 1
        return e.IssueTicket(f"t{d.n}", s[1], s[2])
    if kind == "appt":  # an appointment whose slot is s[2] seconds away
        d.n += 1
        return e.IssueTicket(f"t{d.n}", s[1], Priority.appointment, slot_at=d.now + s[2])
    ids = sorted(d.state.tickets)
    pick = (lambda i: ids[i % len(ids)]) if ids else (lambda i: "none")
    return {
        "call": lambda: e.CallNext(s[1]), "recall": lambda: e.Recall(s[1]),
        "no_show": lambda: e.MarkNoShow(s[1]), "start": lambda: e.StartService(s[1]),
        "complete": lambda: e.Complete(s[1]), "transfer": lambda: e.Transfer(s[1], s[2]),
        "open": lambda: e.OpenCounter(s[1]), "pause": lambda: e.PauseCounter(s[1]),
        "resume": lambda: e.ResumeCounter(s[1]), "close": lambda: e.CloseCounter(s[1]),
        "cancel": lambda: e.CancelTicket(pick(s[1])), "reactivate": lambda: e.Reactivate(pick(s[1])),
        "night": lambda: None,
    }[kind]()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=120), gaps=st.lists(st.floats(0, 900), min_size=120, max_size=120),
       limit=st.integers(1, 4))
def test_random_days_keep_every_promise(steps, gaps, limit):
    d = Day(e.Policy(priority_streak_limit=limit, auto_no_show_after_recalls=2))
    issued: dict[str, str] = {}  # ticket id -> day
    numbers: set[tuple[str, str, str]] = set()
    done: set[str] = set()
    streak: dict[str, int] = {}
    all_events: list[e.Event] = []
    for i, s in enumerate(steps):
        d.now += gaps[i]
        if s[0] == "night":
            d.now += 24 * 3600
        cmd = to_command(s, d)
        if cmd is None:
            continue
        before = copy.deepcopy(d.state)
        try:
            evs = e.apply(d.state, cmd, d.now)
        except e.QueueError as err:
            evs = err.events
            if not evs:  # a refused command changes nothing
                assert d.state.tickets == before.tickets and d.state.counters == before.counters
        all_events.extend(evs)
        for ev in evs:
            if ev.type == EventType.ticket_issued:
                issued[ev.data.ticket_id] = ev.data.day
                key = (ev.data.day, ev.data.service_id, ev.data.number)
                assert key not in numbers, "a number issued twice in a day"
                numbers.add(key)
            if ev.type == EventType.ticket_done:
                assert ev.data.ticket_id not in done, "a ticket served twice"
                done.add(ev.data.ticket_id)
            if ev.type == EventType.ticket_called:
                cid = ev.data.counter_id
                t = d.state.tickets[ev.data.ticket_id]
                counter = d.state.counters[cid]
                # FCFS within the class the engine chose
                prior = before.tickets
                same_class = [x for x in prior.values() if x.state == TicketState.waiting
                              and x.service_id in counter.services
                              and (x.priority == Priority.none) == (t.priority == Priority.none)]
                assert min(same_class, key=lambda x: (x.queued_at, x.seq)).id == t.id
                normal_waiting = any(x.state == TicketState.waiting and x.priority == Priority.none
                                     and x.service_id in counter.services for x in prior.values())
                if t.priority == Priority.none or not normal_waiting:
                    streak[cid] = 0 if t.priority == Priority.none else streak.get(cid, 0)
                else:
                    streak[cid] = streak.get(cid, 0) + 1
                    assert streak[cid] <= limit, "anti-starvation bound broken"
            if ev.type in (EventType.counter_opened, EventType.counter_closed):
                streak[ev.data.counter_id] = 0
        # invariants of the state
        at_counters = [c.ticket_id for c in d.state.counters.values() if c.ticket_id]
        assert len(at_counters) == len(set(at_counters)), "one ticket at two counters"
        for c in d.state.counters.values():
            if c.ticket_id:
                t = d.state.tickets[c.ticket_id]
                assert t.state in (TicketState.called, TicketState.serving) and t.counter_id == c.id
            if c.state == CounterState.closed:
                assert c.ticket_id is None
        for tid, day in issued.items():  # nothing lost: today's tickets are all in the state
            if day == d.state.day:
                assert tid in d.state.tickets
    # the event log alone rebuilds the same state
    replayed = make_state(d.state.policy)
    replayed.day = e.day_of(T0, "Africa/Nairobi")
    for ev in all_events:
        e.evolve(replayed, ev)
    assert replayed.tickets == d.state.tickets
    assert replayed.counters == d.state.counters
    assert replayed.day == d.state.day and replayed.last_seq == d.state.last_seq
    assert [ev.seq for ev in all_events] == list(range(1, len(all_events) + 1))


def test_remote_ticket_not_checked_in_is_passed_over_not_a_no_show():
    d = Day(e.Policy(check_in_grace_s=900))
    remote = d.issue(channel=e.Channel.web, checked_in=False)
    walk_in = d.issue()
    later = d.issue()
    d.open("c1")
    called = d.call("c1")
    # its turn came before its citizen checked in: kept in its place, told to check in; the next one is called
    assert called.id == walk_in.id and remote.state == TicketState.waiting
    passed = [ev for ev in d.events if ev.type == EventType.ticket_passed_over]
    assert [ev.data.ticket_id for ev in passed] == [remote.id] and passed[0].data.grace_s == 900
    assert passed[0].data.counter_id == "c1"
    assert not [ev for ev in d.events if ev.type == EventType.ticket_no_show]
    figures = e.service_figures(d.state, "id-card", d.now)
    assert figures["waiting"] == 1 and figures["passed_over"] == 1  # `later` waits; the remote is not in the hall
    assert e.grace_ends_at(d.state, remote) == passed[0].at + 900
    # the citizen arrives within the grace: checked in, and called next, ahead of those issued after it
    d.do(e.CheckIn(remote.id), dt=600)
    assert remote.checked_in and e.grace_ends_at(d.state, remote) is None
    assert d.call("c1").id == remote.id
    assert d.call("c1").id == later.id


def test_passed_over_ticket_is_a_no_show_only_when_its_grace_runs_out():
    d = Day(e.Policy(check_in_grace_s=900, reactivation_window_s=1800))
    remote = d.issue(channel=e.Channel.sms, checked_in=False, phone="0712345678")
    d.open("c1")
    with pytest.raises(e.QueueError) as err:  # nobody else waits: nobody is called, the remote keeps its place
        d.do(e.CallNext("c1"))
    assert err.value.code == "nothing_waiting" and "1 not checked in yet" in err.value.message
    assert [ev.type for ev in err.value.events] == [EventType.ticket_passed_over]
    for ev in err.value.events:  # the refusal's events stand (the server commits them)
        d.events.append(ev)
    with pytest.raises(e.QueueError):  # a second call passes it over no second time
        d.do(e.CallNext("c1"))
    passed_at = err.value.events[0].at
    d.now = passed_at + 898
    d.do(e.Tick(), dt=1)
    assert remote.state == TicketState.waiting
    evs = d.do(e.Tick(), dt=1)  # the grace is over: a no-show, held by no counter
    assert [(ev.type, ev.data.reason, ev.data.counter_id) for ev in evs] == [
        (EventType.ticket_no_show, "not_checked_in", "")]
    assert remote.state == TicketState.no_show and d.state.counters["c1"].ticket_id is None
    # the citizen comes within the re-activation window: checking in puts the ticket back, checked in
    d.do(e.CheckIn(remote.id), dt=120)
    assert remote.state == TicketState.waiting and remote.checked_in
    assert d.call("c1").id == remote.id


def test_reactivated_remote_ticket_gets_a_fresh_grace():
    d = Day(e.Policy(check_in_grace_s=600))
    remote = d.issue(channel=e.Channel.ussd, checked_in=False)
    d.issue()
    d.open("c1")
    d.call("c1")
    d.do(e.Tick(), dt=601)
    assert remote.state == TicketState.no_show
    d.do(e.Reactivate(remote.id), dt=10)  # a clerk put it back: it is not passed over yet
    assert remote.state == TicketState.waiting and remote.passed_over_at is None
    d.do(e.Tick(), dt=700)
    assert remote.state == TicketState.waiting  # no grace ran out: it had none


def test_longest_wait_is_of_citizens_in_the_hall():
    """Finding 13: a remote ticket not checked in is a citizen at home, not a wait the managers are told of."""
    d = Day()
    remote = d.issue(channel=e.Channel.sms, checked_in=False)
    d.now += 1800
    d.issue()
    figures = e.service_figures(d.state, "id-card", d.now + 60)
    # newuser finding 2: the remote ticket is on the way, not waiting in the hall (README "Queue rules");
    # a newcomer still queues behind it (queued, and the estimate)
    assert figures["waiting"] == 1 and figures["on_the_way"] == 1 and figures["longest_wait_s"] == 60
    assert figures["queued"] == 2 and figures["passed_over"] == 0
    d.do(e.CheckIn(remote.id))
    after = e.service_figures(d.state, "id-card", d.now)
    assert after["longest_wait_s"] >= 1800 and (after["waiting"], after["on_the_way"]) == (2, 0)


def test_checked_in_remote_ticket_keeps_its_place():
    d = Day()
    remote = d.issue(channel=e.Channel.sms, checked_in=False)
    d.issue()
    d.do(e.CheckIn(remote.id))
    d.open("c1")
    assert d.call("c1").id == remote.id
    with pytest.raises(e.QueueError):
        d.do(e.CheckIn("nope"))


def test_appointment_jumps_walk_ins_only_near_its_slot():
    d = Day(e.Policy(appointment_early_s=600, priority_streak_limit=2))
    walk_ins = [d.issue() for _ in range(3)]
    appt = d.issue(priority=Priority.appointment, slot_at=d.now + 3600)
    d.open("c1")
    assert d.call("c1").id == walk_ins[0].id  # its slot is an hour away: it waits like anyone
    d.now += 3600 - 600
    assert d.call("c1").id == appt.id  # within ten minutes of its slot: ahead of walk-ins
    assert d.call("c1").id == walk_ins[1].id


def test_appointments_respect_the_anti_starvation_bound():
    d = Day(e.Policy(priority_streak_limit=1))
    walk = d.issue()
    a1 = d.issue(priority=Priority.appointment, slot_at=d.now)
    a2 = d.issue(priority=Priority.appointment, slot_at=d.now)
    d.open("c1")
    assert [d.call("c1").id for _ in range(3)] == [a1.id, walk.id, a2.id]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=80), gaps=st.lists(st.floats(0, 900), min_size=80, max_size=80))
def test_service_queues_always_match_the_waiting_tickets(steps, gaps):
    d = Day()
    for _ in play(d, steps, gaps):
        expected = {t.id for t in d.state.tickets.values() if t.state == TicketState.waiting}
        assert {t.id for t in d.state.waiting()} == expected
        for sid, q in d.state.queues.items():
            assert all(t.service_id == sid and t.state == TicketState.waiting for t in q.values())
        specials = {t.id for q in d.state.specials.values() for t in q.values()}
        assert specials == {tid for tid in expected if d.state.tickets[tid].priority != Priority.none}


def play(d: Day, steps: list[tuple], gaps: list[float]):
    """Apply random steps to a day (a refused command changes nothing); yield after each one."""
    for i, s in enumerate(steps):
        d.now += gaps[i] + (24 * 3600 if s[0] == "night" else 0)
        cmd = to_command(s, d)
        if cmd is None:
            continue
        try:
            e.apply(d.state, cmd, d.now)
        except e.QueueError:
            pass
        yield


def reference_choose_next(state: e.State, counter: e.Counter, now: float) -> e.Ticket | None:
    """docs/design.md §3's call rule written plainly over every waiting ticket (the engine's own version
    walks only the front of each queue and the tickets with a priority class)."""
    pol = state.policy
    candidates = [t for sid in dict.fromkeys(counter.services) for t in state.queues.get(sid, {}).values()]
    if not candidates:
        return None
    due = [t for t in candidates if e.appointment_due(state, t, now)]
    priority = [t for t in candidates if t.priority not in (Priority.none, Priority.appointment)]
    normal = [t for t in candidates if t.priority in (Priority.none, Priority.appointment)
              and not e.appointment_due(state, t, now)]
    if (due or priority) and not (normal and counter.priority_streak >= pol.priority_streak_limit):
        if due:
            return min(due, key=lambda t: (t.slot_at, t.queued_at, t.seq))
        pool = priority
    else:
        pool = normal or priority or due
    return min(pool, key=lambda t: (t.queued_at, t.seq))


appointment_step = st.tuples(st.just("appt"), st.sampled_from(SERVICES), st.floats(-1800, 7200))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.one_of(step, appointment_step), min_size=1, max_size=120),
       gaps=st.lists(st.floats(0, 900), min_size=120, max_size=120), limit=st.integers(1, 4))
def test_the_quick_call_rule_calls_whom_the_plain_rule_calls(steps, gaps, limit):
    """choose_next looks at each queue's front and the priority tickets only: on random days with
    walk-ins, priority classes, appointments, transfers and re-activations it must agree with the
    plain rule over every waiting ticket, and the queues must stay in first-come order."""
    d = Day(e.Policy(priority_streak_limit=limit, appointment_early_s=600))
    for _ in play(d, steps, gaps):
        for q in d.state.queues.values():
            keys = [(t.queued_at, t.seq) for t in q.values()]
            assert keys == sorted(keys)
        for c in d.state.counters.values():
            assert e.choose_next(d.state, c, d.now) is reference_choose_next(d.state, c, d.now)


def test_a_transferred_or_reactivated_ticket_goes_back_to_its_place_in_the_queue():
    d = Day(e.Policy(reactivation_window_s=3600))
    d.open("c1")
    d.open("c2")
    a = d.issue("id-card")
    assert d.call("c1").id == a.id
    later = [d.issue("birth") for _ in range(3)]
    d.do(e.Transfer("c1", "birth"))
    assert list(d.state.queues["birth"]) == [a.id] + [t.id for t in later]  # it came first, so it is first
    assert d.call("c2").id == a.id
    d.do(e.MarkNoShow("c2"))
    d.do(e.Reactivate(a.id))
    assert list(d.state.queues["birth"])[0] == a.id and d.call("c2").id == a.id


def test_a_clerk_who_opens_another_counter_leaves_the_first_closed():
    d = Day()
    t = d.issue()
    d.open("c1", clerk="wanjiku")
    d.call("c1")
    evs = d.do(e.OpenCounter("c3", clerk="wanjiku"))
    assert [ev.type for ev in evs][-2:] == [EventType.counter_closed, EventType.counter_opened]
    assert d.state.counters["c1"].state == CounterState.closed and d.state.counters["c1"].ticket_id is None
    # as a close does: the citizen called there and never started is a no-show (finding 11), never served
    assert t.state == TicketState.no_show
    assert d.state.counters["c3"].state == CounterState.open and d.state.counters["c3"].clerk == "wanjiku"
    # a paused counter is left too; another clerk's counter and a keypad's (no clerk) are not touched
    d.open("c2", clerk="otieno")
    d.do(e.PauseCounter("c3"))
    d.do(e.OpenCounter("c1"))
    d.do(e.OpenCounter("c2", clerk="otieno"))
    d.do(e.OpenCounter("c1", clerk="wanjiku"))
    assert d.state.counters["c3"].state == CounterState.closed
    assert d.state.counters["c2"].state == CounterState.open and d.state.counters["c2"].clerk == "otieno"


clerk_step = st.tuples(st.just("open_as"), st.sampled_from(COUNTERS), st.sampled_from(["amina", "baraka", None]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.one_of(step, clerk_step), min_size=1, max_size=80),
       gaps=st.lists(st.floats(0, 900), min_size=80, max_size=80))
def test_a_clerk_never_holds_two_counters(steps, gaps):
    d = Day()
    for i, s in enumerate(steps):
        d.now += gaps[i] + (24 * 3600 if s[0] == "night" else 0)
        cmd = e.OpenCounter(s[1], clerk=s[2]) if s[0] == "open_as" else to_command(s, d)
        if cmd is None:
            continue
        try:
            e.apply(d.state, cmd, d.now)
        except e.QueueError:
            pass
        held = [c.clerk for c in d.state.counters.values() if c.state != CounterState.closed and c.clerk]
        assert len(held) == len(set(held)), f"a clerk holds two counters: {d.state.counters}"
        if s[0] == "open_as" and s[2] is not None:
            assert d.state.counters[s[1]].clerk == s[2] and d.state.counters[s[1]].state == CounterState.open


def test_a_check_in_that_finds_the_grace_just_over_is_late_but_back_in_line():
    """No command ran between the grace's end and the check-in: the no-show comes first, then the check-in
    re-activates it (within the window), in one batch; the SMS listener sees it waiting and says nothing."""
    d = Day(e.Policy(check_in_grace_s=600))
    remote = d.issue(channel=e.Channel.sms, checked_in=False)
    later = d.issue()
    d.open("c1")
    d.call("c1")  # `later` called, the remote passed over
    evs = d.do(e.CheckIn(remote.id), dt=700)
    assert [ev.type for ev in evs] == [EventType.ticket_no_show, EventType.ticket_reactivated,
                                       EventType.ticket_checked_in]
    assert remote.state == TicketState.waiting and remote.checked_in and later.state == TicketState.called
    assert d.call("c1").id == remote.id
