"""The centre's contract: every MQTT topic, every payload and every HTTP shape.

Kiosk, display, bridge and provisioning import this module and nothing else of
the server, so it depends on pydantic and the standard library only. A topic
string or a payload field written anywhere else is a bug: change it here.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_PREFIX = "/api/v1"
# What a demo centre (demo = true, no [upstream] hq_url) and `huduma-hq --demo` on the same machine
# agree on: where headquarters listens and the centre's token. Never used outside demos.
DEMO_HQ_URL = "http://127.0.0.1:8100"
DEMO_HQ_TOKEN = "demo-centre-token-not-secret"


def demo_hq_token(centre_id: str) -> str:
    """The public token a demo centre uses with the demo headquarters: one per centre id (a second demo centre)."""
    return DEMO_HQ_TOKEN if centre_id == "demo" else f"{DEMO_HQ_TOKEN}-{centre_id}"
# Sent by a centre with every request to headquarters: a random id made once per install (its database), so
# headquarters can refuse a second server speaking with the same centre id (hq/README.md "One server per centre").
INSTALL_HEADER = "X-Huduma-Install"
TOPIC_ROOT = "huduma"  # every centre's topics live under huduma/{centre_id}
QOS = 1


# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------


class Priority(StrEnum):
    """Priority classes called ahead of normal tickets (docs/design.md §3)."""

    none = "none"
    elderly = "elderly"  # 60 and over
    disability = "disability"  # living with a disability
    expectant = "expectant"  # expectant or nursing mother
    appointment = "appointment"  # booked slot, checked in within its window


class Channel(StrEnum):
    kiosk = "kiosk"
    web = "web"
    sms = "sms"
    ussd = "ussd"
    staff = "staff"


class Language(StrEnum):
    en = "en"
    sw = "sw"


class TicketState(StrEnum):
    waiting = "waiting"
    called = "called"
    serving = "serving"
    done = "done"
    no_show = "no_show"
    cancelled = "cancelled"
    transferred = "transferred"
    parked = "parked"  # sent to fetch a document: off the counter, out of the queue, called back by a clerk


FINAL_TICKET_STATES = frozenset({TicketState.done, TicketState.no_show, TicketState.cancelled})


class CounterState(StrEnum):
    closed = "closed"
    open = "open"
    paused = "paused"


class Role(StrEnum):
    kiosk = "kiosk"
    display = "display"
    bridge = "bridge"
    clerk = "clerk"
    manager = "manager"
    admin = "admin"


DEVICE_ROLES = frozenset({Role.kiosk, Role.display, Role.bridge})
STAFF_ROLES = frozenset({Role.clerk, Role.manager, Role.admin})


class EventType(StrEnum):
    """Types published on ``…/event/{type}`` (docs/design.md §5.4)."""

    ticket_issued = "ticket_issued"
    ticket_called = "ticket_called"
    ticket_recalled = "ticket_recalled"
    ticket_no_show = "ticket_no_show"
    ticket_done = "ticket_done"
    ticket_transferred = "ticket_transferred"
    counter_opened = "counter_opened"
    counter_closed = "counter_closed"
    day_closed = "day_closed"
    # every change of state has an event, so the log replays
    ticket_started = "ticket_started"
    ticket_cancelled = "ticket_cancelled"
    ticket_reactivated = "ticket_reactivated"
    counter_paused = "counter_paused"
    counter_resumed = "counter_resumed"
    counter_services_changed = "counter_services_changed"
    feedback_given = "feedback_given"
    notice_changed = "notice_changed"
    ticket_checked_in = "ticket_checked_in"
    day_reopened = "day_reopened"  # a manager undid a close (a mistaken closing time, say) until midnight
    service_suspended = "service_suspended"  # the centre stopped issuing for a service now, with a reason
    service_resumed = "service_resumed"
    ticket_parked = "ticket_parked"  # a clerk parked the called citizen (to fetch a document), with a note
    # one-stop visits: a ticket carrying several services (queue/visits.py)
    visit_planned = "visit_planned"  # the services after the first, chosen with the ticket
    visit_changed = "visit_changed"  # a clerk dropped, added or reordered the visit's remaining services
    visit_step_queued = "visit_step_queued"  # one service done: the ticket joined the next one's queue
    payment_updated = "payment_updated"  # a ticket's fee: pending, paid (receipt), failed, cash or waived
    # a remote ticket reached the front unchecked: kept in its place, told to check in within the grace
    ticket_passed_over = "ticket_passed_over"


class CounterAction(StrEnum):
    """Actions a keypad or clerk device may send on ``cmd/counter/{id}``."""

    call_next = "call_next"
    recall = "recall"
    no_show = "no_show"
    complete = "complete"
    pause = "pause"
    resume = "resume"


class WaitUnknown(StrEnum):
    """Why a service or ticket has no estimated wait (``estimated_wait_s`` is null).

    An estimate is never invented: when nobody can serve a citizen today, every
    screen says so instead of printing a number.
    """

    no_counter = "no_counter"  # no open counter serves it, and none is due to open before closing
    closed = "closed"  # the centre has closed for the day
    # no open counter serves it, but one that does is paused (a clerk on a break, expected back): no figure is
    # made up for when they return, and no screen says "no counter" either
    paused = "paused"


class IssueRefusal(StrEnum):
    """Why a service takes no new ticket now (the API answers 409 with this code)."""

    day_closed = "day_closed"  # after closing time, or a manager closed the day
    after_last_call = "after_last_call"  # a newcomer would not be called before the last call time
    service_disabled = "service_disabled"
    service_suspended = "service_suspended"  # suspended by the centre now; the reason is in the catalogue offering


def unserved_today(figures: Any) -> bool:
    """Refused as too late because no counter serves the service for the rest of today (none open or on a
    break, none planned before the last call), not because the queue is too long to call a newcomer: what
    every channel says instead of "no more tickets" alone, which reads as a refusal without a reason.
    ``figures``: a service's figures as a dict (the engine's) or an object (a device's copy of them)."""

    def field(name: str) -> Any:
        value = figures.get(name) if isinstance(figures, dict) else getattr(figures, name, None)
        return getattr(value, "value", value)

    return (field("refusal") == IssueRefusal.after_last_call and field("estimated_wait_s") is None
            and field("wait_unknown") == WaitUnknown.no_counter)


class Satisfaction(IntEnum):
    """How satisfied a citizen was: the one scale of every channel, 1 the worst, 4 the best.

    The web form, SMS replies, the feedback unit (its buttons through
    ``FEEDBACK_BUTTONS``), reports, the board and HQ all speak it. A ticket takes
    one rating: the first given stands, a later one from any channel is refused
    (``already_rated``).
    """

    poor = 1
    fair = 2
    good = 3
    excellent = 4

    def label(self, lang: str = "en") -> str:
        """The word: Poor, Fair, Good, Excellent / Mbaya, Wastani, Nzuri, Bora sana."""
        return SATISFACTION_LABELS[self][1 if lang == "sw" else 0]

    def feeling(self, lang: str = "en") -> str:
        """The face on the feedback unit: very unhappy ... very happy."""
        return SATISFACTION_FEELINGS[self][1 if lang == "sw" else 0]


SATISFACTION_LABELS: dict[Satisfaction, tuple[str, str]] = {  # (English, Kiswahili)
    Satisfaction.poor: ("Poor", "Mbaya"),
    Satisfaction.fair: ("Fair", "Wastani"),
    Satisfaction.good: ("Good", "Nzuri"),
    Satisfaction.excellent: ("Excellent", "Bora sana"),
}
SATISFACTION_FEELINGS: dict[Satisfaction, tuple[str, str]] = {
    Satisfaction.poor: ("very unhappy", "sijafurahi kabisa"),
    Satisfaction.fair: ("unhappy", "sijafurahi"),
    Satisfaction.good: ("happy", "nimefurahi"),
    Satisfaction.excellent: ("very happy", "nimefurahi sana"),
}
# The feedback unit's four buttons as numbered on the unit and sent in its RATE frame
# (button 1, on GP10, is the very happy face). Only the bridge turns a button into the scale.
FEEDBACK_BUTTONS: dict[int, Satisfaction] = {
    1: Satisfaction.excellent, 2: Satisfaction.good, 3: Satisfaction.fair, 4: Satisfaction.poor,
}


def satisfaction_scale(lang: str = "en") -> str:
    """The scale in one line, worst first: "1 Poor, 2 Fair, 3 Good, 4 Excellent"."""
    return ", ".join(f"{s.value} {s.label(lang)}" for s in Satisfaction)


def satisfaction_range(lang: str = "en") -> str:
    """The scale's two ends, for a figure's label: "1 Poor – 4 Excellent"."""
    worst, best = min(Satisfaction), max(Satisfaction)
    return f"{worst.value} {worst.label(lang)} – {best.value} {best.label(lang)}"


class Availability(StrEnum):
    online = "online"
    offline = "offline"


class PrinterStatus(StrEnum):
    ok = "ok"
    paper_low = "paper_low"
    paper_out = "paper_out"
    cover_open = "cover_open"
    offline = "offline"
    error = "error"


# --------------------------------------------------------------------------
# Calendar words: every screen names a day the same way ("Monday 7 December" / "Jumatatu 7 Desemba")
# --------------------------------------------------------------------------

WEEKDAYS = {"en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
            "sw": ("Jumatatu", "Jumanne", "Jumatano", "Alhamisi", "Ijumaa", "Jumamosi", "Jumapili")}
MONTHS = {"en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December"),
          "sw": ("Januari", "Februari", "Machi", "Aprili", "Mei", "Juni", "Julai", "Agosti", "Septemba",
                 "Oktoba", "Novemba", "Desemba")}


