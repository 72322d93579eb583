"""The queue engine: pure, deterministic, the only place queue rules live.

``apply(state, command, now)`` checks the command against the state, returns the
events it causes (one typed model per event type, ``contract.events``) and moves
the state forward by those events (``evolve``). No I/O and no clock reads: time
comes in as ``now`` (POSIX seconds), ids come in with the commands. The server
persists the events and the changed rows in one transaction; the replay
simulator drives the very same functions at simulated time.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from centre_server.contract import (
    COUNTER_EVENT_MODELS,
    FINAL_TICKET_STATES,
    TICKET_EVENT_MODELS,
    AnyEvent,
    Channel,
    CounterClosed,
    CounterOpened,
    CounterPaused,
    CounterResumed,
    CounterServicesChanged,
    CounterState,
    DayClosed,
    DayReopened,
    Event,
    FeedbackGiven,
    IssueRefusal,
    Language,
    NoticeChanged,
    Priority,
    Satisfaction,
    TicketCalled,
    TicketCancelled,
    TicketCheckedIn,
    TicketDone,
    TicketIssued,
    TicketNoShow,
    TicketReactivated,
    TicketRecalled,
    TicketStarted,
    TicketState,
    TicketTransferred,
    WaitUnknown,
    opens_again,
    satisfaction_scale,
    ticket_of,
)
from centre_server.contract.errors import Refusal
from centre_server.contract.events import (
    PaymentUpdated,
    ServiceResumed,
    ServiceSuspended,
    TicketParked,
    TicketPassedOver,
    VisitChanged,
    VisitPlanned,
    VisitStepQueued,
)
from centre_server.queue import visits
from centre_server.queue.estimate import WaitPredictor
from centre_server.queue.model import (
    BUILTIN_OUTCOME_CODES,
    DEFAULT_OUTCOMES,
    Counter,
    OutcomeCode,
    Policy,
    Service,
    Suspension,
    Ticket,
)

logger = logging.getLogger(__name__)

HALL_CALLS_KEPT = 10
# the reasons a day's close gives the tickets it cancels (CloseDay's default, the closer at closing time,
# the midnight roll-over): a citizen who comes back with such a ticket is told the close cancelled it
DAY_CLOSE_REASONS = frozenset({"day_closed", "closing_time", "day_rollover"})


class QueueError(Refusal):
    """A command the rules refuse; ``status`` is the HTTP status the API answers with."""

    def __init__(self, code: str, message: str, status: int = 409, **extra: Any) -> None:
        super().__init__(status, code, message, **extra)
        self.events: list[Event] = []


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------


@dataclass
class State:
    policy: Policy
    services: dict[str, Service]
    counters: dict[str, Counter]
    tickets: dict[str, Ticket] = field(default_factory=dict)
    day: str = ""
    numbers: dict[str, int] = field(default_factory=dict)  # service -> last number today
    last_seq: int = 0
    hall: list[dict[str, Any]] = field(default_factory=list)  # last calls, newest first
    notice_en: str = ""
    notice_sw: str = ""
    predictor: WaitPredictor = field(default_factory=WaitPredictor)
    idempotency: dict[str, str] = field(default_factory=dict)  # key -> ticket id, today
    # the day before's keys: a kiosk's retry sent just before midnight is still answered after it
    # (a key is remembered for today and the day before, as payment APIs keep theirs for a day)
    earlier_keys: dict[str, str] = field(default_factory=dict)
    # the waiting tickets of each service, kept by evolve in first-come order (queued_at, seq):
    # queries walk a queue, not the whole day, and the first-come is at its front
    queues: dict[str, dict[str, Ticket]] = field(default_factory=dict)
    # the waiting tickets of each service with any priority class (appointments too): the few a call
    # must look at beyond the front of each queue
    specials: dict[str, dict[str, Ticket]] = field(default_factory=dict)
    # tickets a day roll-over dropped from memory, kept until storage has written their final state
    retired: dict[str, Ticket] = field(default_factory=dict)
    # the day is over before midnight: "closing_time" or "closed_by_manager" (None while open)
    closed: str | None = None
    reopened: str | None = None  # the day a manager reopened after a close: its closing time no longer applies
    # the outcome codes a clerk may pick, by code (the menu's outcomes.csv; the four old ones by default)
    outcome_codes: dict[str, OutcomeCode] = field(default_factory=lambda: dict(BUILTIN_OUTCOME_CODES))
    # remote tickets passed over at the front, not checked in yet (kept by evolve): the few whose grace
    # each command looks at, without walking the queues
    passed_over: dict[str, Ticket] = field(default_factory=dict)

    def waiting(self) -> list[Ticket]:
        return [t for q in self.queues.values() for t in q.values()]

    def reindex(self) -> None:
        """Rebuild the queues from the tickets (after loading them from storage)."""
        self.queues, self.specials, self.passed_over = {}, {}, {}
        for t in sorted((t for t in self.tickets.values() if t.state == TicketState.waiting), key=_FCFS):
            _enqueue(self, t)


def _enqueue(state: State, t: Ticket) -> None:
    """Add a waiting ticket to its service's queue, keeping first-come order (a re-activated or
    transferred ticket goes back to its old place: the queue is re-sorted, which is rare)."""
    q = state.queues.setdefault(t.service_id, {})
    last = next(reversed(q.values()), None) if q else None
    q[t.id] = t
    if last is not None and (last.queued_at, last.seq) > (t.queued_at, t.seq):
        state.queues[t.service_id] = {x.id: x for x in sorted(q.values(), key=_FCFS)}
    if t.priority is not Priority.none:
        state.specials.setdefault(t.service_id, {})[t.id] = t
    if passed_over(t):
        state.passed_over[t.id] = t


def passed_over(t: Ticket) -> bool:
    """A remote ticket its turn reached before its citizen checked in: it keeps its place in the queue but
    is not called, nor counted as waiting in the hall, until the citizen checks in or the grace runs out."""
    return t.passed_over_at is not None and not t.checked_in and t.state == TicketState.waiting


def grace_ends_at(state: State, t: Ticket) -> float | None:
    """When a passed-over ticket becomes a no-show unless its citizen checks in (None: not passed over)."""
    if t.passed_over_at is None or not passed_over(t):
        return None
    return t.passed_over_at + state.policy.check_in_grace_s


def day_of(now: float, tz: str) -> str:
    """The centre's local date of a moment: numbers reset when it changes."""
    return datetime.fromtimestamp(now, ZoneInfo(tz)).date().isoformat()


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueTicket:
    ticket_id: str
    service_id: str
    priority: Priority = Priority.none
    channel: Channel = Channel.kiosk
    language: Language = Language.en
    phone: str | None = None
    idempotency_key: str | None = None
    device_id: str | None = None
    checked_in: bool = True
    slot_at: float | None = None
    appointment_id: str | None = None
    then: tuple[str, ...] = ()  # a one-stop visit: the services after this one, in order (queue/visits.py)


@dataclass(frozen=True)
class CheckIn:
    """A remote ticket's citizen is in the hall (code or phone at a kiosk)."""

    ticket_id: str


@dataclass(frozen=True)
class CallNext:
    counter_id: str
    clerk: str | None = None


@dataclass(frozen=True)
class CallTicket:
    """Call one chosen ticket (a clerk picking a citizen out of order)."""

    counter_id: str
    ticket_id: str
    clerk: str | None = None


@dataclass(frozen=True)
class Recall:
    counter_id: str


@dataclass(frozen=True)
class MarkNoShow:
    counter_id: str


@dataclass(frozen=True)
class StartService:
    counter_id: str


