"""The queue's events: one typed model per ``EventType``, with the fields each event carries.

The engine emits these, the server stores them (the events table's ``data`` column is
``to_data()`` as JSON) and publishes them on ``…/event/{type}`` (``EventPayload``).
``to_data()`` keeps the keys, and their order, that the log and the devices have always
read, so stored JSON and MQTT payloads stay byte for byte what they were; ``event_from_data``
reads old rows back, giving the defaults older servers did not write.

They are frozen slotted dataclasses rather than pydantic models: the engine builds
several for every ticket, on the path a citizen waits on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from centre_server.contract import Channel, EventType, Language, Priority

_ENUM_FIELDS: dict[str, type[Priority] | type[Channel] | type[Language]] = {
    "priority": Priority, "channel": Channel, "language": Language}


class EventData:
    """What one event says; subclasses are the event types."""

    __slots__ = ()
    type: ClassVar[EventType]
    keys: ClassVar[tuple[str, ...]] = ()  # the stored keys, in the order they are written

    def to_data(self) -> dict[str, Any]:
        """The event's fields as the log stores them and devices read them (same keys, same order)."""
        return {k: getattr(self, k) for k in self.keys}




# --------------------------------------------------------------------------
# Ticket events
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketEvent(EventData):
    """What every event about one ticket carries (``ticket_id`` is the secret id)."""

    ticket_id: str
    number: str
    service_id: str
    priority: Priority


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketAtCounter(TicketEvent):
    """A ticket event that happens at a counter."""

    counter_id: str
    counter_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketIssued(EventData):
    """A ticket was printed or sent; ``people_ahead`` and ``estimated_wait_s`` are what it was told.
    ``position``: its place in its own service's queue (the estimate's input); ``people_ahead``: everyone the
    counters serving it may call first (None in events written before it was kept: ``position``)."""

    type: ClassVar[EventType] = EventType.ticket_issued
    ticket_id: str
    number: str
    seq_no: int
    day: str
    service_id: str
    priority: Priority
    channel: Channel
    language: Language
    phone: str | None = None
    idempotency_key: str | None = None
    device_id: str | None = None
    position: int = 0
    estimated_wait_s: int | None = 0
    checked_in: bool = True
    slot_at: float | None = None
    appointment_id: str | None = None
    people_ahead: int | None = None

    @property
    def told_ahead(self) -> int:
        """The people ahead the ticket said."""
        return self.position if self.people_ahead is None else self.people_ahead


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketCalled(TicketAtCounter):
    """``jumped``: the call went ahead of walk-ins (None in logs older than the field)."""

    type: ClassVar[EventType] = EventType.ticket_called
    clerk: str | None = None
    waited_s: int = 0
    jumped: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketRecalled(TicketAtCounter):
    type: ClassVar[EventType] = EventType.ticket_recalled
    recalls: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketStarted(TicketAtCounter):
    type: ClassVar[EventType] = EventType.ticket_started


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketDone(TicketAtCounter):
    type: ClassVar[EventType] = EventType.ticket_done
    outcome: str | None = None
    clerk: str | None = None
    reason: str | None = None  # the clerk's words, for an outcome code that needs them


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketNoShow(TicketAtCounter):
    """``reason``: "clerk", "recalls_exhausted" or "not_checked_in" (a passed-over remote ticket whose
    check-in grace ran out: ``counter_id`` and ``counter_name`` are then empty, no counter held it)."""

    type: ClassVar[EventType] = EventType.ticket_no_show
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketTransferred(TicketAtCounter):
    type: ClassVar[EventType] = EventType.ticket_transferred
    from_service_id: str
    to_service_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketCancelled(TicketEvent):
    """``reason``: the canceller's word, or "day_rollover"/"day_closed" when the day ended."""

    type: ClassVar[EventType] = EventType.ticket_cancelled
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketReactivated(TicketEvent):
    type: ClassVar[EventType] = EventType.ticket_reactivated


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketCheckedIn(TicketEvent):
    type: ClassVar[EventType] = EventType.ticket_checked_in


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackGiven(TicketEvent):
    type: ClassVar[EventType] = EventType.feedback_given
    counter_id: str | None = None
    clerk: str | None = None
    rating: int
    comment: str | None = None


# --------------------------------------------------------------------------
# Counter, hall and day events
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterEvent(EventData):
    counter_id: str
    counter_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterOpened(CounterEvent):
    type: ClassVar[EventType] = EventType.counter_opened
    services: tuple[str, ...]
    clerk: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterResumed(CounterEvent):
    type: ClassVar[EventType] = EventType.counter_resumed
    clerk: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterPaused(CounterEvent):
    type: ClassVar[EventType] = EventType.counter_paused


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterClosed(CounterEvent):
    type: ClassVar[EventType] = EventType.counter_closed


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterServicesChanged(CounterEvent):
    type: ClassVar[EventType] = EventType.counter_services_changed
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeChanged(EventData):
    type: ClassVar[EventType] = EventType.notice_changed
    notice_en: str
    notice_sw: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DayReopened(EventData):
    type: ClassVar[EventType] = EventType.day_reopened
    day: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DayClosed(EventData):
    """``next_day`` is set when midnight rolled the day over; ``cancelled`` counts what still waited."""

    type: ClassVar[EventType] = EventType.day_closed
    day: str
    next_day: str | None = None
    cancelled: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSuspended(EventData):
    """A service stopped issuing now (the agency's system is down, say); those waiting are told the reason."""

    type: ClassVar[EventType] = EventType.service_suspended
    service_id: str
    reason_en: str
    reason_sw: str
    waiting: int = 0  # how many tickets still waited for it when it was suspended
    by: str | None = None  # the manager who suspended it


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceResumed(EventData):
    """A suspended service issues again (also when a manager marks it not offered here: the suspension ends)."""

    type: ClassVar[EventType] = EventType.service_resumed
    service_id: str
    by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketParked(TicketAtCounter):
    """The clerk parked the called citizen (sent to fetch a document): the counter is free, the ticket
    waits off the queue until a clerk of its service calls it back (``ticket_called``)."""

    type: ClassVar[EventType] = EventType.ticket_parked
    clerk: str | None = None
    note: str | None = None