def day_words(day: date, lang: str) -> str:
    """"Monday 7 December" / "Jumatatu 7 Desemba" (any language but Kiswahili reads English)."""
    lang = "sw" if str(lang) == "sw" else "en"
    return f"{WEEKDAYS[lang][day.weekday()]} {day.day} {MONTHS[lang][day.month - 1]}"


def wait_minutes(seconds: float) -> int:
    """An estimated wait in whole minutes, rounded up: one rule for the kiosk, the slip, the hall, the
    citizen page, SMS and USSD, so one ticket is never told 7 minutes on one and 8 on another."""
    return max(0, math.ceil(seconds / 60))


def clock_words(hour: int, minute: int, lang: str) -> str:
    """"08:00" / "saa 2 asubuhi (08:00)".

    Swahili time counts the hours from six (08:00 is "saa 2 asubuhi"); the 24-hour clock
    stays beside it so nobody reads "saa 2" as two o'clock.
    """
    clock = f"{hour:02d}:{minute:02d}"
    if str(lang) != "sw":
        return clock
    sw_hour = (hour - 6) % 12 or 12
    part = ("alfajiri" if 4 <= hour < 6 else "asubuhi" if 6 <= hour < 12 else "mchana" if 12 <= hour < 16
            else "jioni" if 16 <= hour < 19 else "usiku")
    said = f"saa {sw_hour}:{minute:02d}" if minute else f"saa {sw_hour}"
    return f"{said} {part} ({clock})"