@dataclass(frozen=True)
class Complete:
    counter_id: str
    outcome: str | None = None
    reason: str | None = None  # required by the outcome codes that need one


@dataclass(frozen=True)
class Transfer:
    counter_id: str
    service_id: str


@dataclass(frozen=True)
class CancelTicket:
    ticket_id: str
    reason: str = "cancelled"


@dataclass(frozen=True)
class Reactivate:
    ticket_id: str


@dataclass(frozen=True)
class OpenCounter:
    """Open (or resume) a counter for ``clerk``; a clerk holds one counter: the one they leave is closed."""

    counter_id: str
    services: tuple[str, ...] | None = None
    clerk: str | None = None


@dataclass(frozen=True)
class PauseCounter:
    counter_id: str


@dataclass(frozen=True)
class ResumeCounter:
    counter_id: str


@dataclass(frozen=True)
class CloseCounter:
    counter_id: str


@dataclass(frozen=True)
class SetCounterServices:
    counter_id: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class GiveFeedback:
    rating: int
    counter_id: str | None = None
    ticket_id: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class SetNotice:
    notice_en: str
    notice_sw: str


@dataclass(frozen=True)
class Tick:
    """Nothing but the passing of time: lets a day roll over with nobody acting."""


@dataclass(frozen=True)
class ReopenDay:
    """Take tickets again today after a close (a mistaken closing time, a manager's slip).

    What the close cancelled stays cancelled; the clock's closing time no longer
    applies today, so the day runs until a manager closes it again or midnight.
    """


@dataclass(frozen=True)
class SuspendService:
    """Stop issuing for a service now (the agency's system is down, say): a newcomer is refused with
    the reason; those already waiting stay, and clerks may still serve or transfer them."""

    service_id: str
    reason_en: str
    reason_sw: str
    by: str | None = None


@dataclass(frozen=True)
class ResumeService:
    """Issue again for a suspended service."""

    service_id: str
    by: str | None = None


@dataclass(frozen=True)
class ChangeVisit:
    """A clerk drops, adds or reorders the remaining services of the visit at their counter."""

    counter_id: str
    next_services: tuple[str, ...]
    clerk: str | None = None


@dataclass(frozen=True)
class CloseDay:
    """Finish the day: what still waits is cancelled, the day's figures are final."""

    reason: str = "day_closed"


@dataclass(frozen=True)
class ParkTicket:
    """Send the citizen at the counter to fetch a document: the counter is free for the next one."""

    counter_id: str
    note: str | None = None
    clerk: str | None = None


@dataclass(frozen=True)
class CallParked:
    """Call a parked citizen back, to this or any open counter serving the ticket's service."""

    counter_id: str
    ticket_id: str
    clerk: str | None = None


@dataclass(frozen=True)
class RecordPayment:
    """Tell everyone a ticket's fee changed state (the payments room decided it; its table holds the
    request, the phone and the checkout id). The queue's rules do not depend on payment: a citizen
    who has not paid is still called, and pays at the counter."""

    ticket_id: str
    state: str
    amount_ksh: int | None = None
    method: str | None = None
    receipt: str | None = None
    reason: str | None = None
    by: str | None = None


Command = (
    IssueTicket | CallNext | CallTicket | Recall | MarkNoShow | StartService | Complete | Transfer
    | CancelTicket | Reactivate | OpenCounter | PauseCounter | ResumeCounter | CloseCounter
    | SetCounterServices | GiveFeedback | SetNotice | CloseDay | Tick | CheckIn | ReopenDay
    | SuspendService | ResumeService | ParkTicket | CallParked | ChangeVisit | RecordPayment
)

PRIORITY_RANK = {Priority.appointment: 0, Priority.elderly: 1, Priority.disability: 1,
                 Priority.expectant: 1, Priority.none: 2}


# --------------------------------------------------------------------------
# Queries (pure, used by the API, MQTT state and the replay)
# --------------------------------------------------------------------------


def queue_order_key(t: Ticket) -> tuple[int, float, int]:
    """The order within one service: priority classes first, then first come first served."""
    return (0 if t.priority != Priority.none else 1, t.queued_at, t.seq)


def position(state: State, ticket: Ticket) -> int:
    """People ahead of a waiting ticket in its own service."""
    if ticket.state != TicketState.waiting:
        return 0
    # queue_order_key(t) < queue_order_key(ticket), written out: this runs for every look at a ticket
    q, seq, none = ticket.queued_at, ticket.seq, Priority.none
    queue = state.queues.get(ticket.service_id, {}).values()
    if ticket.priority is none:
        return sum(1 for t in queue if t is not ticket and (
            t.priority is not none or t.queued_at < q or (t.queued_at == q and t.seq < seq)))
    return sum(1 for t in queue if t is not ticket and t.priority is not none and (
        t.queued_at < q or (t.queued_at == q and t.seq < seq)))


def sharing_services(state: State, service_id: str) -> set[str]:
    """The services whose citizens the counters serving ``service_id`` may call first: those of the counters open
    or on a break for it now, else (nobody serving yet) of every counter set to serve it."""
    serving = [c for c in state.counters.values() if service_id in c.services]
    staffed = [c for c in serving if c.state != CounterState.closed] or serving
    return {service_id}.union(*(c.services for c in staffed))


def people_ahead(state: State, ticket: Ticket) -> int:
    """People ahead of a waiting ticket as the citizen meets them: everyone the counters serving its service may
    call first (priority first, then first come first served, across the services those counters share), not
    only its own service's queue (which ``position`` counts, the estimate's input). On a counter shared by three
    services, "You are next" with six others of the other two before you at that counter is not true. A
    passed-over ticket counts, as in ``position``: checked in, it goes first."""
    if ticket.state != TicketState.waiting:
        return 0
    key = queue_order_key(ticket)
    return sum(1 for sid in sharing_services(state, ticket.service_id)
               for t in state.queues.get(sid, {}).values() if t is not ticket and queue_order_key(t) < key)


def newcomer_ahead(state: State, service_id: str, priority: bool) -> int:
    """``people_ahead`` of a ticket issued now (behind everyone of its class)."""
    return sum(1 for sid in sharing_services(state, service_id)
               for t in state.queues.get(sid, {}).values() if not priority or t.priority is not Priority.none)


def open_counters_for(state: State, service_id: str) -> list[Counter]:
    return [c for c in state.counters.values()
            if c.state == CounterState.open and service_id in c.services]


_ZONES: dict[str, ZoneInfo] = {}


def local_time(state: State, now: float) -> datetime:
    """``now`` on the centre's wall clock."""
    tz = _ZONES.get(state.policy.timezone)
    if tz is None:
        tz = _ZONES[state.policy.timezone] = ZoneInfo(state.policy.timezone)
    return datetime.fromtimestamp(now, tz)


def day_closed_reason(state: State, now: float) -> str | None:
    """Why the centre takes no tickets now ("closing_time", "closed_by_manager"), or None while open."""
    if state.closed:
        return state.closed
    if state.reopened == state.day:  # a manager reopened today: the clock's closing time is set aside
        return None
    if state.policy.hours.after_closing(local_time(state, now)):
        return "closing_time"
    return None


def opens_at(state: State, now: float) -> datetime:
    """The next moment the centre opens (today's opening if it is still ahead and the day is open)."""
    return state.policy.hours.opens_next(local_time(state, now), closed_today=day_closed_reason(state, now) is not None)


def book_day(state: State, now: float) -> str:
    """The first day after today a citizen can book for."""
    return state.policy.hours.next_open_day(local_time(state, now).date()).isoformat()