# --------------------------------------------------------------------------
# One-stop visits (several services on one ticket; rules in queue/visits.py)
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitPlanned(TicketEvent):
    """The services a ticket takes after its first one, in order (emitted right after ``ticket_issued``)."""

    type: ClassVar[EventType] = EventType.visit_planned
    next_services: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitChanged(TicketEvent):
    """The visit's remaining services after a clerk's change; ``reason``: "clerk" or "transfer"
    (a transfer to a planned service takes that step now)."""

    type: ClassVar[EventType] = EventType.visit_changed
    next_services: tuple[str, ...]
    counter_id: str | None = None
    clerk: str | None = None
    reason: str = "clerk"


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitStepQueued(TicketEvent):
    """A step was done: the ticket waits now for ``service_id`` (from ``from_service_id``); ``next_services``
    are the steps still after it. ``place``: "issue_time" (kept its place by its first issue) or "joined"."""

    type: ClassVar[EventType] = EventType.visit_step_queued
    from_service_id: str
    next_services: tuple[str, ...]
    place: str = "issue_time"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentUpdated(TicketEvent):
    """A ticket's fee changed state (``contract.payments.PaymentState``): the clerk and the citizen see it live.

    ``receipt`` is M-Pesa's receipt number once paid; ``reason`` a failure code (Daraja's ResultCode)
    or the clerk's words for cash or a waiver. No phone number: the event log keeps no phones.
    """

    type: ClassVar[EventType] = EventType.payment_updated
    state: str
    amount_ksh: int | None = None
    method: str | None = None
    receipt: str | None = None
    reason: str | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketPassedOver(TicketAtCounter):
    """A remote ticket (SMS, USSD, web) reached the front at ``counter_id``'s call before its citizen checked
    in: it keeps its place and is not a no-show; later tickets are called; the citizen is told to check in
    within ``grace_s``, after which it becomes a no-show (reason "not_checked_in")."""

    type: ClassVar[EventType] = EventType.ticket_passed_over
    grace_s: int


AnyEvent = (
    TicketIssued | TicketCalled | TicketRecalled | TicketStarted | TicketDone | TicketNoShow
    | TicketTransferred | TicketCancelled | TicketReactivated | TicketCheckedIn | FeedbackGiven
    | CounterOpened | CounterResumed | CounterPaused | CounterClosed | CounterServicesChanged
    | NoticeChanged | DayReopened | DayClosed | ServiceSuspended | ServiceResumed
    | TicketParked
    | VisitPlanned | VisitChanged | VisitStepQueued
    | PaymentUpdated
    | TicketPassedOver
)

_MODELS: dict[EventType, type[EventData]] = {}
for _model in AnyEvent.__args__:
    _model.keys = tuple(f.name for f in fields(_model))
    _MODELS[_model.type] = _model
assert set(_MODELS) == set(EventType), "every event type has its model"

# the events that name a ticket, and those that name a counter
TICKET_EVENT_MODELS = (TicketIssued, TicketEvent)
COUNTER_EVENT_MODELS = (TicketAtCounter, CounterEvent, FeedbackGiven)


@dataclass(slots=True)
class Event:
    """One numbered event of the log: when it happened and what it says."""

    seq: int
    at: float
    data: AnyEvent

    @property
    def type(self) -> EventType:
        return self.data.type


def ticket_of(data: EventData) -> str | None:
    """The ticket an event is about, if any."""
    return data.ticket_id if isinstance(data, TICKET_EVENT_MODELS) else None


def counter_of(data: EventData) -> str | None:
    """The counter an event names, if any."""
    return data.counter_id if isinstance(data, COUNTER_EVENT_MODELS) else None


def event_from_data(etype: EventType | str, data: dict[str, Any]) -> AnyEvent:
    """Read a stored event back; keys an older server did not write take their defaults,
    keys no longer written are left out."""
    model = _MODELS[EventType(etype)]
    known = {k: (_ENUM_FIELDS[k](v) if k in _ENUM_FIELDS and v is not None else v)
             for k, v in data.items() if k in model.keys}
    if "services" in known:
        known["services"] = tuple(known["services"])
    if "next_services" in known:
        known["next_services"] = tuple(known["next_services"])
    return model(**known)  # type: ignore[return-value]  # _MODELS holds exactly the AnyEvent classes


def event_from_row(seq: int, at: float, etype: str, data: str) -> Event:
    """An events-table row (``data`` as stored JSON) as an Event."""
    return Event(seq=seq, at=at, data=event_from_data(etype, json.loads(data)))


def event_json(data: EventData) -> str:
    """The JSON the events table stores for an event (compact, keys in their written order)."""
    return json.dumps(data.to_data(), separators=(",", ":"))