OPENS_AGAIN = {"en": "It opens again on {day} at {time}.", "sw": "Kitafunguliwa tena {day} {time}."}


def opens_again(at: datetime, lang: str) -> str:
    """When a closed centre opens next, the same sentence on the kiosk, the hall, the pages, SMS and USSD:
    "It opens again on Monday 7 December at 08:00." / "Kitafunguliwa tena Jumatatu 7 Desemba saa 2
    asubuhi (08:00)." ``at`` is in the centre's local time (``DayStatePayload.opens_at``); plain ASCII,
    so an SMS or a USSD screen carries it as it is.
    """
    lang = "sw" if str(lang) == "sw" else "en"
    return OPENS_AGAIN[lang].format(day=day_words(at.date(), lang), time=clock_words(at.hour, at.minute, lang))


# --------------------------------------------------------------------------
# MQTT topics (docs/design.md §5)
# --------------------------------------------------------------------------


class TopicError(ValueError):
    """A topic that is not ours, or an id that would break the topic tree."""


def _check_id(value: str) -> str:
    if not value or any(ch in value for ch in "/+#\x00") or value != value.strip():
        raise TopicError(f"invalid id for a topic level: {value!r}")
    return value


class Topics:
    """Every topic of one centre, built from its base ``huduma/{centre_id}``.

    Publishing to a topic with ``+`` or ``#`` is refused by construction: ids are
    checked before they become topic levels.
    """

    def __init__(self, centre_id: str) -> None:
        self.centre_id = _check_id(centre_id)
        self.base = f"{TOPIC_ROOT}/{centre_id}"

    # retained
    @property
    def server_availability(self) -> str:
        return f"{self.base}/server/availability"

    def device_availability(self, device_id: str) -> str:
        return f"{self.base}/device/{_check_id(device_id)}/availability"

    def device_status(self, device_id: str) -> str:
        return f"{self.base}/device/{_check_id(device_id)}/status"

    def service_state(self, service_id: str) -> str:
        return f"{self.base}/state/service/{_check_id(service_id)}"

    def counter_state(self, counter_id: str) -> str:
        return f"{self.base}/state/counter/{_check_id(counter_id)}"

    @property
    def hall_state(self) -> str:
        return f"{self.base}/state/hall"

    @property
    def day_state(self) -> str:
        return f"{self.base}/state/day"

    @property
    def catalogue_state(self) -> str:
        """The national catalogue this centre runs, with its offerings (``contract.catalogue``)."""
        return f"{self.base}/state/catalogue"

    # not retained
    def event(self, event_type: str) -> str:
        return f"{self.base}/event/{_check_id(str(event_type))}"

    def cmd_counter(self, counter_id: str) -> str:
        return f"{self.base}/cmd/counter/{_check_id(counter_id)}"

    def cmd_feedback(self, counter_id: str) -> str:
        """Per counter, so the broker lets a bridge rate only its own counters (the payload cannot be checked)."""
        return f"{self.base}/cmd/feedback/{_check_id(counter_id)}"

    def reply(self, device_id: str) -> str:
        return f"{self.base}/reply/{_check_id(device_id)}"

    # subscriptions
    @property
    def all_service_states(self) -> str:
        return f"{self.base}/state/service/+"

    @property
    def all_counter_states(self) -> str:
        return f"{self.base}/state/counter/+"

    @property
    def all_events(self) -> str:
        return f"{self.base}/event/+"

    @property
    def all_counter_commands(self) -> str:
        return f"{self.base}/cmd/counter/+"

    @property
    def all_feedback(self) -> str:
        return f"{self.base}/cmd/feedback/+"

    @property
    def all_device_availability(self) -> str:
        return f"{self.base}/device/+/availability"

    @property
    def all_device_status(self) -> str:
        return f"{self.base}/device/+/status"

    def parse(self, topic: str) -> tuple[str, str | None]:
        """Split one of our topics into (kind, id).

        kind is one of ``server_availability``, ``device_availability``,
        ``device_status``, ``service_state``, ``counter_state``, ``hall_state``, ``day_state``, ``catalogue_state``,
        ``event``, ``cmd_counter``, ``cmd_feedback``, ``reply``.
        """
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            raise TopicError(f"not a topic of centre {self.centre_id}: {topic}")
        parts = topic[len(prefix):].split("/")
        match parts:
            case ["server", "availability"]:
                return "server_availability", None
            case ["device", dev, "availability"]:
                return "device_availability", dev
            case ["device", dev, "status"]:
                return "device_status", dev
            case ["state", "service", sid]:
                return "service_state", sid
            case ["state", "counter", cid]:
                return "counter_state", cid
            case ["state", "hall"]:
                return "hall_state", None
            case ["state", "day"]:
                return "day_state", None
            case ["state", "catalogue"]:
                return "catalogue_state", None
            case ["event", etype]:
                return "event", etype
            case ["cmd", "counter", cid]:
                return "cmd_counter", cid
            case ["cmd", "feedback", cid]:
                return "cmd_feedback", cid
            case ["reply", dev]:
                return "reply", dev
        raise TopicError(f"unknown topic: {topic}")