def closing_epoch(state: State, now: float) -> float | None:
    """Today's closing moment as POSIX seconds, or None when no closing time is set."""
    local = local_time(state, now)
    at = state.policy.hours.closing_at(local.date(), local.tzinfo)
    return None if at is None else at.timestamp()


def last_call_epoch(state: State, service: Service, now: float) -> float | None:
    """The service's last call today: its own ``last_call_s``, else the centre's, else the closing time."""
    seconds = service.last_call_s if service.last_call_s is not None else state.policy.hours.last_call_s
    if seconds is None:
        return closing_epoch(state, now)
    local = local_time(state, now)
    return state.policy.hours.moment(local.date(), seconds, local.tzinfo).timestamp()


def wait_for(state: State, service_id: str, ahead: int, now: float,
             priority: bool = False) -> tuple[int | None, WaitUnknown | None]:
    """Seconds a ticket with ``ahead`` people before it may wait, or None with the reason.

    Never invented: after closing it is ``closed``; when no open counter serves the
    service and none is due to open before closing, ``no_counter``, or ``paused`` when a
    counter that serves it is paused: the forecaster counts only open counters (a paused
    one calls nobody, and when its clerk returns is not known), so there is no figure, but
    the counter is expected back.
    """
    if day_closed_reason(state, now) is not None:
        return None, WaitUnknown.closed
    est = state.predictor.estimate(state, service_id, ahead, now, priority=priority,
                                   closes_at=closing_epoch(state, now))
    if est is None:
        return None, WaitUnknown.paused if paused_counters_for(state, service_id) else WaitUnknown.no_counter
    return est, None


def paused_counters_for(state: State, service_id: str) -> list[Counter]:
    """The counters serving ``service_id`` whose clerk is on a break (paused): expected back."""
    return [c for c in state.counters.values() if c.state == CounterState.paused and service_id in c.services]


def estimate_wait(state: State, service_id: str, ahead: int, now: float) -> int | None:
    """Seconds a ticket with ``ahead`` people before it may wait; None when nobody can serve it today."""
    return wait_for(state, service_id, ahead, now)[0]


def refusal_for(state: State, service: Service, now: float, estimate: int | None,
                priority: Priority = Priority.none) -> IssueRefusal | None:
    """Why a newcomer would get no ticket for ``service`` now, or None."""
    if not service.enabled or not service.offered:
        return IssueRefusal.service_disabled
    if day_closed_reason(state, now) is not None:  # closed says when it opens: the truer answer after hours
        return IssueRefusal.day_closed
    if service.suspension is not None:
        return IssueRefusal.service_suspended
    if priority is Priority.appointment or state.reopened == state.day:
        return None  # a slot was promised; a reopened day takes tickets until closed again or midnight
    last = last_call_epoch(state, service, now)
    if last is None:
        return None
    if estimate is not None:
        return IssueRefusal.after_last_call if now + estimate > last else None
    # nobody serves it (no counter open or paused, none planned before closing): early in the day a
    # clerk may still sit down, but near the last call the ticket would only be cancelled at the close
    if not paused_counters_for(state, service.id) and now >= last - state.policy.hours.unserved_window_s:
        return IssueRefusal.after_last_call
    return None


def service_figures(state: State, service_id: str, now: float) -> dict[str, Any]:
    """Waiting, longest wait, estimated wait for a newcomer (or why none), open counters, and
    whether a newcomer gets a ticket."""
    waiting = state.queues.get(service_id, {})
    # the longest wait is a citizen's in the hall: one on the way (remote, not checked in) waits at home
    longest = now - min((t.queued_at for t in waiting.values() if t.checked_in), default=now)
    est, unknown = wait_for(state, service_id, len(waiting), now)
    refusal = refusal_for(state, state.services[service_id], now, est)
    passed = sum(1 for t in state.passed_over.values() if t.service_id == service_id)
    in_hall = sum(1 for t in waiting.values() if t.checked_in)
    return {
        # README "Queue rules": only citizens in the hall are waiting; a web, SMS or USSD ticket not checked in
        # yet is "on the way" (its passed-over ones too: their turn came, they are called on check-in)
        "waiting": in_hall,
        "on_the_way": len(waiting) - in_hall,
        "passed_over": passed,
        # ahead of a newcomer, in the hall or on the way (a passed-over ticket is called only on check-in):
        # what the citizen's own channels (web, SMS, USSD, headquarters' wait page) say is "waiting"
        "queued": len(waiting) - passed,
        # the people a newcomer's ticket would say are ahead (every service its counters share): what the kiosk's
        # confirmation says before the ticket, so the two agree
        "ahead": newcomer_ahead(state, service_id, False),
        "longest_wait_s": max(0, int(longest)),
        "estimated_wait_s": est,
        "wait_unknown": unknown,
        "accepting": refusal is None,
        "refusal": refusal,
        "open_counters": len(open_counters_for(state, service_id)),
    }


def ticket_wait(state: State, ticket: Ticket, now: float,
                ahead: int | None = None) -> tuple[int | None, WaitUnknown | None]:
    """A waiting ticket's estimate now (0 once called), or None with the reason."""
    if ticket.state != TicketState.waiting:
        return 0, None
    return wait_for(state, ticket.service_id, position(state, ticket) if ahead is None else ahead, now,
                    priority=ticket.priority is not Priority.none)


def ticket_estimate(state: State, ticket: Ticket, now: float, ahead: int | None = None) -> int | None:
    return ticket_wait(state, ticket, now, ahead)[0]


# --------------------------------------------------------------------------
# Deciding
# --------------------------------------------------------------------------


class _Emitter:
    """Numbers events and applies each at once, so later decisions see earlier ones."""

    def __init__(self, state: State, now: float) -> None:
        self.state = state
        self.now = now
        self.events: list[Event] = []

    def __call__(self, data: AnyEvent) -> Event:
        ev = Event(seq=self.state.last_seq + 1, at=self.now, data=data)
        evolve(self.state, ev)
        self.events.append(ev)
        return ev


def apply(state: State, command: Command, now: float) -> list[Event]:
    """Check ``command``, move ``state`` forward, return the events (in order).

    Raises QueueError, leaving the state untouched, when the rules refuse the
    command. A day change (centre local time) first closes the previous day.
    """
    emit = _Emitter(state, now)
    today = day_of(now, state.policy.timezone)
    if not state.day:
        state.day = today
    elif today > state.day:  # a clock that jumps back never reopens an old day
        _validate(state, command, now)  # refuse before rolling over on a bad command
        _close_day(state, emit, "day_rollover", next_day=today)
    _expire_passed_over(state, emit)
    handler = _HANDLERS[type(command)]
    try:
        handler(state, command, emit)
    except QueueError as err:
        err.events = emit.events  # a day roll-over that happened first still stands
        raise
    return emit.events


def _expire_passed_over(state: State, emit: _Emitter) -> None:
    """Passed-over tickets whose check-in grace is over become no-shows (reason "not_checked_in"), before
    the command sees the queue: no counter held them, so the event names none."""
    grace = state.policy.check_in_grace_s
    for t in [t for t in state.passed_over.values() if t.passed_over_at is not None
              and emit.now >= t.passed_over_at + grace]:
        emit(TicketNoShow(**_ticket_data(state, t), counter_id="", counter_name="", reason="not_checked_in"))


def _validate(state: State, command: Command, now: float) -> None:
    if isinstance(command, IssueTicket):
        _service(state, command.service_id, for_issue=True)
    elif isinstance(counter_id := getattr(command, "counter_id", None), str):
        _counter(state, counter_id)


