"""The kiosk's state, observed by its screens.

A Kivy ``EventDispatcher`` so kv rules bind to it directly. Only the UI thread
changes it: MQTT and HTTP results arrive here through ``@mainthread`` /
``Clock.schedule_once`` in the app.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from kivy.event import EventDispatcher
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
)

from centre_server.contract import (
    DayStatePayload,
    IssueTicketRequest,
    Language,
    PrinterStatus,
    Priority,
    ServiceOut,
    ServiceStatePayload,
    TicketOut,
)
from centre_server.contract.catalogue import CatalogueService, CatalogueStatePayload, OfferingStatus, Text
from centre_server.contract.phone import compact_phone, phone_is_valid
from kiosk.api import CheckIn, new_idempotency_key
from kiosk.i18n import STRINGS, tr

logger = logging.getLogger(__name__)

_CHECKIN_CODE = re.compile(r"^\d{4,8}$")  # a remote ticket's 6 digits, a booking's 8 (the server takes 4-8)
CHECKIN_CODE_MAX = 8


@dataclass
class ServiceInfo:
    """What the kiosk knows of one service: names from HTTP or MQTT, waits from MQTT."""

    id: str
    prefix: str
    name_en: str
    name_sw: str
    category: str = ""
    category_sw: str = ""
    enabled: bool = True
    waiting: int = 0
    ahead: int | None = None  # people a newcomer's ticket would say are ahead (None: an older server's figures)
    estimated_wait_s: int | None = 0  # None: the server has no estimate, wait_unknown says why
    wait_unknown: str | None = None
    accepting: bool = True  # False: no ticket now, refusal says why (after_last_call: offer a booking)
    refusal: str | None = None
    open_counters: int = 0
    then: list[str] = field(default_factory=list)  # services often taken next in one visit (kiosk/visit.py)

    def name(self, language: str) -> str:
        return self.name_sw if str(language) == "sw" and self.name_sw else self.name_en


def _value(v: object) -> str | None:
    """An enum's value (or None), so the model holds plain strings kv rules can compare."""
    return None if v is None else str(getattr(v, "value", v))


def phone_display(text: str) -> str:
    """Digits grouped as people read them out: 0712 345 678, +254 712 345 678."""
    n = compact_phone(text)
    if n.startswith("+254") or n.startswith("254"):
        head, rest = (n[:4], n[4:]) if n.startswith("+") else (n[:3], n[3:])
        return " ".join([head, rest[:3], rest[3:6], rest[6:]]).strip()
    return " ".join([n[:4], n[4:7], n[7:]]).strip()


PHONE_MAX_DIGITS = 13  # "+254712345678": the longest a Kenyan mobile number is typed, compacted


def phone_keyed(entry: str, key: str) -> str:
    """A phone number as typed on the Keypad after one more key: the SMS phone, the M-Pesa phone and check-in
    by phone all type a number the same way ("<" erases, "+" only first, digits up to a whole number)."""
    if key == "<":
        return entry[:-1]
    if key == "+":
        return entry or "+"
    if key.isdigit() and len(compact_phone(entry)) < PHONE_MAX_DIGITS:
        return entry + key
    return entry