# --------------------------------------------------------------------------
# MQTT payloads
# --------------------------------------------------------------------------


class _Payload(BaseModel):
    """Payloads tolerate fields they do not know, so old devices survive new servers."""

    model_config = ConfigDict(extra="allow")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class ServiceStatePayload(_Payload):
    """Retained on ``state/service/{id}``: what a hall board shows per service."""

    service_id: str
    prefix: str
    name_en: str
    name_sw: str
    category: str = ""
    category_sw: str = ""
    enabled: bool = True
    waiting: int = 0
    # people a newcomer would have ahead: everyone the counters serving it may call first (every service they
    # share, in the hall or on the way); None from a server before it
    ahead: int | None = None
    estimated_wait_s: int | None = 0  # null: nobody can serve a newcomer today (see wait_unknown)
    wait_unknown: WaitUnknown | None = None
    accepting: bool = True  # false: a newcomer gets no ticket (see refusal)
    refusal: IssueRefusal | None = None
    longest_wait_s: int = 0
    open_counters: int = 0
    target_wait_s: int = 0
    updated_at: datetime | None = None


class DayStatePayload(_Payload):
    """Retained on ``state/day``: whether the centre takes tickets today, and when it opens next.

    ``open`` is false after ``[day] closing_time`` or once a manager closed the day;
    ``opens_at`` is the next opening moment (centre local time, with its offset).
    """

    day: str
    open: bool = True
    reason: Literal["closing_time", "closed_by_manager"] | None = None
    opening_time: str = ""  # "08:00", the centre's usual hours (empty: not configured)
    closing_time: str = ""  # "17:00"
    opens_at: datetime | None = None
    # the first day after today a booking can be made for (YYYY-MM-DD): between midnight and the
    # opening, ``opens_at`` is today, and today's last call may be past
    book_day: str = ""
    updated_at: datetime | None = None
    # ``opens_again(opens_at)`` in both languages: the manager's board shows it as it is
    opens_again_en: str = ""
    opens_again_sw: str = ""