def _service(state: State, service_id: str, for_issue: bool = False) -> Service:
    svc = state.services.get(service_id)
    if svc is None:
        raise QueueError("unknown_service", f"no service with id {service_id!r}", 404)
    if for_issue and not svc.enabled:
        raise QueueError("service_disabled", f"service {service_id!r} is not offered now", 409)
    if for_issue and not svc.offered:
        raise QueueError("service_disabled", f"{svc.name_en} is not offered at this centre", 409)
    if for_issue and svc.suspension is not None:
        s = svc.suspension
        raise QueueError(IssueRefusal.service_suspended.value, f"{svc.name_en} is suspended: {s.reason_en}", 409,
                         reason_en=s.reason_en, reason_sw=s.reason_sw, service_id=svc.id)
    return svc


def _counter(state: State, counter_id: str) -> Counter:
    c = state.counters.get(counter_id)
    if c is None:
        raise QueueError("unknown_counter", f"no counter with id {counter_id!r}", 404)
    return c


def _current(state: State, counter: Counter) -> Ticket:
    if counter.ticket_id is None:
        raise QueueError("no_ticket_at_counter", f"counter {counter.name} is serving no ticket", 409)
    return state.tickets[counter.ticket_id]


class _TicketFields(TypedDict):
    ticket_id: str
    number: str
    service_id: str
    priority: Priority


class _CounterFields(TypedDict):
    counter_id: str
    counter_name: str


def _ticket_data(state: State, t: Ticket) -> _TicketFields:
    return {"ticket_id": t.id, "number": t.number, "service_id": t.service_id, "priority": t.priority}


def _counter_data(c: Counter) -> _CounterFields:
    return {"counter_id": c.id, "counter_name": c.name}


def _issue(state: State, cmd: IssueTicket, emit: _Emitter) -> None:
    if cmd.idempotency_key and (cmd.idempotency_key in state.idempotency
                                or cmd.idempotency_key in state.earlier_keys):
        return  # the same ticket again: no event, the caller reads it back (``issued_for``)
    _service(state, cmd.service_id)  # an unknown service first (404), whatever the hour
    now = emit.now
    if day_closed_reason(state, now) is not None:  # before a suspension: closed says when to come back
        when = opens_at(state, now)
        raise QueueError(IssueRefusal.day_closed.value,
                         f"The centre is closed for today. {opens_again(when, 'en')}",
                         409, opens_at=when.isoformat(), book_day=book_day(state, now))
    svc = _service(state, cmd.service_id, for_issue=True)
    _check_plan(state, svc.id, cmd.then, citizen=True)
    if cmd.ticket_id in state.tickets:
        raise QueueError("duplicate_ticket_id", "ticket id already used", 409)
    if cmd.priority is not Priority.none and cmd.priority not in state.policy.priority_classes:
        allowed = ", ".join(sorted(p.value for p in state.policy.priority_classes)) or "none"
        raise QueueError("priority_not_allowed", f"the national standard allows no {cmd.priority.value} "
                         f"priority (allowed: {allowed})", 422)
    number = state.numbers.get(svc.id, 0) + 1
    if number > 999:
        raise QueueError("numbers_exhausted", f"service {svc.id} issued 999 tickets today", 409)
    queue = state.queues.get(svc.id, {})
    ahead = len(queue) if cmd.priority == Priority.none else sum(
        1 for t in queue.values() if t.priority != Priority.none)
    estimate, _ = wait_for(state, svc.id, ahead, now, priority=cmd.priority != Priority.none)
    if refusal_for(state, svc, now, estimate, cmd.priority) is IssueRefusal.after_last_call:
        day = book_day(state, now)
        why = ("would not be called before today's last call" if estimate is not None else
               "has no counter serving it before today's last call")
        raise QueueError(IssueRefusal.after_last_call.value,
                         f"a newcomer for {svc.name_en} {why}: book a visit for {day} instead", 409,
                         opens_at=opens_at(state, now).isoformat(), book_day=day)
    emit(TicketIssued(ticket_id=cmd.ticket_id, number=f"{svc.prefix}{number:03d}",
         seq_no=number, day=state.day, service_id=svc.id, priority=cmd.priority,
         channel=cmd.channel, language=cmd.language, phone=cmd.phone,
         idempotency_key=cmd.idempotency_key, device_id=cmd.device_id, position=ahead,
         people_ahead=newcomer_ahead(state, svc.id, cmd.priority != Priority.none), estimated_wait_s=estimate,
         checked_in=cmd.checked_in,
         slot_at=cmd.slot_at, appointment_id=cmd.appointment_id))
    if cmd.then:
        ticket = state.tickets[cmd.ticket_id]
        emit(VisitPlanned(**_ticket_data(state, ticket), next_services=tuple(cmd.then)))


def issued_for(state: State, key: str) -> str | None:
    """The ticket id an Idempotency-Key was issued as, today or the day before; None if new."""
    return state.idempotency.get(key) or state.earlier_keys.get(key)


def appointment_due(state: State, t: Ticket, now: float) -> bool:
    """An appointment goes ahead of walk-ins only from shortly before its slot: the bound on its jump."""
    return (t.priority == Priority.appointment and t.slot_at is not None
            and now >= t.slot_at - state.policy.appointment_early_s)


def choose_next(state: State, counter: Counter, now: float) -> Ticket | None:
    """The ticket ``counter`` should call now: appointments due, then priority classes (bounded by the
    streak limit), then first come first served, as the policy orders them."""
    pol = state.policy
    # one pass sorts the counter's waiting tickets into appointments due, priority classes and the rest
    # (as appointment_due decides): a call is the clerk's wait, so it walks the queues once, not four times
    due: list[Ticket] = []
    priority: list[Ticket] = []
    normal: list[Ticket] = []
    due_from = now + pol.appointment_early_s
    whole_pool = pol.call_order == "skill_order" or pol.prefer_breached_target
    first: Ticket | None = None  # by default only the first-come of the normal pool matters

    def sort(t: Ticket) -> None:
        nonlocal first
        if t.passed_over_at is not None and not t.checked_in:  # passed over: called once checked in
            return
        p = t.priority
        if p is Priority.none or (p is Priority.appointment and (t.slot_at is None or t.slot_at > due_from)):
            if whole_pool:
                normal.append(t)
            elif first is None or (t.queued_at, t.seq) < (first.queued_at, first.seq):
                first = t
        elif p is Priority.appointment:
            due.append(t)
        else:
            priority.append(t)

    for sid in dict.fromkeys(counter.services):
        if whole_pool:  # these rules weigh every ticket
            for t in state.queues.get(sid, {}).values():
                sort(t)
            continue
        # the queue is in first-come order: its first ticket of no priority is the one; the
        # tickets with a priority class are all in specials. A call costs O(counter's services).
        for t in state.specials.get(sid, {}).values():
            sort(t)
        for t in state.queues.get(sid, {}).values():
            if t.priority is Priority.none and (t.passed_over_at is None or t.checked_in):
                sort(t)
                break
    if first is not None:
        normal = [first]
    if not (due or priority or normal):
        return None
    ahead_of_normal = due or priority
    if ahead_of_normal and not (normal and counter.priority_streak >= pol.priority_streak_limit):
        if due:
            return min(due, key=lambda t: (t.slot_at, t.queued_at, t.seq))
        pool = priority
    else:
        pool = normal or priority or due
    if pol.call_order == "skill_order":
        for sid in counter.services:
            in_service = [t for t in pool if t.service_id == sid]
            if in_service:
                pool = in_service
                break
    if pol.prefer_breached_target:
        def over(t: Ticket) -> float:
            target = max(1, state.services[t.service_id].target_wait_s)
            return (now - t.queued_at) / target
        breached = [t for t in pool if over(t) > 1.0]
        if breached:
            return max(breached, key=lambda t: (over(t), -t.queued_at))
    return min(pool, key=_FCFS)