class KioskModel(EventDispatcher):
    """Services, language, the citizen's choices, the ticket, printer and server state."""

    language = OptionProperty(Language.en.value, options=[lang.value for lang in Language])
    strings = DictProperty(STRINGS.table(Language.en.value))
    services = DictProperty({})  # id -> ServiceInfo
    services_version = NumericProperty(0)  # bumped on every change of a service, for views
    services_loaded = BooleanProperty(False)
    server_ok = BooleanProperty(True)
    mqtt_ok = BooleanProperty(False)
    printer_status = StringProperty(PrinterStatus.ok.value)

    # the citizen's choices, cleared for the next citizen
    category = StringProperty(None, allownone=True)
    service_id = StringProperty(None, allownone=True)
    priority = StringProperty(Priority.none.value)
    phone = StringProperty("")
    visit_next = ListProperty([])  # a one-stop visit: the services after service_id, in order (kiosk/visit.py)
    visit_version = NumericProperty(0)  # bumped when visit_next changes, for views
    idempotency_key = StringProperty(None, allownone=True)
    issuing = BooleanProperty(False)
    issue_error = StringProperty("")

    # the ticket just issued, and whether paper came out
    ticket = ObjectProperty(None, allownone=True)
    printed = BooleanProperty(False)
    last_ticket = ObjectProperty(None, allownone=True)  # for the staff reprint
    last_language = StringProperty(Language.en.value)

    # checking in a remote ticket or a booking: by code or by phone number
    checkin_mode = OptionProperty("code", options=["code", "phone"])
    checkin_entry = StringProperty("")
    checking_in = BooleanProperty(False)
    checkin_error_en = StringProperty("")  # both languages, so the language switch also switches the error
    checkin_error_sw = StringProperty("")
    checkin_message_en = StringProperty("")  # the server's words on success
    checkin_message_sw = StringProperty("")
    checkin_tickets = ListProperty([])  # TicketOut, one or more (a phone may hold several)

    # the day: retained state/day, or a 409 day_closed from the server
    day = ObjectProperty(None, allownone=True)  # DayStatePayload
    day_open = BooleanProperty(True)
    # why the kiosk is out of service although the server answers ("" when it is not)
    device_fault = StringProperty("")  # "no_printer" | "dummy_printer" | "not_registered"
    # a booking offered instead of a ticket: the service and the day (ISO), from state/day or the 409
    book_service_id = StringProperty(None, allownone=True)
    book_day = StringProperty("")

    # the national catalogue as this centre runs it (retained state/catalogue, or GET /api/v1/catalogue);
    # None in the first seconds after boot: the journey then goes straight to the ticket, as before
    catalogue = ObjectProperty(None, allownone=True)  # CatalogueStatePayload
    # why the chosen service takes no ticket now (a suspension), in both languages; "" when not known
    suspended_en = StringProperty("")
    suspended_sw = StringProperty("")
    _catalogue_live = False  # a catalogue came over MQTT on this run

    def on_language(self, _inst: object, value: str) -> None:
        self.strings = STRINGS.table(value)

    def toggle_language(self) -> None:
        self.language = Language.sw.value if self.language == Language.en.value else Language.en.value

    # -- services ------------------------------------------------------------
    def set_services(self, services: list[ServiceOut]) -> None:
        """The full list from HTTP: names, categories, and waits as the server counts them now."""
        fresh = {}
        for s in services:
            fresh[s.id] = ServiceInfo(id=s.id, prefix=s.prefix, name_en=s.name_en, name_sw=s.name_sw,
                                      category=s.category, category_sw=getattr(s, "category_sw", "") or "",
                                      enabled=s.enabled, waiting=s.waiting, ahead=s.ahead,
                                      estimated_wait_s=s.estimated_wait_s, open_counters=s.open_counters,
                                      wait_unknown=_value(s.wait_unknown), accepting=s.accepting,
                                      refusal=_value(s.refusal), then=list(getattr(s, "then", []) or []))
        self.services = fresh
        self.services_loaded = True
        self.services_version += 1

    def apply_service_state(self, state: ServiceStatePayload) -> None:
        """A retained MQTT update: new waits for a known service, or a service seen first here."""
        info = self.services.get(state.service_id)
        if info is None:
            info = ServiceInfo(id=state.service_id, prefix=state.prefix, name_en=state.name_en,
                               name_sw=state.name_sw, category=state.category)
            self.services[state.service_id] = info
        info.prefix, info.name_en, info.name_sw = state.prefix, state.name_en, state.name_sw
        info.category = state.category or info.category
        info.category_sw = getattr(state, "category_sw", None) or info.category_sw
        info.enabled = state.enabled
        info.waiting = state.waiting
        info.ahead = state.ahead
        info.estimated_wait_s = state.estimated_wait_s
        info.wait_unknown = _value(state.wait_unknown)
        info.accepting, info.refusal = state.accepting, _value(state.refusal)
        info.open_counters = state.open_counters
        self.services_loaded = True
        self.services_version += 1

    def apply_day_state(self, day: DayStatePayload) -> None:
        """Retained state/day: a closed day issues nothing until it opens again."""
        self.day = day
        self.day_open = bool(day.open)

    def day_closed_by_server(self, opens_at: datetime | None) -> None:
        """The server refused a ticket with day_closed: closed until state/day says otherwise."""
        base = self.day
        self.day = DayStatePayload(day=base.day if base else (opens_at.date().isoformat() if opens_at else ""),
                                   open=False, reason=base.reason if base else "closing_time",
                                   opening_time=base.opening_time if base else "",
                                   closing_time=base.closing_time if base else "",
                                   opens_at=opens_at or (base.opens_at if base else None))
        self.day_open = False

    def next_open_day(self) -> str:
        """The day a booking is offered for: the server's first bookable day (after today), else the next opening."""
        if self.day is not None and self.day.book_day:
            return self.day.book_day
        if self.day is not None and self.day.opens_at is not None:
            return self.day.opens_at.date().isoformat()
        return ""

    # -- the national catalogue ------------------------------------------------
    def apply_catalogue(self, payload: CatalogueStatePayload, live: bool = True) -> None:
        """A catalogue from MQTT (``live``) or HTTP. The retained MQTT one is the truth once heard; an HTTP
        answer only fills in before it (first boot) or while the broker is out of reach."""
        if not live and self._catalogue_live and self.mqtt_ok:
            return
        self._catalogue_live = self._catalogue_live or live
        self.catalogue = payload
        self.services_version += 1

    def needs_of(self, service_id: str | None) -> CatalogueService | None:
        """The national text of a service (documents, fee ...), or None when the kiosk does not know it."""
        if self.catalogue is None or not service_id:
            return None
        info = self.catalogue.info(service_id)
        return info.service if info is not None else None

    def offering(self, service_id: str) -> str | None:
        """This centre's offering of a service (offered / not_offered / suspended), None when unknown."""
        info = self.catalogue.info(service_id) if self.catalogue is not None else None
        return info.offering.status.value if info is not None else None

    def suspension(self, service_id: str) -> tuple[bool, Text | None]:
        """(suspended now, the reason for citizens when known). The catalogue's offering says it, or the
        service's own retained state (``refusal: service_suspended``) before the catalogue is heard."""
        info = self.catalogue.info(service_id) if self.catalogue is not None else None
        if info is not None and info.offering.status == OfferingStatus.suspended:
            return True, info.offering.reason
        s = self.services.get(service_id)
        return bool(s is not None and not s.accepting and s.refusal == "service_suspended"), None

    def listed(self, s: ServiceInfo) -> bool:
        """A service the kiosk lists: enabled, and not marked "not offered here" in the catalogue."""
        return s.enabled and self.offering(s.id) != OfferingStatus.not_offered.value

    def suspend_choice(self, reason: Text | None, en: str = "", sw: str = "") -> None:
        """Say why the chosen service gives no ticket: the catalogue's reason, else the server's words."""
        if reason is not None:
            en, sw = reason.en, reason.sw
        self.suspended_en = en or tr("suspended_no_reason", "en")
        self.suspended_sw = sw or tr("suspended_no_reason", "sw")

    def categories(self) -> list[str]:
        """Categories with at least one listed service, in the order the centre lists them."""
        seen: list[str] = []
        for s in self.services.values():
            if self.listed(s) and s.category not in seen:
                seen.append(s.category)
        return seen

    def category_sw(self, category: str) -> str:
        """The Kiswahili name the server gave this category, if any."""
        for s in self.services.values():
            if s.category == category and s.category_sw:
                return s.category_sw
        return ""

    def services_in(self, category: str | None) -> list[ServiceInfo]:
        return [s for s in self.services.values()
                if self.listed(s) and (category is None or s.category == category)]

    @property
    def service(self) -> ServiceInfo | None:
        return self.services.get(self.service_id) if self.service_id else None

    # -- the citizen's journey -------------------------------------------------
    def reset_choices(self) -> None:
        """Forget the citizen: next one starts clean (the last ticket stays for reprint)."""
        self.category = None
        self.service_id = None
        self.visit_next = []
        self.priority = Priority.none.value
        self.phone = ""
        self.idempotency_key = None
        self.issuing = False
        self.issue_error = ""
        self.ticket = None
        self.printed = False
        self.checkin_mode = "code"
        self.checkin_entry = ""
        self.checking_in = False
        self.checkin_error_en = self.checkin_error_sw = ""
        self.checkin_message_en = self.checkin_message_sw = ""
        self.checkin_tickets = []
        self.book_service_id = None
        self.book_day = ""
        self.suspended_en = self.suspended_sw = ""

    def choose_service(self, service_id: str) -> None:
        self.service_id = service_id
        self.visit_next = []  # a new first service: a new visit

    # A different choice is a different ticket: it gets a new key at the next confirmation.
    def on_service_id(self, *_a: object) -> None:
        self.idempotency_key = None

    def on_priority(self, *_a: object) -> None:
        self.idempotency_key = None

    def on_phone(self, *_a: object) -> None:
        self.idempotency_key = None

    def begin_confirmation(self) -> str:
        """The key for this confirmation: made once, kept across taps and retries."""
        if not self.idempotency_key:
            self.idempotency_key = new_idempotency_key()
        return self.idempotency_key

    def issue_request(self) -> IssueTicketRequest:
        phone = compact_phone(self.phone) if self.phone else None
        return IssueTicketRequest(service_id=str(self.service_id), priority=Priority(self.priority),
                                  language=Language(self.language), phone=phone or None,
                                  then=list(self.visit_next))

    def ticket_issued(self, ticket: TicketOut) -> None:
        self.ticket = ticket
        self.last_ticket = ticket
        self.last_language = self.language
        self.issuing = False
        self.issue_error = ""

    # -- check-in ------------------------------------------------------------------
    def checkin_error(self, language: str) -> str:
        return self.checkin_error_sw if str(language) == "sw" else self.checkin_error_en

    def checkin_message(self, language: str) -> str:
        return self.checkin_message_sw if str(language) == "sw" else self.checkin_message_en

    def set_checkin_error(self, en: str, sw: str) -> None:
        self.checkin_error_en, self.checkin_error_sw = en, sw

    def set_checkin_mode(self, mode: str) -> None:
        """Code or phone: a different kind of entry starts empty."""
        if mode != self.checkin_mode:
            self.checkin_mode = mode
            self.checkin_entry = ""
        self.set_checkin_error("", "")

    def checkin_key(self, key: str) -> None:
        """One keypad key on the check-in screen."""
        self.set_checkin_error("", "")
        if self.checkin_mode == "phone":
            self.checkin_entry = phone_keyed(self.checkin_entry, key)
        elif key == "<":
            self.checkin_entry = self.checkin_entry[:-1]
        elif key.isdigit() and len(self.checkin_entry) < CHECKIN_CODE_MAX:
            self.checkin_entry += key

    def checkin_body(self) -> tuple[str | None, str | None]:
        """(code, phone) for the request; raises ValueError with the i18n key when the entry cannot be right."""
        if self.checkin_mode == "code":
            code = self.checkin_entry.strip()
            if not _CHECKIN_CODE.match(code):
                raise ValueError("checkin_code_invalid")
            return code, None
        if not phone_is_valid(self.checkin_entry):
            raise ValueError("phone_invalid")
        return None, compact_phone(self.checkin_entry)

    def refuse_checkin_entry(self, key: str) -> None:
        self.set_checkin_error(tr(key, "en"), tr(key, "sw"))

    def checkin_succeeded(self, result: CheckIn) -> None:
        self.checking_in = False
        self.set_checkin_error("", "")
        self.checkin_message_en, self.checkin_message_sw = result.message_en, result.message_sw
        self.checkin_tickets = list(result.tickets)
        self.ticket = result.tickets[0] if result.tickets else None
        if result.tickets:
            self.last_ticket = result.tickets[-1]
            self.last_language = self.language