class CounterStatePayload(_Payload):
    """Retained on ``state/counter/{id}``: what a counter's LED board and display show."""

    counter_id: str
    name: str
    state: CounterState
    services: list[str] = Field(default_factory=list)
    ticket: str | None = None  # the number now called or served, e.g. "B042"
    ticket_id: str | None = None  # the ticket's public id: never the secret id of its citizen page
    ticket_state: TicketState | None = None
    service_id: str | None = None
    called_at: datetime | None = None
    recalls: int = 0
    clerk: str | None = None
    updated_at: datetime | None = None


class HallCall(BaseModel):
    number: str
    counter_id: str
    counter_name: str
    service_id: str
    called_at: datetime
    recall: bool = False
    seq: int = 0


class HallNextStep(BaseModel):
    """A one-stop visit that moved on: its ticket finished one service and waits now, with the same number,
    for ``service_id``, served at ``counters`` (their names, open ones first; empty: no counter serves it)."""

    number: str
    service_id: str
    name_en: str
    name_sw: str
    counters: list[str] = Field(default_factory=list)
    joined_at: datetime | None = None  # when it joined this service's queue


class HallStatePayload(_Payload):
    """Retained on ``state/hall``: the last calls, newest first, and the notice line.

    ``next_steps``: the visits that moved on to their next service and wait for it, newest first (at most
    ``HALL_NEXT_STEPS``): the hall tells each citizen what comes next and where, until the number is called."""

    centre_name: str = ""
    calls: list[HallCall] = Field(default_factory=list)
    notice_en: str = ""
    notice_sw: str = ""
    updated_at: datetime | None = None
    next_steps: list[HallNextStep] = Field(default_factory=list)