_FCFS = attrgetter("queued_at", "seq")
_QUEUED_AT = attrgetter("queued_at")


def _require_open(counter: Counter) -> None:
    if counter.state == CounterState.closed:
        raise QueueError("counter_closed", f"counter {counter.name} is closed: open it first", 409)
    if counter.state == CounterState.paused:
        raise QueueError("counter_paused", f"counter {counter.name} is paused: resume it first", 409)


def _finish_current(state: State, counter: Counter, emit: _Emitter, outcome: str | None,
                    reason: str | None = None) -> None:
    if counter.ticket_id is None:
        return
    t = state.tickets[counter.ticket_id]
    emit(TicketDone(**_ticket_data(state, t), **_counter_data(counter),
         outcome=outcome or "served", clerk=counter.clerk, reason=reason))
    _next_step(state, t, emit, outcome)


def _leave_called(state: State, counter: Counter, emit: _Emitter, reason: str) -> None:
    """A counter that pauses or closes over a ticket called but never started: its citizen never reached the
    counter, so it is a no-show (``reason`` says why, the citizen may be re-activated), never "served"."""
    if counter.ticket_id is None:
        return
    t = state.tickets[counter.ticket_id]
    if t.state == TicketState.called:
        emit(TicketNoShow(**_ticket_data(state, t), **_counter_data(counter), reason=reason))


def _refuse_over_called(state: State, counter: Counter) -> None:
    """A call over a ticket called but never started is refused: "call next" cannot say whether that citizen
    came (finishing it would count somebody absent as served), and a double tap must not finish one ticket
    and call another. The clerk starts, recalls or no-shows it first."""
    current = state.tickets.get(counter.ticket_id) if counter.ticket_id is not None else None
    if current is not None and current.state == TicketState.called:
        raise QueueError("ticket_called", f"{current.number} has been called but not started: start it, "
                         "recall it or mark it a no-show first", 409, number=current.number)


def _call(state: State, counter: Counter, ticket: Ticket, emit: _Emitter, clerk: str | None) -> None:
    _refuse_over_called(state, counter)
    if counter.ticket_id is not None:
        if not state.policy.complete_on_call_next:
            raise QueueError("ticket_at_counter", "finish the ticket at the counter first", 409)
        _finish_current(state, counter, emit, None)
    jumped = ticket.priority != Priority.none and (ticket.priority != Priority.appointment
                                                   or appointment_due(state, ticket, emit.now))
    # a parked citizen called back waited in no queue since the first call: no new wait to learn from
    waited = 0 if ticket.state == TicketState.parked else int(emit.now - visits.joined_at(ticket))
    emit(TicketCalled(**_ticket_data(state, ticket), **_counter_data(counter),
         clerk=clerk or counter.clerk, waited_s=waited, jumped=jumped and ticket.state != TicketState.parked))


