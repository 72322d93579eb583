"""The queue's things: services, counters, tickets and the rules' settings.

Plain data, shared by the engine (which changes them) and the wait estimator (which
reads them); neither imports the other's state for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from centre_server.contract import Channel, CounterState, Language, Priority, TicketState
from centre_server.queue.hours import OpeningHours

ALL_PRIORITY_CLASSES = frozenset(Priority) - {Priority.none}


@dataclass
class Service:
    id: str
    prefix: str
    name_en: str
    name_sw: str
    category: str = ""
    category_sw: str = ""
    target_wait_s: int = 1800
    service_time_s: float = 600.0  # typical, the predictor's starting point
    enabled: bool = True
    position: int = 0
    last_call_s: int | None = None  # local second of the day of its last call; None: the closing time
    offered: bool = True  # False: a national service this centre marked "not offered here"
    suspension: Suspension | None = None  # stopped issuing now (ServiceSuspended), with the reason
    outcomes: tuple[str, ...] = ()  # the outcome codes a clerk picks on completion (empty: DEFAULT_OUTCOMES)
    # the menu's own list, kept while the national catalogue's codes lead ``outcomes`` (runtime/national.py)
    menu_outcomes: tuple[str, ...] | None = None
    then: tuple[str, ...] = ()  # services often taken next in one visit, in the menu's order (queue/visits.py)


@dataclass(frozen=True)
class Suspension:
    """Why a service takes no new ticket now, in both languages, since when and by whom."""

    reason_en: str
    reason_sw: str
    since: float
    by: str | None = None


@dataclass
class Counter:
    id: str
    name: str
    services: list[str]  # in order of skill
    state: CounterState = CounterState.closed
    ticket_id: str | None = None
    clerk: str | None = None
    priority_streak: int = 0  # priority calls in a row, for the anti-starvation bound
    idle_since: float | None = None
    last_ticket_id: str | None = None  # the last ticket finished here, for feedback


@dataclass
class Ticket:
    id: str
    day: str
    seq: int
    number: str
    service_id: str
    priority: Priority
    channel: Channel
    language: Language
    issued_at: float
    queued_at: float  # the original issue time: transfers and reactivations keep it
    state: TicketState = TicketState.waiting
    phone: str | None = None
    called_at: float | None = None
    first_called_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    counter_id: str | None = None
    clerk: str | None = None
    recalls: int = 0
    transfers: list[dict[str, Any]] = field(default_factory=list)
    outcome: str | None = None
    rating: int | None = None
    comment: str | None = None
    no_show_at: float | None = None
    cancel_reason: str | None = None
    idempotency_key: str | None = None
    device_id: str | None = None
    estimated_wait_s: int | None = 0  # what was printed on the ticket (None: no counter could serve it)
    checked_in: bool = True  # remote tickets (web, SMS, USSD) check in at a kiosk on arrival
    slot_at: float | None = None  # an appointment's booked time
    appointment_id: str | None = None
    outcome_reason: str | None = None  # the clerk's words for an outcome code that needs them
    parked_at: float | None = None  # parked (sent to fetch a document) since
    park_note: str | None = None
    visit: VisitPlan | None = None  # several services on this ticket (queue/visits.py); None: one service
    # a remote ticket that reached the front unchecked (TicketPassedOver): kept in its place, not called,
    # until its citizen checks in or the check-in grace runs out
    passed_over_at: float | None = None


@dataclass
class Policy:
    """Configurable rules of call-next and no-show (centre.toml ``[queue]``)."""

    priority_streak_limit: int = 3  # after this many priority calls in a row, one normal
    prefer_breached_target: bool = False  # serve services over their target wait first
    call_order: str = "longest_wait"  # or "skill_order": the counter's first service first
    min_recalls_before_no_show: int = 0  # a no-show before this many recalls is refused
    auto_no_show_after_recalls: int = 3  # the recall after this many marks a no-show
    reactivation_window_s: int = 1800  # a no-show may come back within this window
    complete_on_call_next: bool = True  # calling next finishes the ticket at the counter
    appointment_early_s: int = 600  # an appointment goes ahead of walk-ins from this long before its slot
    timezone: str = "Africa/Nairobi"
    hours: OpeningHours = field(default_factory=OpeningHours)
    phone_retention_days: int = 0  # a closed day's phone numbers are kept this many days, then erased
    # the national queue standards (headquarters' catalogue): the priority classes a ticket may carry,
    # and the share of citizens to be called within each service's target wait
    priority_classes: frozenset[Priority] = ALL_PRIORITY_CLASSES
    target_share: float = 0.8
    # a visit's next service: "issue_time" keeps the place its first issue gave it; "joined" goes to the back
    visit_place: str = "issue_time"
    # a demo centre's cap on every service's target wait (0: none): its board turns red and the breach SMS
    # goes within minutes of a queue forming, not after the national half hour (config: target_wait_cap_min)
    target_wait_cap_s: int = 0
    # a remote ticket passed over at the front unchecked keeps its place this long for its citizen to check in,
    # then it is a no-show (config: check_in_grace_min)
    check_in_grace_s: int = 900


@dataclass(frozen=True)
class OutcomeCode:
    """One way a service can end at a counter, as the clerk picks it on completion (menu: outcomes.csv)."""

    code: str
    label_en: str
    label_sw: str
    reason_required: bool = False  # "documents missing" must say which: the clerk types it


# The codes every service had before menus listed their own (old logs name only these): a service with no
# ``outcomes`` of its own offers them. "served" is what a plain completion records.
DEFAULT_OUTCOMES: tuple[str, ...] = ("served", "documents_missing", "referred", "not_eligible")
BUILTIN_OUTCOME_CODES: dict[str, OutcomeCode] = {o.code: o for o in (
    OutcomeCode("served", "Served", "Amehudumiwa"),
    OutcomeCode("documents_missing", "Documents missing", "Hati hazijakamilika", reason_required=True),
    OutcomeCode("referred", "Referred elsewhere", "Amepelekwa kwingine"),
    OutcomeCode("not_eligible", "Could not be served", "Hakuweza kuhudumiwa", reason_required=True),
)}


@dataclass
class VisitStep:
    """One service of a visit, finished: where, by whom and when (reports and the clerk's plan read it)."""

    service_id: str
    joined_at: float
    counter_id: str | None = None
    clerk: str | None = None
    called_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None


@dataclass
class VisitPlan:
    """A ticket's one-stop visit: the steps done, the one now (the ticket's ``service_id``), the rest.

    ``first_service`` gave the number (A001 stays A001 at every step); ``joined_at`` is when the
    ticket joined the current step's queue (its wait there is measured from it).
    """

    first_service: str
    next: list[str] = field(default_factory=list)
    done: list[VisitStep] = field(default_factory=list)
    joined_at: float | None = None