HALL_NEXT_STEPS = 4  # a visit's next step stays on the hall board until called, the newest four at most


class EventPayload(_Payload):
    """Published on ``event/{type}``; extra fields depend on the type.

    Ticket events carry ``ticket_id`` (the public id, never the secret one), ``number``,
    ``service_id``, ``priority``;
    calls carry ``counter_id`` and ``counter_name``; transfers ``from_service_id``.
    """

    type: EventType
    seq: int
    at: datetime
    ticket_id: str | None = None
    number: str | None = None
    service_id: str | None = None
    counter_id: str | None = None
    counter_name: str | None = None
    priority: Priority | None = None


class CounterCommand(_Payload):
    """Sent on ``cmd/counter/{counter_id}`` by a bridge or a clerk device."""

    action: CounterAction
    request_id: str = Field(min_length=1, max_length=64)
    device_id: str | None = None  # where the reply goes: ``reply/{device_id}``
    outcome: str | None = None


class FeedbackCommand(_Payload):
    """Sent on ``cmd/feedback/{counter_id}`` by a counter's feedback unit (``counter_id`` repeats the topic's)."""

    counter_id: str
    rating: Satisfaction  # the scale, not the unit's button: the bridge maps FEEDBACK_BUTTONS
    request_id: str | None = None
    device_id: str | None = None


class Reply(_Payload):
    """Sent on ``reply/{device_id}`` for every command that named a device."""

    request_id: str
    status: Literal["ok", "error"]
    error: str | None = None
    data: dict[str, Any] | None = None


class DeviceStatusPayload(_Payload):
    """Retained on ``device/{id}/status``; kiosks set ``printer``, bridges their counters."""

    device_id: str
    kind: str
    printer: PrinterStatus | None = None
    detail: str | None = None
    updated_at: datetime | None = None


class BridgeStatusPayload(DeviceStatusPayload):
    """A bridge's retained status: its ports, the keypads and feedback units on them, and what went wrong.

    ``ports`` and ``unknown_devices`` are the serial lines' own snapshots; ``unknown_devices``
    lists the first few strangers only (the 4 KB budget), ``unknown_count`` counts them all.
    """

    detail_sw: str | None = None
    counters: list[str] = Field(default_factory=list)
    mqtt: Literal["connected", "disconnected"] = "disconnected"
    ports: list[dict[str, Any]] = Field(default_factory=list)
    devices_online: int = 0
    devices_total: int = 0
    unknown_devices: list[dict[str, Any]] = Field(default_factory=list)
    unknown_count: int = 0
    frame_errors: dict[str, int] = Field(default_factory=dict)
    port_errors: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)


# --------------------------------------------------------------------------
# HTTP shapes (docs/design.md §4)
# --------------------------------------------------------------------------

PHONE_PATTERN = r"^(\+?254|0)(7|1)\d{8}$"  # Kenyan mobile numbers: 07xx…, 01xx…, +2547xx…


class ErrorBody(BaseModel):
    code: str
    message: str
    # a refused issue (day_closed, after_last_call) says when to come back: ``opens_at``,
    # ``book_day`` (the next day a booking can be made), in the centre's local time
    opens_at: datetime | None = None
    book_day: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ServiceId = Annotated[str, Field(min_length=1, max_length=64)]


class IssueTicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, max_length=64)
    priority: Priority = Priority.none
    language: Language = Language.en
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    channel: Channel = Channel.kiosk
    # a one-stop visit: the services after this one, in order (at most three more; docs/design.md §3)
    then: list[ServiceId] = Field(default_factory=list, max_length=3)


class VisitStepOut(BaseModel):
    """One service of a one-stop visit as the citizen and the clerk see it."""

    service_id: str
    name_en: str
    name_sw: str
    state: Literal["done", "now", "next", "missed"]
    counters: list[str] = Field(default_factory=list)  # where: the names of the counters serving it (open first)