def _call_next(state: State, cmd: CallNext, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    _require_open(counter)
    _refuse_over_called(state, counter)
    while True:
        ticket = choose_next(state, counter, emit.now)
        if ticket is None:
            away = sum(1 for t in state.passed_over.values() if t.service_id in counter.services)
            raise QueueError("nothing_waiting", f"no ticket is waiting for counter {counter.name}"
                             + (f" ({away} not checked in yet)" if away else ""), 404, passed_over=away)
        if ticket.checked_in:
            break
        # a remote ticket whose citizen has not checked in reaches the front: it keeps its place and the
        # citizen is told to check in within the grace; the next ticket is called (not a no-show)
        emit(TicketPassedOver(**_ticket_data(state, ticket), **_counter_data(counter),
                              grace_s=state.policy.check_in_grace_s))
    _call(state, counter, ticket, emit, cmd.clerk)


def _call_ticket(state: State, cmd: CallTicket, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    _require_open(counter)
    ticket = state.tickets.get(cmd.ticket_id)
    if ticket is None or ticket.state != TicketState.waiting:
        raise QueueError("ticket_not_waiting", "that ticket is not waiting", 409)
    _call(state, counter, ticket, emit, cmd.clerk)


def _recall(state: State, cmd: Recall, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    if t.state != TicketState.called:
        raise QueueError("already_serving", f"{t.number} is already being served", 409)
    if t.recalls >= state.policy.auto_no_show_after_recalls:
        emit(TicketNoShow(**_ticket_data(state, t), **_counter_data(counter),
             reason="recalls_exhausted"))
        return
    emit(TicketRecalled(**_ticket_data(state, t), **_counter_data(counter),
         recalls=t.recalls + 1))


def _no_show(state: State, cmd: MarkNoShow, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    if t.state != TicketState.called:
        raise QueueError("already_serving", f"{t.number} is being served: complete it instead", 409)
    need = state.policy.min_recalls_before_no_show
    if t.recalls < need:
        raise QueueError("recall_first", f"recall {t.number} {need - t.recalls} more time(s) first", 409)
    emit(TicketNoShow(**_ticket_data(state, t), **_counter_data(counter), reason="clerk"))


def _start(state: State, cmd: StartService, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    if t.state != TicketState.called:
        raise QueueError("already_serving", f"{t.number} is already being served", 409)
    emit(TicketStarted(**_ticket_data(state, t), **_counter_data(counter)))


def clerk_text(text: str | None, limit: int = 200) -> str | None:
    """A clerk's note or reason as one line: whitespace folded, control and invisible characters dropped (it
    reaches the log, the hall's devices over MQTT and other clerks' screens), at most ``limit`` characters."""
    kept = "".join(ch for ch in (text or "") if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())[:limit] or None


def outcomes_of(state: State, service_id: str) -> list[OutcomeCode]:
    """The outcome codes a clerk may pick for a ticket of ``service_id``, in the menu's order."""
    svc = state.services.get(service_id)
    codes = (svc.outcomes if svc is not None else ()) or DEFAULT_OUTCOMES
    return [state.outcome_codes.get(c) or OutcomeCode(c, c, c) for c in codes]


def _complete(state: State, cmd: Complete, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    reason = clerk_text(cmd.reason)
    if cmd.outcome is not None:
        allowed = {o.code: o for o in outcomes_of(state, t.service_id)}
        code = allowed.get(cmd.outcome)
        if code is None:
            svc = state.services[t.service_id]
            raise QueueError("unknown_outcome", f"{cmd.outcome[:40]!r} is not an outcome of {svc.name_en} "
                             f"(its outcomes: {', '.join(allowed)})", 422, outcomes=list(allowed))
        if code.reason_required and reason is None:
            raise QueueError("outcome_reason_required", f"the outcome {code.label_en!r} needs a reason: say why", 422,
                             outcome=code.code)
    _finish_current(state, counter, emit, cmd.outcome, reason)


def _park(state: State, cmd: ParkTicket, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    note = clerk_text(cmd.note)
    emit(TicketParked(**_ticket_data(state, t), **_counter_data(counter), clerk=cmd.clerk or counter.clerk,
                      note=note))


def _call_parked(state: State, cmd: CallParked, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    _require_open(counter)
    t = state.tickets.get(cmd.ticket_id)
    if t is None or t.state != TicketState.parked:
        raise QueueError("not_parked", "that ticket is not parked", 409)
    if t.service_id not in counter.services:
        svc = state.services[t.service_id]
        raise QueueError("not_this_counter", f"{t.number} is for {svc.name_en}, which counter {counter.name} "
                         "does not serve", 409)
    _call(state, counter, t, emit, cmd.clerk)


def _transfer(state: State, cmd: Transfer, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    target = _service(state, cmd.service_id, for_issue=True)
    if target.id == t.service_id:
        raise QueueError("same_service", f"{t.number} is already in {target.name_en}", 409)
    _refuse_served_again(state, t, (target.id,))
    emit(TicketTransferred(**_ticket_data(state, t), **_counter_data(counter),
         from_service_id=t.service_id, to_service_id=target.id))
    _transfer_takes_step(state, t, counter, emit)


def _cancel(state: State, cmd: CancelTicket, emit: _Emitter) -> None:
    t = state.tickets.get(cmd.ticket_id)
    if t is None:
        raise QueueError("unknown_ticket", "no such ticket", 404)
    if t.state in FINAL_TICKET_STATES:
        raise QueueError("ticket_final", f"{t.number} is already {t.state.value}", 409, **_refused_ticket(t))
    if t.state not in (TicketState.waiting, TicketState.parked):
        raise QueueError("ticket_at_counter", f"{t.number} is at a counter", 409, **_refused_ticket(t))
    emit(TicketCancelled(**_ticket_data(state, t), reason=cmd.reason))


def _reactivate(state: State, cmd: Reactivate, emit: _Emitter) -> None:
    t = state.tickets.get(cmd.ticket_id)
    if t is None:
        raise QueueError("unknown_ticket", "no such ticket", 404)
    if t.state != TicketState.no_show or t.no_show_at is None:
        raise QueueError("not_no_show", f"{t.number} is not a no-show", 409, **_refused_ticket(t))
    if emit.now - t.no_show_at > state.policy.reactivation_window_s:
        minutes = state.policy.reactivation_window_s // 60
        raise QueueError("window_passed", f"{t.number} missed its call over {minutes} minutes ago", 409)
    emit(TicketReactivated(**_ticket_data(state, t)))


def _refused_ticket(t: Ticket) -> dict[str, Any]:
    """What a refusal about a ticket tells the caller, so a channel can say it in the citizen's words:
    its number, its state and, when cancelled, whether the day's close cancelled it."""
    return {"number": t.number, "state": t.state.value,
            "at_close": t.state == TicketState.cancelled and t.cancel_reason in DAY_CLOSE_REASONS}


def _check_in(state: State, cmd: CheckIn, emit: _Emitter) -> None:
    t = state.tickets.get(cmd.ticket_id)
    if t is None:
        raise QueueError("unknown_ticket", "no such ticket", 404)
    if t.state == TicketState.no_show and not t.checked_in:
        _reactivate(state, Reactivate(t.id), emit)  # late, but within the window: back in line
    elif t.state != TicketState.waiting:
        raise QueueError("ticket_not_waiting", f"{t.number} is {t.state.value}", 409, **_refused_ticket(t))
    if t.checked_in:
        return
    emit(TicketCheckedIn(**_ticket_data(state, t)))


def _check_services(state: State, services: tuple[str, ...] | None) -> list[str] | None:
    if services is None:
        return None
    seen: list[str] = []
    for sid in services:
        _service(state, sid)
        if sid not in seen:
            seen.append(sid)
    if not seen:
        raise QueueError("no_services", "a counter needs at least one service", 422)
    return seen


def _open(state: State, cmd: OpenCounter, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    services = _check_services(state, cmd.services)
    if services is not None and services != counter.services:
        emit(CounterServicesChanged(**_counter_data(counter), services=tuple(services)))
    if counter.state == CounterState.open and (cmd.clerk is None or cmd.clerk == counter.clerk):
        return
    if cmd.clerk is not None:  # one clerk, one counter: moving here closes the counter they leave
        for other in state.counters.values():
            if other.id != counter.id and other.clerk == cmd.clerk and other.state != CounterState.closed:
                _close(state, CloseCounter(other.id), emit)
    if counter.state == CounterState.paused:
        emit(CounterResumed(**_counter_data(counter), clerk=cmd.clerk or counter.clerk))
        return
    emit(CounterOpened(**_counter_data(counter), services=tuple(counter.services),
         clerk=cmd.clerk))


def _pause(state: State, cmd: PauseCounter, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    if counter.state == CounterState.closed:
        raise QueueError("counter_closed", f"counter {counter.name} is closed", 409)
    if counter.state == CounterState.paused:
        return
    _leave_called(state, counter, emit, "counter_paused")
    _finish_current(state, counter, emit, None)
    emit(CounterPaused(**_counter_data(counter)))


def _resume(state: State, cmd: ResumeCounter, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    if counter.state == CounterState.closed:
        raise QueueError("counter_closed", f"counter {counter.name} is closed: open it", 409)
    if counter.state == CounterState.open:
        return
    emit(CounterResumed(**_counter_data(counter), clerk=counter.clerk))


def _close(state: State, cmd: CloseCounter, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    if counter.state == CounterState.closed:
        return
    _leave_called(state, counter, emit, "counter_closed")
    _finish_current(state, counter, emit, None)
    emit(CounterClosed(**_counter_data(counter)))


def _set_services(state: State, cmd: SetCounterServices, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    services = _check_services(state, cmd.services)
    if services is not None and services != counter.services:
        emit(CounterServicesChanged(**_counter_data(counter), services=tuple(services)))


def _feedback(state: State, cmd: GiveFeedback, emit: _Emitter) -> None:
    """One rating per ticket on the one scale: the first given stands, from whichever channel."""
    if cmd.rating not in set(Satisfaction):
        raise QueueError("bad_rating", f"a rating is one of {satisfaction_scale()}", 422)
    if cmd.ticket_id is not None:
        t = state.tickets.get(cmd.ticket_id)
        if t is None:
            raise QueueError("unknown_ticket", "no such ticket", 404)
    else:
        counter = _counter(state, cmd.counter_id or "")
        tid = counter.ticket_id or counter.last_ticket_id
        if tid is None or tid not in state.tickets:
            raise QueueError("nothing_to_rate", f"counter {counter.name} has served nobody yet", 409)
        t = state.tickets[tid]
    if t.state not in (TicketState.called, TicketState.serving, TicketState.done):
        raise QueueError("not_served", f"{t.number} has not been served", 409)
    if t.rating is not None:
        raise QueueError("already_rated", f"{t.number} was already rated {Satisfaction(t.rating).label()}: "
                         "the first rating stands", 409)
    emit(FeedbackGiven(**_ticket_data(state, t), counter_id=t.counter_id,
         clerk=t.clerk, rating=cmd.rating, comment=(cmd.comment or None)))


def _notice(state: State, cmd: SetNotice, emit: _Emitter) -> None:
    emit(NoticeChanged(notice_en=cmd.notice_en[:500], notice_sw=cmd.notice_sw[:500]))


def _reopen_day(state: State, cmd: ReopenDay, emit: _Emitter) -> None:
    if day_closed_reason(state, emit.now) is None:
        raise QueueError("day_open", "the day is open: there is nothing to reopen", 409)
    emit(DayReopened(day=state.day))


def _suspend(state: State, cmd: SuspendService, emit: _Emitter) -> None:
    svc = _service(state, cmd.service_id)
    reason_en, reason_sw = " ".join(cmd.reason_en.split())[:240], " ".join(cmd.reason_sw.split())[:240]
    if not reason_en or not reason_sw:
        raise QueueError("reason_required", "a suspension needs a reason for citizens in English and Kiswahili", 422)
    now = svc.suspension
    if now is not None and (now.reason_en, now.reason_sw) == (reason_en, reason_sw):
        return  # already suspended for that reason: nothing to tell anyone again
    emit(ServiceSuspended(service_id=svc.id, reason_en=reason_en, reason_sw=reason_sw,
                          waiting=len(state.queues.get(svc.id, {})), by=cmd.by))


def _resume_service(state: State, cmd: ResumeService, emit: _Emitter) -> None:
    svc = _service(state, cmd.service_id)
    if svc.suspension is not None:
        emit(ServiceResumed(service_id=svc.id, by=cmd.by))


def _close_day_cmd(state: State, cmd: CloseDay, emit: _Emitter) -> None:
    _close_day(state, emit, cmd.reason, next_day=None)


def _close_day(state: State, emit: _Emitter, reason: str, next_day: str | None) -> None:
    """Cancel what still waits, finish what is being served, close counters.

    A ticket only called (its service never started) is not served: it is cancelled
    with the rest, so "served today" counts only citizens a clerk actually served.
    """
    for c in list(state.counters.values()):
        if c.state != CounterState.closed:
            current = state.tickets.get(c.ticket_id or "")
            if current is not None and current.state == TicketState.serving:
                _finish_current(state, c, emit, "day_closed")
            emit(CounterClosed(**_counter_data(c)))
    cancelled = 0
    for t in sorted(state.tickets.values(), key=lambda t: t.seq):
        # a parked citizen who never came back by the close is cancelled with those still waiting
        if t.state in (TicketState.waiting, TicketState.called, TicketState.serving, TicketState.parked):
            emit(TicketCancelled(**_ticket_data(state, t), reason=reason))
            cancelled += 1
    emit(DayClosed(day=state.day, next_day=next_day, cancelled=cancelled, reason=reason))


# --------------------------------------------------------------------------
# One-stop visits (the rules are in queue/visits.py)
# --------------------------------------------------------------------------


def _check_plan(state: State, first: str, then: tuple[str, ...] | list[str], *, citizen: bool) -> None:
    problem = visits.plan_problem(state.services, first, then, citizen=citizen)
    if problem is not None:
        code, message, status = problem
        raise QueueError(code, message, status)


def _next_step(state: State, t: Ticket, emit: _Emitter, outcome: str | None) -> None:
    """A step done by a clerk: the ticket joins its next service's queue at once (not when the day's
    close finished it: the close then cancels it with the rest)."""
    rest = visits.remaining(t)
    if not rest or outcome in ("day_closed", "day_rollover", "closing_time", "closed_by_manager"):
        return
    place = state.policy.visit_place if state.policy.visit_place in visits.PLACES else "issue_time"
    emit(VisitStepQueued(ticket_id=t.id, number=t.number, service_id=rest[0], priority=t.priority,
                         from_service_id=t.service_id, next_services=tuple(rest[1:]), place=place))


def _transfer_takes_step(state: State, t: Ticket, counter: Counter, emit: _Emitter) -> None:
    """A transfer to a service the visit planned later takes that step now: it leaves the plan."""
    rest = visits.remaining(t)
    if t.service_id in rest:
        emit(VisitChanged(**_ticket_data(state, t), next_services=tuple(s for s in rest if s != t.service_id),
                          counter_id=counter.id, clerk=counter.clerk, reason="transfer"))


def _refuse_served_again(state: State, t: Ticket, services: tuple[str, ...]) -> None:
    """A visit serves each service once: a step already done is neither planned nor transferred to again."""
    done = {s.service_id for s in t.visit.done} if t.visit is not None else set()
    again = [sid for sid in services if sid in done]
    if again:
        raise QueueError("visit_step_done", f"{state.services[again[0]].name_en} was already served in this visit",
                         409)


def _change_visit(state: State, cmd: ChangeVisit, emit: _Emitter) -> None:
    counter = _counter(state, cmd.counter_id)
    t = _current(state, counter)
    new = tuple(cmd.next_services)
    _check_plan(state, t.service_id, new, citizen=False)
    _refuse_served_again(state, t, new)
    done = t.visit.done if t.visit is not None else []
    if len(done) + 1 + len(new) > visits.MAX_VISIT_SERVICES:
        raise QueueError("visit_too_long", f"a visit holds at most {visits.MAX_VISIT_SERVICES} services", 422)
    if list(new) == visits.remaining(t):
        return
    emit(VisitChanged(**_ticket_data(state, t), next_services=new, counter_id=counter.id,
                      clerk=cmd.clerk or counter.clerk, reason="clerk"))


def visit_wait(state: State, t: Ticket, now: float) -> int | None:
    """Seconds until the visit's last service is called; None when a step has no figure (``visit_wait_for``)."""
    return visit_wait_for(state, t, now)[0]


def visit_wait_for(state: State, t: Ticket, now: float) -> tuple[int | None, WaitUnknown | None, str | None]:
    """Seconds until the visit's last service is called: this step's wait, then for each later step
    the one before's typical service time and that queue's wait for the tickets ahead of it by the
    place rule. Each step's wait is the forecaster's own (``wait_for``), so a step whose counters are
    all paused has no figure here either: None, with why (``paused``, ``no_counter``, ``closed``) and
    the step's service id."""
    total, unknown = ticket_wait(state, t, now)
    if total is None or unknown is not None:
        return None, unknown or WaitUnknown.no_counter, t.service_id
    before = t.service_id
    by_issue = state.policy.visit_place != "joined"
    for sid in visits.remaining(t):
        total += int(state.predictor.mean_service_s.get(before, state.services[before].service_time_s))
        queue = state.queues.get(sid, {}).values()
        ahead = sum(1 for x in queue if not by_issue or (x.queued_at, x.seq) < (t.queued_at, t.seq))
        wait, why = wait_for(state, sid, ahead, now)
        if wait is None:
            return None, why or WaitUnknown.no_counter, sid
        total += wait
        before = sid
    return total, None, None


def _record_payment(state: State, cmd: RecordPayment, emit: _Emitter) -> None:
    t = state.tickets.get(cmd.ticket_id)
    if t is None:
        raise QueueError("unknown_ticket", "no such ticket today", 404)
    emit(PaymentUpdated(**_ticket_data(state, t), state=cmd.state, amount_ksh=cmd.amount_ksh, method=cmd.method,
                        receipt=cmd.receipt, reason=cmd.reason, by=cmd.by))


# each handler takes its own command type: the table is keyed by that type
_HANDLERS: dict[type[Any], Callable[[State, Any, _Emitter], None]] = {
    IssueTicket: _issue, CallNext: _call_next, CallTicket: _call_ticket, Recall: _recall,
    MarkNoShow: _no_show, StartService: _start, Complete: _complete, Transfer: _transfer,
    CancelTicket: _cancel, Reactivate: _reactivate, OpenCounter: _open, PauseCounter: _pause,
    ResumeCounter: _resume, CloseCounter: _close, SetCounterServices: _set_services,
    GiveFeedback: _feedback, SetNotice: _notice, CloseDay: _close_day_cmd, ReopenDay: _reopen_day,
    Tick: lambda state, cmd, emit: None, CheckIn: _check_in, SuspendService: _suspend,
    ResumeService: _resume_service, ParkTicket: _park, CallParked: _call_parked, ChangeVisit: _change_visit,
    RecordPayment: _record_payment,
}


# --------------------------------------------------------------------------
# Evolving: the one place state changes (also used to replay the event log)
# --------------------------------------------------------------------------


def _free_counter(state: State, counter_id: str | None, at: float) -> None:
    if counter_id and counter_id in state.counters:
        c = state.counters[counter_id]
        if c.ticket_id is not None:
            c.last_ticket_id = c.ticket_id
        c.ticket_id = None
        c.idle_since = at


def _push_hall(state: State, t: Ticket, c: Counter, ev: Event, recall: bool) -> None:
    state.hall.insert(0, {"number": t.number, "counter_id": c.id, "counter_name": c.name,
                          "service_id": t.service_id, "called_at": ev.at, "recall": recall,
                          "seq": ev.seq})
    del state.hall[HALL_CALLS_KEPT:]


def evolve(state: State, ev: Event) -> None:
    """Apply one event to the state. Deterministic; no checks (``apply`` made them)."""
    tid = ticket_of(ev.data) or ""
    before = state.tickets.get(tid)
    was_in = before.service_id if before is not None else None  # a waiting ticket sits in its service's queue
    _evolve(state, ev)
    t = state.tickets.get(tid)
    if t is not None:  # keep the service queues in step with the ticket's state
        if was_in is not None:
            state.queues.get(was_in, {}).pop(tid, None)
            state.specials.get(was_in, {}).pop(tid, None)
            state.passed_over.pop(tid, None)
        if t.state == TicketState.waiting:
            _enqueue(state, t)
    elif isinstance(ev.data, DayClosed) and ev.data.next_day:
        state.reindex()
    state.predictor.record(state, ev)  # arrivals, no-shows, abandonment, staffing: learned as they happen


def _evolve(state: State, ev: Event) -> None:
    state.last_seq = ev.seq
    at = ev.at
    d = ev.data
    t = state.tickets.get(d.ticket_id) if isinstance(d, TICKET_EVENT_MODELS) else None
    c = state.counters.get(d.counter_id or "") if isinstance(d, COUNTER_EVENT_MODELS) else None
    match d:
        case TicketIssued():
            svc = state.services[d.service_id]
            t = Ticket(id=d.ticket_id, day=d.day, seq=d.seq_no, number=d.number,
                       service_id=svc.id, priority=d.priority, channel=d.channel, language=d.language,
                       issued_at=at, queued_at=at, phone=d.phone,
                       idempotency_key=d.idempotency_key, device_id=d.device_id,
                       estimated_wait_s=d.estimated_wait_s, checked_in=d.checked_in,
                       slot_at=d.slot_at, appointment_id=d.appointment_id)
            state.tickets[t.id] = t
            state.numbers[svc.id] = max(state.numbers.get(svc.id, 0), d.seq_no)
            if t.idempotency_key:
                state.idempotency[t.idempotency_key] = t.id
        case TicketCalled():
            assert t is not None and c is not None
            t.state = TicketState.called
            t.called_at = at
            t.first_called_at = t.first_called_at or at
            t.counter_id = c.id
            t.clerk = d.clerk
            t.started_at = None
            t.parked_at = None
            c.ticket_id = t.id
            c.idle_since = None
            jumped = d.jumped if d.jumped is not None else t.priority not in (Priority.none, Priority.appointment)
            if jumped:
                c.priority_streak += 1
            else:
                c.priority_streak = 0
            _push_hall(state, t, c, ev, recall=False)
        case TicketRecalled():
            assert t is not None and c is not None
            t.recalls = d.recalls
            t.called_at = at
            _push_hall(state, t, c, ev, recall=True)
        case TicketStarted():
            assert t is not None
            t.state = TicketState.serving
            t.started_at = at
        case TicketDone():
            assert t is not None
            t.state = TicketState.done
            t.started_at = t.started_at or t.called_at
            t.ended_at = at
            t.outcome = d.outcome
            t.outcome_reason = d.reason
            if t.started_at is not None:
                state.predictor.observe(t.service_id, at - t.started_at, t.counter_id)
            _free_counter(state, t.counter_id, at)
        case TicketNoShow():
            assert t is not None
            t.state = TicketState.no_show
            t.no_show_at = at
            t.ended_at = at
            _free_counter(state, t.counter_id, at)
        case TicketTransferred():
            assert t is not None
            _free_counter(state, t.counter_id, at)
            t.transfers.append({"from": d.from_service_id, "to": d.to_service_id,
                                "counter_id": t.counter_id, "at": at})
            t.service_id = d.to_service_id
            t.state = TicketState.waiting
            t.counter_id = None
            t.called_at = None
            t.started_at = None
            t.recalls = 0
        case TicketCancelled():
            assert t is not None
            at_counter = t.state in (TicketState.called, TicketState.serving)  # not waiting, not parked
            _free_counter(state, t.counter_id if at_counter else None, at)
            t.state = TicketState.cancelled
            t.cancel_reason = d.reason
            t.ended_at = at
        case TicketReactivated():
            assert t is not None
            t.state = TicketState.waiting
            t.no_show_at = None
            t.ended_at = None
            t.counter_id = None
            t.called_at = None
            t.recalls = 0
            t.passed_over_at = None  # back in line: passed over afresh (a new grace) if it reaches the front unchecked
        case TicketParked():
            assert t is not None
            _free_counter(state, t.counter_id, at)
            t.state = TicketState.parked
            t.parked_at = at
            t.park_note = d.note
            t.started_at = None
        case TicketCheckedIn():
            assert t is not None
            t.checked_in = True
        case TicketPassedOver():
            assert t is not None
            t.passed_over_at = at
        case VisitPlanned():
            assert t is not None
            visits.begin(t, d.next_services, at)
        case VisitChanged():
            assert t is not None
            visits.change(t, d.next_services)
        case VisitStepQueued():
            assert t is not None
            visits.advance(t, d.service_id, d.next_services, at, d.place)
        case FeedbackGiven():
            assert t is not None
            t.rating = d.rating
            t.comment = d.comment
        case CounterOpened():
            assert c is not None
            c.state = CounterState.open
            c.clerk = d.clerk
            c.idle_since = at
            c.priority_streak = 0
        case CounterResumed():
            assert c is not None
            c.state = CounterState.open
            c.idle_since = c.idle_since or at
        case CounterPaused():
            assert c is not None
            c.state = CounterState.paused
        case CounterClosed():
            assert c is not None
            c.state = CounterState.closed
            c.clerk = None
            c.idle_since = None
        case CounterServicesChanged():
            assert c is not None
            c.services = list(d.services)
        case NoticeChanged():
            state.notice_en = d.notice_en
            state.notice_sw = d.notice_sw
        case ServiceSuspended():
            if d.service_id in state.services:
                state.services[d.service_id].suspension = Suspension(d.reason_en, d.reason_sw, at, d.by)
        case ServiceResumed():
            if d.service_id in state.services:
                state.services[d.service_id].suspension = None
        case DayReopened():
            state.closed = None
            state.reopened = d.day
        case DayClosed():
            if d.next_day:
                state.reopened = None
            state.closed = None if d.next_day else (
                "closing_time" if d.reason == "closing_time" else "closed_by_manager")
            if d.next_day:
                state.day = d.next_day
                state.numbers = {}
                state.hall = []
                state.earlier_keys, state.idempotency = state.idempotency, {}
                # the old day's tickets are final now: out of memory (storage writes them from retired)
                state.retired.update({k: v for k, v in state.tickets.items() if v.state in FINAL_TICKET_STATES})
                state.tickets = {k: v for k, v in state.tickets.items()
                                 if v.state not in FINAL_TICKET_STATES}
                for counter in state.counters.values():
                    counter.last_ticket_id = None


def new_state(services: list[Service], counters: list[Counter], policy: Policy | None = None) -> State:
    state = State(policy=policy or Policy(), services={s.id: s for s in services},
                  counters={c.id: replace(c, services=list(c.services)) for c in counters})
    for s in services:
        state.predictor.prime(s.id, s.service_time_s)
    return state