class TicketOut(BaseModel):
    id: str
    number: str
    service_id: str
    service_name_en: str
    service_name_sw: str
    priority: Priority
    channel: Channel
    language: Language
    state: TicketState
    issued_at: datetime
    position: int  # people ahead of this ticket (0 when called or finished)
    estimated_wait_s: int | None  # null: no counter can serve it today (see wait_unknown)
    wait_unknown: WaitUnknown | None = None
    status_url: str
    counter_id: str | None = None
    counter_name: str | None = None
    called_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    recalls: int = 0
    outcome: str | None = None
    rating: Satisfaction | None = None
    visit: list[VisitStepOut] | None = None  # a one-stop visit's services, done / now / next (None: one service)
    visit_wait_s: int | None = None  # until the visit's last service is called (null: unknown or no visit)
    # a visit with no whole-visit figure: why (``paused``: every counter of a step left is on a break) and which
    # step has none (a service id)
    visit_wait_unknown: WaitUnknown | None = None
    visit_wait_step: str | None = None
    # cancelled by the day's close (closing time, a manager's close, midnight), not by the citizen or a clerk
    cancelled_at_close: bool = False
    # a remote ticket passed over at the front before its citizen checked in: check in by then to keep the place
    check_in_by: datetime | None = None
    checked_in: bool = True  # False: a remote ticket whose citizen has not checked in at a kiosk


class ServiceOut(BaseModel):
    id: str
    prefix: str
    name_en: str
    name_sw: str
    category: str
    category_sw: str = ""
    target_wait_min: int
    typical_service_min: float
    enabled: bool
    waiting: int  # in the hall (checked in): README "Queue rules"
    on_the_way: int = 0  # web, SMS and USSD tickets not checked in yet (passed_over included)
    passed_over: int = 0  # of those, whose turn came before they checked in (called on check-in)
    ahead: int | None = None  # people a newcomer would have ahead (every service its counters share)
    estimated_wait_s: int | None  # null: no counter can serve a newcomer today (see wait_unknown)
    wait_unknown: WaitUnknown | None = None
    accepting: bool = True
    refusal: IssueRefusal | None = None
    longest_wait_s: int
    open_counters: int
    then: list[str] = Field(default_factory=list)  # services often taken next in one visit (the menu's order)


class TicketBrief(BaseModel):
    id: str
    number: str
    service_id: str
    state: TicketState
    called_at: datetime | None = None
    started_at: datetime | None = None
    issued_at: datetime
    recalls: int = 0
    # what the citizen was told at issue, so the clerk sees it too (and may ask them to confirm it)
    priority: Priority = Priority.none
    channel: Channel = Channel.kiosk
    language: Language = Language.en
    slot_at: datetime | None = None  # an appointment's booked time
    no_show_at: datetime | None = None  # when it was marked a no-show (re-activation has a window)


class TicketNumberRequest(BaseModel):
    """A ticket named by its printed number (``AR012``; ``ar 12`` is read the same)."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=16, pattern=r"^ *[A-Za-z]{1,4}[ -]?0*[0-9]{1,3} *$")


class NoShowsOut(BaseModel):
    """A counter's recent no-shows that may still be re-activated (within ``window_s`` of the no-show)."""

    window_s: int
    tickets: list[TicketBrief]


class CounterOut(BaseModel):
    id: str
    name: str
    state: CounterState
    services: list[str]
    serving: TicketBrief | None = None
    clerk: str | None = None
    idle_since: datetime | None = None
    # on an open: the names of the counters its clerk left, closed by this move (one clerk, one counter)
    left: list[str] = Field(default_factory=list)


class OpenCounterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[str] | None = Field(default=None, min_length=1, max_length=64)


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str | None = Field(default=None, max_length=200)
    # why (the service's outcome codes say which need one: "documents_missing" needs what is missing)
    reason: str | None = Field(default=None, max_length=200)


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=1, max_length=64)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginResponse(BaseModel):
    token: str
    role: Role
    expires_at: datetime


class HeadquartersLinkHealth(BaseModel):
    """One thread that talks to headquarters (catalogue-sync, live-feed, national-inbox, upstream-sender)."""

    name: str
    # off: no [upstream] hq_url (or interval 0); waiting: nothing heard yet (the sender: nothing sent yet);
    # ok: the last try got through; failing: it did not; stopped: the thread has ended
    state: Literal["off", "waiting", "ok", "failing", "stopped"]
    last_success_at: datetime | None = None
    last_error: str | None = None
    failing_since: datetime | None = None  # the first failed try of this run of failures
    failures: int = 0  # tries failed in a row
    next_try_at: datetime | None = None


class HeadquartersHealth(BaseModel):
    """The centre's links to headquarters: each one, and whether headquarters answers any of them."""

    reachable: bool  # false: a link is failing and none got through since (the board says so)
    unreachable_since: datetime | None = None
    links: list[HeadquartersLinkHealth] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok"]
    centre_id: str
    broker: Literal["connected", "disconnected", "cut_off"]  # cut_off: connected, but its own probes are lost
    broker_url: str
    seq: int
    catalogue_version: int | None = None  # the national catalogue version this centre runs (0: the shipped one)
    headquarters: HeadquartersHealth | None = None  # the links to headquarters (None: the app runs without them)


# --------------------------------------------------------------------------
# Device bundle: what provisioning hands a kiosk, display or bridge
# --------------------------------------------------------------------------


class DeviceBundle(BaseModel):
    """A device starts from this file alone (``huduma-provision add-device`` prints it)."""

    model_config = ConfigDict(extra="allow")

    centre_id: str
    centre_name: str
    device_id: str
    kind: Literal["kiosk", "display", "bridge"]
    role: Role
    token: str
    server_url: str
    mqtt_url: str
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    counters: list[str] = Field(default_factory=list)

    @property
    def topics(self) -> Topics:
        return Topics(self.centre_id)


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` -> (host, port); the port defaults to 1883."""
    rest = url.split("://", 1)[-1].rstrip("/")
    if "@" in rest:
        rest = rest.rsplit("@", 1)[1]
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "1883")
    return host or "127.0.0.1", int(port or 1883)


# The events' models live in their own module (they need the vocabulary above); one name space for users.
from centre_server.contract.channels import (  # noqa: E402
    AppointmentOut as AppointmentOut,
    CheckInRequest as CheckInRequest,
    CheckInResponse as CheckInResponse,
)
from centre_server.contract.events import (  # noqa: E402
    COUNTER_EVENT_MODELS as COUNTER_EVENT_MODELS,
    TICKET_EVENT_MODELS as TICKET_EVENT_MODELS,
    AnyEvent as AnyEvent,
    CounterClosed as CounterClosed,
    CounterEvent as CounterEvent,
    CounterOpened as CounterOpened,
    CounterPaused as CounterPaused,
    CounterResumed as CounterResumed,
    CounterServicesChanged as CounterServicesChanged,
    DayClosed as DayClosed,
    DayReopened as DayReopened,
    Event as Event,
    EventData as EventData,
    FeedbackGiven as FeedbackGiven,
    NoticeChanged as NoticeChanged,
    TicketAtCounter as TicketAtCounter,
    TicketCalled as TicketCalled,
    TicketCancelled as TicketCancelled,
    TicketCheckedIn as TicketCheckedIn,
    TicketDone as TicketDone,
    TicketEvent as TicketEvent,
    TicketIssued as TicketIssued,
    TicketNoShow as TicketNoShow,
    TicketReactivated as TicketReactivated,
    TicketRecalled as TicketRecalled,
    TicketStarted as TicketStarted,
    TicketTransferred as TicketTransferred,
    counter_of as counter_of,
    event_from_data as event_from_data,
    event_from_row as event_from_row,
    event_json as event_json,
    ticket_of as ticket_of,
)
