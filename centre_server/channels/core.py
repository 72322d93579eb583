"""The channels' logic, shared by the web pages, USSD, SMS and the kiosk check-in.

Every change of a ticket goes through ``centre.execute`` (the engine's rules);
this module adds what the engine does not know: check-in codes, caps on remote
tickets, appointments and their slots, and which SMS each event deserves.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from centre_server.channels.i18n import ascii_fit, localise, tr, wait_phrase
from centre_server.channels.info import SMS_LIMIT, sms_messages, suspension, unexplained_suspension
from centre_server.channels.settings import ChannelSettings
from centre_server.channels.sms import OutboxWorker, make_gateway
from centre_server.contract import (
    Channel,
    DayClosed,
    Event,
    IssueRefusal,
    Language,
    Priority,
    Satisfaction,
    TicketCalled,
    TicketCancelled,
    TicketDone,
    TicketEvent,
    TicketIssued,
    TicketNoShow,
    TicketState,
    TicketTransferred,
    opens_again,
    ticket_of,
    unserved_today,
)
from centre_server.contract.catalogue import CatalogueStatePayload, OfferingStatus, ServiceInfo, Text
from centre_server.contract.errors import Refusal
from centre_server.contract.events import PaymentUpdated, ServiceSuspended, TicketPassedOver, VisitStepQueued
from centre_server.contract.payments import PaymentOut, failure_reason
from centre_server.contract.phone import normalise_phone
from centre_server.payments.core import owed_back
from centre_server.payments.extension import attached
from centre_server.queue import engine, visits
from centre_server.queue.engine import QueueError
from centre_server.queue.model import Service, Ticket
from centre_server.runtime.centre import Centre, new_ticket_id
from centre_server.store import database as storage

logger = logging.getLogger(__name__)

# the close's own messages to citizens still waiting ("closed before your number", money owed back): their
# SMS kind, sent before the close erases the numbers, and the close reasons that send them (not the midnight
# roll-over of a centre without a closing time: nobody is texted at midnight)
CLOSE_SMS_KIND = "day_closed"
CLOSE_SMS_REASONS = frozenset({"day_closed", "closing_time"})

REMOTE_CHANNELS = (Channel.web, Channel.sms, Channel.ussd)
INFO_KEYWORDS = {"INFO": "en", "TAARIFA": "sw"}  # "INFO K" answers in English, "TAARIFA K" in Kiswahili
LANGUAGE_WORDS = {"en": "en", "english": "en", "kiingereza": "en", "sw": "sw", "swahili": "sw", "kiswahili": "sw"}
# A ticket whose fee the citizen may have chosen to pay now (the kiosk sends the M-Pesa prompt just after the
# ticket; /join in the same request) keeps its SMS this long: a prompt sent meanwhile makes the fee sentence
# say so, rather than invite a second payment on the ticket page while the first is on the phone
PROMPT_HOLD_S = 10.0
PROMPT_CHANNELS = (Channel.kiosk, Channel.web)
SUSPENSION_REASON_MAX = 150  # the suspension SMS stays within two messages with the longest reason
# a parked citizen (sent to fetch a document) still holds the ticket: "no ticket today" would be untrue
OPEN_STATES = (TicketState.waiting, TicketState.called, TicketState.serving, TicketState.parked)


class ChannelError(Refusal):
    """A request the channels refuse; ``key`` names the message in both languages.

    A refusal because of the centre's hours carries when to come back: ``opens_at``
    (local time) and ``book_day`` (the first day a visit can be booked for); ``no_counter``
    when it is because no counter serves the service for the rest of the day.
    """

    def __init__(self, status: int, code: str, key: str, *, opens_at: datetime | None = None,
                 book_day: date | None = None, service_id: str | None = None, no_counter: bool = False,
                 **kw: Any) -> None:
        super().__init__(status, code, tr(key, "en", **{k: localise("en", v) for k, v in kw.items()}))
        self.key = key
        self.kw = kw
        self.opens_at = opens_at
        self.book_day = book_day
        self.service_id = service_id
        self.no_counter = no_counter

    def message(self, lang: str) -> str:  # type: ignore[override]  # the words in either language
        return tr(self.key, lang, **{k: localise(lang, v) for k, v in self.kw.items()})

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message("en"), "message_sw": self.message("sw")}
        if self.opens_at is not None:
            err["opens_at"] = self.opens_at.isoformat()
        if self.book_day is not None:
            err["book_day"] = self.book_day.isoformat()
        return {"error": err}


def _parse_when(value: Any) -> datetime | None:
    """An ``opens_at`` as the engine or the API gives it (datetime or ISO text); None when absent or bad."""
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _parse_day(value: Any) -> date | None:
    """A ``book_day`` (date or "YYYY-MM-DD"); None when absent or bad."""
    if isinstance(value, date) or value is None:
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def refusal_error(code: str, opens_at: datetime | None, book_day: date | None,
                  service_id: str | None = None, bookable: bool = True, no_counter: bool = False) -> ChannelError:
    """The channels' answer to a refused issue: closed (come back at ``opens_at``) or too late (book, or,
    where the centre takes no bookings, come back on the next open day; ``book_day`` is then None).
    Too late because no counter serves the service for the rest of the day (``no_counter``) says so:
    "no more tickets" alone reads as if the citizen were refused for no reason."""
    if code == IssueRefusal.day_closed:
        opens = Text(en=opens_again(opens_at, "en"), sw=opens_again(opens_at, "sw")) if opens_at else None
        return ChannelError(409, code, "err_day_closed" if opens_at else "wait_closed_long", opens=opens,
                            opens_at=opens_at, book_day=book_day if bookable else None, service_id=service_id)
    why = "err_no_counter_today" if no_counter else "err_after_last_call"
    if not bookable:
        day = book_day or (opens_at.date() if opens_at else None)
        return ChannelError(409, code, why + ("_come" if day else "_none"), day=day or "-", opens_at=opens_at,
                            service_id=service_id, no_counter=no_counter)
    return ChannelError(409, code, why, day=book_day or "-", opens_at=opens_at,
                        book_day=book_day, service_id=service_id, no_counter=no_counter)


def suspended_error(service: Text, reason: Text, service_id: str | None = None) -> ChannelError:
    """The refusal of a suspended service on every channel: its name and the reason the centre gave."""
    return ChannelError(409, IssueRefusal.service_suspended, "err_suspended", service=service, reason=reason,
                        service_id=service_id)


def _reason_of(extra: dict[str, Any]) -> Text | None:
    """A suspension's reason as the engine's refusal carries it (``reason_en``/``reason_sw``, or ``reason``)."""
    r = extra.get("reason")
    if isinstance(r, Text):
        return r
    en, sw = (r.get("en"), r.get("sw")) if isinstance(r, dict) else (extra.get("reason_en"), extra.get("reason_sw"))
    try:
        return Text(en=en or sw, sw=sw or en) if (en or sw) else None
    except ValueError:
        return None


# "help already sent today" is kept per phone without the number (a closed day keeps none): a keyed hash
# whose key lives in this process only (a restart may send one help more)
_HELP_KEY = secrets.token_bytes(16)


def _phone_tag(phone: str) -> str:
    return hmac.new(_HELP_KEY, phone.encode(), hashlib.sha256).hexdigest()[:24]


# the first word of an SMS that says it is written in Kiswahili: the help goes back in Kiswahili
SWAHILI_GREETINGS = frozenset({"habari", "hujambo", "jambo", "mambo", "salama", "sasa", "shikamoo", "msaada",
                               "naomba", "tafadhali", "karibu", "asante", "niaje", "vipi"})


def _from_queue_error(err: QueueError, service_id: str | None = None) -> ChannelError:
    if err.code == IssueRefusal.service_suspended:
        reason = _reason_of(err.extra or {}) or unexplained_suspension()
        name = Text(en=service_id or "-", sw=service_id or "-")
        return suspended_error(name, reason, service_id)
    if err.code in (IssueRefusal.day_closed, IssueRefusal.after_last_call):
        extra = err.extra or {}
        return refusal_error(err.code, _parse_when(extra.get("opens_at")), _parse_day(extra.get("book_day")),
                             service_id)
    keys = {"unknown_service": (404, "err_service"), "service_disabled": (409, "err_service_closed"),
            "numbers_exhausted": (409, "err_numbers"), "visit_not_offered": (422, "err_visit"),
            "visit_too_long": (422, "err_visit"), "visit_repeats_service": (422, "err_visit")}
    status, key = keys.get(err.code, (err.status, ""))
    if key:
        return ChannelError(status, err.code, key)
    key, values = _refusal_words(err)
    return ChannelError(err.status, err.code, key, **values)


# a ticket's state, as a citizen who brings it back is told (the key's words say what to do next)
_TICKET_STATE_KEYS = {"cancelled": "refused_ticket_cancelled", "done": "refused_ticket_done",
                      "no_show": "refused_ticket_no_show", "called": "refused_ticket_at_counter",
                      "serving": "refused_ticket_at_counter", "parked": "refused_ticket_parked",
                      "transferred": "refused_ticket_at_counter", "waiting": "refused_ticket_waiting"}
# the engine's other refusals a citizen can meet, each in both languages; the rest are staff's
_REFUSAL_KEYS = {"unknown_ticket": "refused_unknown_ticket", "bad_rating": "refused_bad_rating",
                 "not_served": "feedback_not_yet", "nothing_to_rate": "feedback_not_yet",
                 "priority_not_allowed": "refused_priority", "duplicate_ticket_id": "refused_duplicate",
                 "visit_step_done": "err_visit", "same_service": "err_visit", "no_services": "err_service"}


def _refusal_words(err: QueueError) -> tuple[str, dict[str, Any]]:
    """The strings key (and its values) for an engine refusal: never the engine's English in a Kiswahili answer."""
    extra = err.extra or {}
    number = str(extra.get("number") or "")
    if number and extra.get("state"):
        if extra.get("at_close"):
            return "refused_ticket_closed_day", {"number": number}
        return _TICKET_STATE_KEYS.get(str(extra["state"]), "refused_ticket_at_counter"), {"number": number}
    return _REFUSAL_KEYS.get(err.code, "refused_other"), {}


@dataclass
class CheckInResult:
    ticket: Ticket
    kind: str  # "ticket" or "appointment"
    already: bool = False


class ChannelHub:
    """The channels of one running centre (``ChannelsExtension.hub``)."""

    def __init__(self, centre: Centre, settings: ChannelSettings, directory: Path) -> None:
        self.centre = centre
        self.settings = settings
        self.db = centre.db
        self.public_url = centre.settings.public_url.rstrip("/")
        self.worker = OutboxWorker(self.db, make_gateway(settings, directory, centre.tz), settings,
                                   periodic=[(settings.release_every_s, self.release_missed)], clock=centre.clock)
        centre.listeners.append(self.on_events)
        centre.before_phones_erased.append(self.send_before_erasure)
        self.told_at_close: dict[str, tuple[int, int]] = {}  # day -> (close messages sent, not sent)

    def start(self) -> None:
        self.release_missed()
        self.worker.start()

    def stop(self) -> None:
        if self.on_events in self.centre.listeners:
            self.centre.listeners.remove(self.on_events)
        if self.send_before_erasure in self.centre.before_phones_erased:
            self.centre.before_phones_erased.remove(self.send_before_erasure)
        self.worker.stop()

    def send_before_erasure(self, day: str) -> None:
        """The close is about to erase the day's phone numbers: the messages it queued itself (the centre
        closed before your number, money owed back) get their attempt now, while the numbers exist."""
        self.worker.flush(CLOSE_SMS_KIND)
        # what went, by the flush or by the worker's own round just before it (a phone still on its row is
        # this close's: earlier days' numbers are erased)
        sent, left = self.db.execute(
            "SELECT COUNT(*) FILTER (WHERE sent_at IS NOT NULL), "
            "COUNT(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL) "
            "FROM sms_outbox WHERE kind=? AND phone != ''", [CLOSE_SMS_KIND]).fetchone()
        self.told_at_close[day] = (sent, left)
        logger.info("day %s closes: %s message(s) to citizens still waiting sent before their numbers go",
                    day, sent)
        if left:
            logger.warning("day %s closes: %s message(s) to citizens still waiting not sent (the SMS gateway did "
                           "not take them); their numbers are erased now", day, left)

    def now(self) -> float:
        return self.centre.clock()

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.centre.tz)

    # ------------------------------------------------------------ services

    def services(self, catalogue: CatalogueStatePayload | None = None) -> list[Service]:
        """The menu's services this centre offers (a suspended one included: it says why it takes no ticket);
        ``catalogue``: the one already read for this answer."""
        hidden = {i.service.id for i in (catalogue or self.catalogue()).services
                  if i.offering.status == OfferingStatus.not_offered}
        with self.centre.lock:
            return sorted((s for s in self.centre.state.services.values() if s.enabled and s.id not in hidden),
                          key=lambda s: (s.position, s.id))

    def catalogue(self) -> CatalogueStatePayload:
        """The national catalogue this centre runs, with its offering of each service."""
        return self.centre.catalogue_payload()

    def info(self, service_id: str) -> ServiceInfo | None:
        """What a citizen needs for the service (documents, fee, who), or None when the catalogue lacks it."""
        return self.catalogue().info(service_id)

    def name_text(self, svc: Service) -> Text:
        return Text(en=svc.name_en or svc.id, sw=svc.name_sw or svc.name_en or svc.id)

    def suspended(self, service_id: str, info: ServiceInfo | None = None) -> ChannelError | None:
        """The refusal of a service suspended here now, with its reason; None when it is not suspended."""
        reason = suspension(info if info is not None else self.info(service_id))
        if reason is None:
            return None
        svc = self.service(service_id)
        name = self.name_text(svc) if svc else Text(en=service_id, sw=service_id)
        return suspended_error(name, reason, service_id)

    def service(self, service_id: str) -> Service | None:
        with self.centre.lock:
            return self.centre.state.services.get(service_id)

    def figures(self, service_id: str) -> dict[str, Any]:
        """The engine's figures for a newcomer: waiting, ``estimated_wait_s`` (None: see ``wait_unknown``),
        ``accepting`` and ``refusal``."""
        with self.centre.lock:
            return engine.service_figures(self.centre.state, service_id, self.now())

    def wait_text(self, lang: str, figures: dict[str, Any], long: bool = False) -> str:
        return wait_phrase(lang, figures.get("estimated_wait_s"), figures.get("wait_unknown"), long)

    def closed(self) -> tuple[str | None, datetime | None, date | None]:
        """(why the centre takes no ticket now or None, when it opens next, the first day to book for)."""
        with self.centre.lock:
            state, now = self.centre.state, self.now()
            return (engine.day_closed_reason(state, now), engine.opens_at(state, now),
                    date.fromisoformat(engine.book_day(state, now)))

    def refusal(self, service_id: str, figures: dict[str, Any] | None = None) -> ChannelError | None:
        """Why a newcomer would get no ticket for the service now (suspended, closed, after its last call), or None."""
        f = figures if figures is not None else self.figures(service_id)
        code = f.get("refusal")
        stopped = self.suspended(service_id)
        if stopped is not None:
            return stopped
        if code not in (IssueRefusal.day_closed, IssueRefusal.after_last_call):
            return None
        _, opens, book = self.closed()
        return refusal_error(str(code), opens, self.bookable_day(service_id, book), service_id,
                             bookable=self.settings.appointments_enabled,
                             no_counter=unserved_today(f))

    def bookable_day(self, service_id: str, after: date | None) -> date | None:
        """The first day from ``after`` (the engine's next open day) with a free slot for the service."""
        if after is None or not self.settings.appointments_enabled:
            return after
        for d, times in self.slots(service_id):
            if d >= after and any(left > 0 for _, left in times):
                return d
        return after

    def book_url(self, service_id: str, day: date | None, lang: str) -> str:
        """``/book`` with the service (and the day) chosen already."""
        return f"{self.public_url}/book?service={service_id}" + (f"&day={day.isoformat()}" if day else "") \
            + f"&lang={lang}"

    # ------------------------------------------------------------ remote tickets

    def remote_issued_last_hour(self, service_id: str) -> int:
        since = self.now() - 3600
        with self.centre.lock:
            return sum(1 for t in self.centre.state.tickets.values()
                       if t.service_id == service_id and t.channel in REMOTE_CHANNELS and t.issued_at > since
                       and t.appointment_id is None)

    def open_tickets_of(self, phone: str) -> list[Ticket]:
        """The phone's tickets of today still waiting, at a counter or parked (fetching a document), oldest first."""
        with self.centre.lock:
            day = self.centre.state.day
            return sorted((t for t in self.centre.state.tickets.values()
                           if t.phone == phone and t.day == day and t.state in OPEN_STATES),
                          key=lambda t: t.issued_at)

    def issue_remote(self, service_id: str, phone: str | None, language: str, channel: Channel,
                     key: str | None = None, then: tuple[str, ...] = ()) -> tuple[Ticket, str]:
        """A remote ticket, not checked in, with its check-in code; the same one again for a repeated key."""
        lang = Language(language if language in ("en", "sw") else "en")
        norm = normalise_phone(phone)
        if norm is None:
            raise ChannelError(422, "bad_phone", "err_phone")
        s = self.settings
        if not s.remote_enabled:
            raise ChannelError(409, "remote_off", "err_remote_off")
        with self.centre.lock:  # the caps are checked and the ticket issued as one step
            if key:
                existing = self.centre.ticket_by_key(key)
                if existing is not None:
                    return existing, self.code_of(existing.id) or ""
            svc = self.centre.state.services.get(service_id)
            if svc is None:
                raise ChannelError(404, "unknown_service", "err_service")
            if not svc.enabled:
                raise ChannelError(409, "service_disabled", "err_service_closed")
            mine = [t for t in self.open_tickets_of(norm) if t.state == TicketState.waiting]
            for t in mine:
                if t.service_id == service_id:  # the same citizen asking twice gets the same ticket
                    return t, self.code_of(t.id) or ""
            refused = self.refusal(service_id)  # closed, or too late today: say when to come back or book
            if refused is not None:
                raise refused
            if len(mine) >= s.remote_per_phone_per_day:
                raise ChannelError(429, "phone_limit", "err_phone_limit", n=len(mine))
            if self.remote_issued_last_hour(service_id) >= s.cap_for(service_id):
                raise ChannelError(429, "remote_cap", "err_cap")
            ticket_id = new_ticket_id()
            day = self.centre.state.day or engine.day_of(self.now(), self.centre.settings.timezone)
            code = self._new_ticket_code(day)
            self.db.execute("INSERT INTO remote_codes(ticket_id, day, code, phone, service_id, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", [ticket_id, day, code, norm, service_id, self.now()])
            try:
                self.centre.execute(engine.IssueTicket(
                    ticket_id=ticket_id, service_id=service_id, channel=channel, language=lang, phone=norm,
                    idempotency_key=key, device_id=f"{channel.value}-channel", checked_in=False, then=then))
            except QueueError as err:
                self.db.execute("DELETE FROM remote_codes WHERE ticket_id=?", [ticket_id])
                refused = _from_queue_error(err, service_id)
                if refused.code == IssueRefusal.service_suspended:  # the catalogue's words, when it has them
                    refused = self.suspended(service_id) or refused
                if refused.code == IssueRefusal.after_last_call:
                    now_figures = engine.service_figures(self.centre.state, service_id, self.now())
                    refused = refusal_error(refused.code, refused.opens_at,
                                            self.bookable_day(service_id, refused.book_day), service_id,
                                            bookable=self.settings.appointments_enabled,
                                            no_counter=unserved_today(now_figures))
                raise refused from None
            t = self.centre.ticket(ticket_id)
            if t is not None and t.day != day:  # the day rolled over inside execute
                self.db.execute("UPDATE remote_codes SET day=? WHERE ticket_id=?", [t.day, ticket_id])
        assert t is not None
        return t, code

    def _new_ticket_code(self, day: str) -> str:
        for _ in range(200):
            code = f"{secrets.randbelow(900000) + 100000}"  # 6 digits: guessing one is hopeless at the limits
            if not self.db.execute("SELECT 1 FROM remote_codes WHERE day=? AND code=?", [day, code]).fetchone():
                return code
        raise ChannelError(503, "codes_exhausted", "err_no_code")

    def code_of(self, ticket_id: str) -> str | None:
        row = self.db.execute("SELECT code FROM remote_codes WHERE ticket_id=?", [ticket_id]).fetchone()
        return row[0] if row else None

    def cancel_by_citizen(self, ticket: Ticket, channel: str) -> Ticket:
        try:
            self.centre.execute(engine.CancelTicket(ticket.id, reason=f"cancelled by citizen ({channel})"))
        except QueueError as err:
            raise _from_queue_error(err) from None
        return self.centre.ticket(ticket.id) or ticket

    # ------------------------------------------------------------ check-in (kiosk)

    def check_in(self, code: str | None = None, phone: str | None = None) -> list[CheckInResult]:
        """Check in remote tickets and appointments by code or phone; raises ChannelError when none fits."""
        code = (code or "").strip()
        results: list[CheckInResult] = []
        first_error: ChannelError | None = None
        with self.centre.lock:
            day = self.centre.state.day
            if code:
                if not code.isdigit() or len(code) > 8:
                    raise ChannelError(404, "unknown_code", "ci_unknown")
                appt = self.db.execute("SELECT * FROM appointments WHERE code=? AND state='booked'",
                                       [code]).fetchone()
                rows = [appt] if appt else []
                tids = [r[0] for r in self.db.execute(
                    "SELECT ticket_id FROM remote_codes WHERE day=? AND code=?", [day, code]).fetchall()]
            else:
                norm = normalise_phone(phone)
                if norm is None:
                    raise ChannelError(422, "bad_phone", "err_phone")
                start, end = self._day_bounds(self.now())
                rows = self.db.execute("SELECT * FROM appointments WHERE phone=? AND state='booked' AND slot_at "
                                       "BETWEEN ? AND ? ORDER BY slot_at", [norm, start, end]).fetchall()
                tids = [t.id for t in self.centre.state.tickets.values()
                        if t.phone == norm and t.day == day and t.channel in REMOTE_CHANNELS
                        and (not t.checked_in or t.state == TicketState.waiting)]
            cols = [d[0] for d in self.db.execute("SELECT * FROM appointments LIMIT 0").description]
            for row in rows:
                try:
                    results.append(self._check_in_appointment(dict(zip(cols, row))))
                except ChannelError as err:
                    first_error = first_error or err
            for tid in tids:
                t = self.centre.state.tickets.get(tid)
                if t is None:
                    continue
                try:
                    results.append(self._check_in_ticket(t))
                except ChannelError as err:
                    first_error = first_error or err
        if not results:
            raise first_error or ChannelError(404, "unknown_code", "ci_unknown")
        return results

    def _check_in_ticket(self, t: Ticket) -> CheckInResult:
        if t.checked_in:
            return CheckInResult(t, "ticket", already=True)
        try:
            self.centre.execute(engine.CheckIn(t.id))
        except QueueError as err:
            if err.code == "window_passed":
                raise ChannelError(410, "missed", "ci_missed", number=t.number) from None
            raise _from_queue_error(err) from None
        return CheckInResult(self.centre.ticket(t.id) or t, "ticket")

    def window(self, slot_at: float) -> tuple[float, float]:
        s = self.settings
        return slot_at - s.check_in_early_min * 60, slot_at + s.check_in_late_min * 60

    def _check_in_appointment(self, appt: dict[str, Any]) -> CheckInResult:
        now = self.now()
        start, end = self.window(appt["slot_at"])
        if now < start:
            raise ChannelError(409, "too_early", "ci_too_early", time=self.local(appt["slot_at"]).strftime("%H:%M"),
                               start=self.local(start).strftime("%H:%M"))
        if now > end:
            raise ChannelError(410, "window_passed", "ci_too_late")
        ticket_id = new_ticket_id()
        try:
            self.centre.execute(engine.IssueTicket(
                ticket_id=ticket_id, service_id=appt["service_id"], priority=Priority.appointment,
                channel=Channel.web, language=Language(appt["language"] or "en"), phone=appt["phone"],
                idempotency_key=f"appt:{appt['id']}", device_id="appointments", checked_in=True,
                slot_at=appt["slot_at"], appointment_id=appt["id"],
                then=visits.parse_then(appt.get("then_services"))))
        except QueueError as err:
            refused = _from_queue_error(err, appt["service_id"])
            if refused.code == IssueRefusal.service_suspended:  # the booking stays: the kiosk says why not now
                refused = self.suspended(appt["service_id"]) or refused
            raise refused from None
        t = self.centre.ticket_by_key(f"appt:{appt['id']}")
        assert t is not None
        self.db.execute("UPDATE appointments SET state='checked_in', ticket_id=?, updated_at=? WHERE id=?",
                        [t.id, now, appt["id"]])
        return CheckInResult(t, "appointment")

    # ------------------------------------------------------------ appointments

    def _day_bounds(self, ts: float) -> tuple[float, float]:
        d = self.local(ts).date()
        start = datetime(d.year, d.month, d.day, tzinfo=self.centre.tz).timestamp()
        return start, start + 86400

    def slot_times(self, day: date) -> list[float]:
        """Slot starts on ``day``: none on a day the centre does not open (its weekdays, its holidays),
        and only within both the booking hours and the centre's own opening hours."""
        s = self.settings
        if day.weekday() not in s.weekday_numbers:
            return []
        hours = self.centre.state.policy.hours
        if not hours.is_open_day(day):
            return []
        h1, m1 = map(int, s.opening.split(":"))
        h2, m2 = map(int, s.closing.split(":"))
        t = datetime(day.year, day.month, day.day, h1, m1, tzinfo=self.centre.tz)
        close = datetime(day.year, day.month, day.day, h2, m2, tzinfo=self.centre.tz)
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.centre.tz)
        t = max(t, midnight + timedelta(seconds=hours.opening_s))
        if hours.closing_s is not None:
            close = min(close, midnight + timedelta(seconds=hours.closing_s))
        out = []
        while t < close:
            out.append(t.timestamp())
            t += timedelta(minutes=s.slot_minutes)
        return out

    def slots(self, service_id: str) -> list[tuple[date, list[tuple[float, int]]]]:
        """Bookable days, each with (slot start, places left); past and closing slots left out."""
        now = self.now()
        today = self.local(now).date()
        days = [today + timedelta(days=i) for i in range(self.settings.booking_days)]
        first = days[0]
        start = datetime(first.year, first.month, first.day, tzinfo=self.centre.tz).timestamp()
        taken: dict[float, int] = {}
        for slot_at, n in self.db.execute(
                "SELECT slot_at, COUNT(*) FROM appointments WHERE service_id=? AND slot_at>=? "
                "AND state IN ('booked','checked_in') GROUP BY slot_at", [service_id, start]).fetchall():
            taken[slot_at] = n
        if self.closed()[0] is not None:  # closed for today (by the clock or by the manager): no slot today
            days = days[1:]
        out = []
        for d in days:
            times = [(ts, self.settings.slot_capacity - taken.get(ts, 0)) for ts in self.slot_times(d)
                     if ts - self.settings.check_in_early_min * 60 > now]  # not once check-in has opened
            if times:
                out.append((d, times))
        return out

    def book(self, service_id: str, slot_at: float, phone: str | None, language: str,
             confirmed: bool = False, then: tuple[str, ...] = ()) -> dict[str, Any]:
        """A booking for ``phone``; ``pending`` (holding nothing) until confirmed with the code sent to it by SMS.

        ``confirmed`` is for a request that comes from the phone itself (USSD through the gateway): the
        booking is held at once. Anyone can type any number on the web, so there a booking only starts:
        the phone gets a confirmation code, and the slot is held once the code comes back (the booked page,
        or an SMS reply). Each phone holds at most ``book_per_phone`` open bookings and may start
        ``book_per_phone_per_hour`` per hour (each sends it an SMS).
        """
        s = self.settings
        if not s.appointments_enabled:
            raise ChannelError(409, "appointments_off", "err_remote_off")
        norm = normalise_phone(phone)
        if norm is None:
            raise ChannelError(422, "bad_phone", "err_phone")
        svc = self.service(service_id)
        if svc is None:
            raise ChannelError(404, "unknown_service", "err_service")
        if not svc.enabled:
            raise ChannelError(409, "service_disabled", "err_service_closed")
        stopped = self.suspended(service_id)
        if stopped is not None:  # no new promise while the agency cannot serve: the reason says why
            raise stopped
        if then:  # a booked visit: the menu's order, services offered now (queue/visits.py)
            with self.centre.lock:
                problem = visits.plan_problem(self.centre.state.services, service_id, then, citizen=True)
            if problem is not None:
                raise ChannelError(problem[2], problem[0], "err_visit")
        offered = {ts: left for _, times in self.slots(service_id) for ts, left in times}
        if slot_at not in offered:
            raise ChannelError(422, "bad_slot", "err_slot")
        lang = language if language in ("en", "sw") else "en"
        with self.centre.lock:  # count and insert as one step: capacity and limits hold under concurrent bookings
            now = self.now()
            cur = self.db.execute("SELECT * FROM appointments WHERE phone=? AND service_id=? AND slot_at=? "
                                  f"AND (state='booked' OR ({self._PENDING_LIVE}))",
                                  [norm, service_id, slot_at, now])
            row = cur.fetchone()
            if row is not None:  # the same booking asked again (a form posted twice, a USSD retry)
                again = dict(zip([d[0] for d in cur.description], row))
                if again["state"] == "pending" and confirmed:  # the phone itself now asks: it is confirmed
                    return self._confirm(again)
                if again["state"] == "pending" or confirmed:
                    return again
                # booked already: say so, but never hand its page (code, cancel button) to whoever typed the number
                raise ChannelError(409, "already_booked", "err_already_booked")
            if self._held(service_id, slot_at) >= s.slot_capacity:
                raise ChannelError(409, "slot_full", "err_slot_full")
            mine = self.db.execute(f"SELECT COUNT(*) FROM appointments WHERE phone=? AND (state='booked' OR "
                                   f"({self._PENDING_LIVE}))", [norm, now]).fetchone()[0]
            if mine >= s.book_per_phone:
                raise ChannelError(429, "phone_limit", "err_book_phone_limit", n=mine)
            tried = self.db.execute("SELECT COUNT(*) FROM appointments WHERE phone=? AND created_at > ?",
                                    [norm, now - 3600]).fetchone()[0]
            if tried >= s.book_per_phone_per_hour:
                raise ChannelError(429, "phone_hourly", "err_book_phone_hourly")
            appt = {"id": secrets.token_urlsafe(12), "service_id": service_id,
                    "slot_at": slot_at, "code": self._new_appointment_code(), "phone": norm,
                    "language": lang, "state": "booked" if confirmed else "pending",
                    "ticket_id": None, "created_at": now, "updated_at": None, "then_services": " ".join(then)}
            self.db.execute(f"INSERT INTO appointments({', '.join(appt)}) VALUES ({', '.join('?' * len(appt))})",
                            list(appt.values()))
            if confirmed:
                self._send_booked(appt, svc)
                return appt
            confirm = f"{secrets.randbelow(900000) + 100000}"  # 6 digits, a few tries: guessing is hopeless
            expires = now + s.book_confirm_min * 60
            self.db.execute("INSERT INTO booking_confirmations(appt_id, code, tries, expires_at) VALUES (?, ?, 0, ?)",
                            [appt["id"], confirm, expires])
        name = svc.name_sw if lang == "sw" else svc.name_en
        self.enqueue(f"confirm:{appt['id']}", norm, "book_confirm", None,
                     tr("sms_book_confirm", lang, service=name[:36], code=confirm,
                        when=self.local(slot_at).strftime("%d/%m %H:%M"), min=s.book_confirm_min))
        logger.info("booking %s pending for %s at %s", appt["id"], service_id, slot_at)
        return appt

    # a pending booking still within its confirmation time (takes ``now`` as its one parameter)
    _PENDING_LIVE = ("state='pending' AND id IN (SELECT appt_id FROM booking_confirmations WHERE expires_at > ?)")

    def _held(self, service_id: str, slot_at: float) -> int:
        """Places of a slot held: confirmed bookings only (a pending one holds nothing)."""
        return self.db.execute("SELECT COUNT(*) FROM appointments WHERE service_id=? AND slot_at=? "
                               "AND state IN ('booked','checked_in')", [service_id, slot_at]).fetchone()[0]

    def _send_booked(self, appt: dict[str, Any], svc: Service | None) -> None:
        """The booking SMS: the 8-digit code and from when to check in."""
        start, _ = self.window(appt["slot_at"])
        lang = appt["language"]
        when = self.local(appt["slot_at"]).strftime("%d/%m %H:%M")
        name = (svc.name_sw if lang == "sw" else svc.name_en) if svc else appt["service_id"]
        self.enqueue(f"booked:{appt['id']}", appt["phone"], "booked", None,
                     tr("sms_booked", lang, service=name[:36], when=when, code=appt["code"],
                        start=self.local(start).strftime("%H:%M"), url=f"{self.public_url}/book/{appt['id']}"))

    def pending_of(self, appt_id: str) -> dict[str, Any] | None:
        """A pending booking's confirmation: code, tries, expires_at (None when there is none)."""
        cur = self.db.execute("SELECT code, tries, expires_at FROM booking_confirmations WHERE appt_id=?", [appt_id])
        row = cur.fetchone()
        return dict(zip(("code", "tries", "expires_at"), row)) if row else None

    def confirm_booking(self, appt_id: str, code: str) -> dict[str, Any]:
        """The code typed on the booked page: the booking is held (booked) if it is right and still in time.

        A wrong code spends one of ``book_confirm_tries``; the last one drops the booking, so the page
        (which whoever typed the phone number has) cannot be used to guess the code sent to the phone.
        """
        code = "".join((code or "").split())[:12]
        with self.centre.lock:
            appt = self.appointment(appt_id)
            if appt is None:
                raise ChannelError(404, "unknown_booking", "not_found_body")
            if appt["state"] == "booked":
                return appt  # confirmed already (by SMS, or a form posted twice)
            pending = self.pending_of(appt_id) if appt["state"] == "pending" else None
            if pending is None:
                raise ChannelError(409, "not_pending", "err_confirm_gone")
            if pending["expires_at"] <= self.now():
                self._expire([appt_id])
                raise ChannelError(410, "confirm_expired", "err_confirm_expired")
            if not code.isdigit() or not secrets.compare_digest(code.encode(), pending["code"].encode()):
                tries = pending["tries"] + 1
                left = self.settings.book_confirm_tries - tries
                if left <= 0:
                    self._expire([appt_id])
                    raise ChannelError(403, "confirm_tries", "err_confirm_tries")
                self.db.execute("UPDATE booking_confirmations SET tries=? WHERE appt_id=?", [tries, appt_id])
                raise ChannelError(422, "bad_confirm_code", "err_confirm_code", left=left)
            return self._confirm(appt)

    def _confirm(self, appt: dict[str, Any]) -> dict[str, Any]:
        """Hold the slot for a pending booking (under the centre's lock): its booking code and SMS follow."""
        if self._held(appt["service_id"], appt["slot_at"]) >= self.settings.slot_capacity:
            self._expire([appt["id"]], state="cancelled")
            raise ChannelError(409, "slot_full", "err_confirm_full")
        code = self._new_appointment_code()
        self.db.execute("UPDATE appointments SET state='booked', code=?, updated_at=? WHERE id=? AND state='pending'",
                        [code, self.now(), appt["id"]])
        self.db.execute("DELETE FROM booking_confirmations WHERE appt_id=?", [appt["id"]])
        confirmed = self.appointment(appt["id"])
        assert confirmed is not None
        logger.info("booking %s confirmed", appt["id"])
        self._send_booked(confirmed, self.service(appt["service_id"]))
        return confirmed

    def _expire(self, appt_ids: list[str], state: str = "expired") -> None:
        for appt_id in appt_ids:
            self.db.execute("UPDATE appointments SET state=?, updated_at=? WHERE id=? AND state='pending'",
                            [state, self.now(), appt_id])
            self.db.execute("DELETE FROM booking_confirmations WHERE appt_id=?", [appt_id])

    def confirm_by_sms(self, phone: str, code: str) -> dict[str, Any] | None:
        """A reply with the code, from the phone itself (through the gateway): its pending booking is held."""
        with self.centre.lock:
            cur = self.db.execute("SELECT a.* FROM appointments a JOIN booking_confirmations c ON c.appt_id=a.id "
                                  "WHERE a.phone=? AND a.state='pending' AND c.code=? AND c.expires_at > ?",
                                  [phone, code, self.now()])
            row = cur.fetchone()
            if row is None:
                return None
            return self._confirm(dict(zip([d[0] for d in cur.description], row)))

    def _new_appointment_code(self) -> str:
        for _ in range(200):
            code = f"{secrets.randbelow(90000000) + 10000000}"  # a booking's 8 digits
            if not self.db.execute("SELECT 1 FROM appointments WHERE code=? AND state='booked'", [code]).fetchone():
                return code
        raise ChannelError(503, "codes_exhausted", "err_no_code")

    def appointment(self, appt_id: str) -> dict[str, Any] | None:
        if not appt_id or len(appt_id) > 64:
            return None
        cur = self.db.execute("SELECT * FROM appointments WHERE id=?", [appt_id])
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def cancel_appointment(self, appt_id: str) -> dict[str, Any] | None:
        self.db.execute("UPDATE appointments SET state='cancelled', updated_at=? WHERE id=? "
                        "AND state IN ('booked','pending')", [self.now(), appt_id])
        self.db.execute("DELETE FROM booking_confirmations WHERE appt_id=?", [appt_id])
        return self.appointment(appt_id)

    def release_missed(self, now: float | None = None) -> int:
        """Booked appointments whose check-in window has passed are released: their place is free again."""
        now = self.now() if now is None else now
        late = self.settings.check_in_late_min * 60
        cur = self.db.execute("UPDATE appointments SET state='released', updated_at=? "
                              "WHERE state='booked' AND slot_at + ? < ?", [now, late, now])
        if cur.rowcount:
            logger.info("released %s missed appointment(s)", cur.rowcount)
        with self.centre.lock:  # unconfirmed bookings lapse (they held nothing: only the record changes)
            lapsed = [r[0] for r in self.db.execute(
                "SELECT appt_id FROM booking_confirmations WHERE expires_at <= ?", [now]).fetchall()]
            self._expire(lapsed)
        if lapsed:
            logger.info("%s unconfirmed booking(s) lapsed", len(lapsed))
        return cur.rowcount

    # ------------------------------------------------------------ feedback

    def give_feedback(self, ticket_id: str, rating: int, comment: str | None) -> Ticket:
        """Rate a ticket on the one scale; the first rating from any channel stands, later ones are refused."""
        if rating not in set(Satisfaction):
            raise ChannelError(422, "bad_rating", "err_rating")
        comment = " ".join((comment or "").split())[:500] or None
        try:
            self.centre.execute(engine.GiveFeedback(rating=rating, ticket_id=ticket_id, comment=comment))
        except QueueError as err:
            if err.code == "not_served":
                raise ChannelError(409, "not_served", "feedback_not_yet") from None
            rated = self.centre.ticket(ticket_id)
            if err.code == "already_rated" and rated is not None and rated.rating is not None:
                given = Satisfaction(rated.rating)
                raise ChannelError(409, "already_rated", "already_rated", number=rated.number,
                                   label=given) from None
            raise _from_queue_error(err) from None
        t = self.centre.ticket(ticket_id)
        assert t is not None
        return t

    def inbound_sms(self, phone: str | None, text: str | None) -> str:
        """An SMS from a citizen: "1".."4" (and words after it) rates the last ticket served for that phone;
        a service's prefix ("B", or "B SW" for Kiswahili) takes a remote ticket for it."""
        norm = normalise_phone(phone)
        text = (text or "")[:1000]
        outcome = "ignored"
        ticket_id = None
        words = text.strip().split(maxsplit=1)
        try:
            info_lang = INFO_KEYWORDS.get(words[0].upper().rstrip(".:,")) if words else None
            joining = self._service_by_keyword(words[0]) if words and info_lang is None else None
            first_two = text.split()[:2]  # "482193", or a word then the code ("BOOK 482193", "NDIO 482193")
            if len(first_two) == 2 and first_two[0].isalpha():
                first_two = first_two[1:]
            confirm = next((w for w in first_two[:1] if len(w) == 6 and w.isdigit()), None)
            if norm is None:
                outcome = "bad_phone"
            elif info_lang is not None:  # "INFO K", "TAARIFA K": what to bring, the fee, who may apply
                outcome = self.answer_info(norm, words[1] if len(words) > 1 else "", info_lang)
            elif confirm is not None:  # a reply with a booking's confirmation code ("482193", "BOOK 482193")
                try:
                    appt = self.confirm_by_sms(norm, confirm)
                except ChannelError as err:  # the slot filled up meanwhile: say so, the page says it too
                    lang = self._language_of_pending(norm)
                    self.enqueue(None, norm, "refused", None, "Huduma: " + err.message(lang))
                    raise
                if appt is None:
                    outcome = "unknown_confirm_code"
                    self.enqueue(None, norm, "refused", None, tr("sms_confirm_unknown",
                                                                self._language_of_pending(norm)))
                else:
                    outcome = "booking_confirmed"
            elif joining is not None:  # "B" or "B SW": a ticket for the service with that prefix, by SMS
                lang = "sw" if len(words) > 1 and words[1].strip().lower() in ("sw", "swahili", "kiswahili") else "en"
                try:
                    t, _ = self.issue_remote(joining.id, norm, lang, Channel.sms)
                    ticket_id, outcome = t.id, "joined"
                except ChannelError as err:
                    if err.code == IssueRefusal.after_last_call and err.book_day:  # tell how to book instead
                        name = (joining.name_sw if lang == "sw" else joining.name_en)[:40]
                        key = "sms_book_instead_no_counter" if err.no_counter else "sms_book_instead"
                        text = tr(key, lang, service=name, day=localise(lang, err.book_day or "-"),
                                  url=self.book_url(joining.id, err.book_day, lang))
                    else:
                        text = "Huduma: " + err.message(lang)
                    self.enqueue(None, norm, "refused", None, text)
                    raise
            elif not words or words[0].rstrip(".") not in {str(s.value) for s in Satisfaction}:
                outcome = "not_a_rating"
                # an SMS nobody understood gets how to use the number, once a day a phone (never a loop
                # with another machine's automatic replies)
                if self._mark(f"unknown_help:{self.centre.state.day}:{_phone_tag(norm)}"):
                    lang = "sw" if words and words[0].lower().strip(".,!?") in SWAHILI_GREETINGS else "en"
                    self.enqueue(None, norm, "info", None, tr("sms_unknown_help", lang, **self._help_args(lang)))
            else:
                rating = int(words[0].rstrip("."))
                since = self.now() - self.settings.feedback_reply_hours * 3600
                with self.centre.lock:
                    served = [t for t in self.centre.state.tickets.values()
                              if t.phone == norm and t.state == TicketState.done and (t.ended_at or 0) >= since]
                if not served:
                    outcome = "nothing_to_rate"
                    self.enqueue(None, norm, "feedback_none", None, tr("sms_feedback_none", "en"))
                else:
                    t = max(served, key=lambda t: t.ended_at or 0)
                    ticket_id = t.id
                    try:
                        self.give_feedback(t.id, rating, words[1] if len(words) > 1 else None)
                    except ChannelError as err:
                        if err.code == "already_rated":  # say so: a silent SMS would look lost
                            self.enqueue(None, norm, "feedback_refused", t.id,
                                         "Huduma: " + err.message(t.language.value))
                        raise
                    outcome = f"rated_{rating}"
                    self.enqueue(f"thanks:{t.id}:{int(self.now())}", norm, "feedback_thanks", t.id,
                                 tr("sms_feedback_thanks", t.language.value, number=t.number))
        except ChannelError as err:
            outcome = err.code
        self.db.execute("INSERT INTO sms_inbox(at, phone, text, ticket_id, outcome) VALUES (?, ?, ?, ?, ?)",
                        [self.now(), norm, text[:500], ticket_id, outcome])
        return outcome

    def answer_info(self, phone: str, rest: str, lang: str) -> str:
        """Send the service information asked for by SMS (one or two messages), or how to find a service's
        letter when the letter is missing or unknown. The outcome recorded in the inbox."""
        tokens = rest.split()
        if tokens and tokens[-1].lower() in LANGUAGE_WORDS:  # "INFO K SW"
            lang = LANGUAGE_WORDS[tokens.pop().lower()]
        word = tokens[0] if tokens else ""
        svc = self._service_by_keyword(word) if word else None
        if svc is None:
            args = self._help_args(lang)
            if word:
                reply = tr("sms_info_unknown", lang, word=ascii_fit(word, 12) or "?", **args)
            else:
                reply = tr("sms_info_help", lang, **args)
            self.enqueue(None, phone, "info", None, reply)
            return "info_unknown" if word else "info_help"
        info = self.info(svc.id)
        url = f"{self.public_url}/join?service={svc.id}&lang={lang}"
        if info is None:  # a service of this centre's own menu, not in the national catalogue
            name = ascii_fit(svc.name_sw if lang == "sw" else svc.name_en, 50)
            messages = [tr("sms_info_none", lang, prefix=svc.prefix, service=name, url=url)]
        else:
            messages = sms_messages(info, lang, svc.prefix, url)
        for text in messages:
            self.enqueue(None, phone, "info", None, text)
        return "info_sent"

    def _help_args(self, lang: str) -> dict[str, str]:
        """What a help SMS names: an example service letter, the page listing the letters, the USSD code."""
        services = self.services()
        example = next((x.prefix for x in services if len(x.prefix) == 1), services[0].prefix if services else "A")
        return {"example": example, "url": f"{self.public_url}/join?lang={lang}", "ussd": self.settings.ussd_code}

    def _language_of_pending(self, phone: str) -> str:
        """The language of the phone's latest booking (for a reply about it); English when none."""
        row = self.db.execute("SELECT language FROM appointments WHERE phone=? ORDER BY created_at DESC LIMIT 1",
                              [phone]).fetchone()
        return row[0] if row and row[0] in ("en", "sw") else "en"

    def _service_by_keyword(self, word: str) -> Service | None:
        w = word.strip().upper()
        if not w or w.isdigit():
            return None
        for svc in self.services():
            if svc.prefix.upper() == w or svc.id.upper() == w:
                return svc
        return None

    # ------------------------------------------------------------ figures for staff

    def status(self) -> dict[str, Any]:
        """What a manager checks: the SMS queue, today's appointments and remote tickets."""
        outbox = dict(self.db.execute(
            "SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'failed' "
            "ELSE 'pending' END AS s, COUNT(*) FROM sms_outbox GROUP BY s").fetchall())
        errors = [r[0] for r in self.db.execute(
            "SELECT DISTINCT last_error FROM sms_outbox WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT 5")]
        start, end = self._day_bounds(self.now())
        appts = dict(self.db.execute("SELECT state, COUNT(*) FROM appointments WHERE slot_at BETWEEN ? AND ? "
                                     "GROUP BY state", [start, end]).fetchall())
        with self.centre.lock:
            day = self.centre.state.day
            remote: dict[str, int] = {}
            for t in self.centre.state.tickets.values():
                if t.day == day and t.channel in REMOTE_CHANNELS:
                    remote[t.channel.value] = remote.get(t.channel.value, 0) + 1
        gw = self.worker.gateway
        return {"sms_gateway": gw.name if gw else "none",
                "sms": {k: outbox.get(k, 0) for k in ("pending", "sent", "failed")}, "sms_recent_errors": errors,
                "appointments_today": {k: appts.get(k, 0) for k in ("booked", "checked_in", "released", "cancelled")},
                "remote_tickets_today": remote}

    def appointments_on(self, day: date) -> list[dict[str, Any]]:
        """A day's appointments for the staff: unconfirmed ones (pending, lapsed) are nobody's yet, left out."""
        start = datetime(day.year, day.month, day.day, tzinfo=self.centre.tz).timestamp()
        cur = self.db.execute("SELECT * FROM appointments WHERE slot_at >= ? AND slot_at < ? "
                              "AND state NOT IN ('pending','expired') ORDER BY slot_at, created_at",
                              [start, start + 86400])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    # ------------------------------------------------------------ fees (issue 20)

    def pushable_fee(self, service_id: str) -> int:
        """The fee an M-Pesa prompt would ask for this service (the catalogue's), or 0: free, paid online when
        applying (eCitizen), varies with the case, or payments not running at this centre. USSD offers "Pay
        now" and the ticket SMS names it."""
        payments = attached(self.centre)
        if payments is None or not payments.settings.enabled:
            return 0
        fee = payments.fee(service_id)
        return 0 if fee.nothing_here or fee.varies else fee.amount_ksh

    def pay_now(self, ticket_id: str, phone: str) -> PaymentOut:
        """Send the M-Pesa prompt for a remote ticket's fee to the citizen's phone (USSD, /join): the amount is
        the catalogue's. Raises the payments' ``Refusal`` (with ``message_sw``) when it cannot be sent."""
        payments = attached(self.centre)
        if payments is None:
            raise Refusal(503, "payments_off", "M-Pesa payment is not available at this centre: pay at the counter",
                          message_sw="Malipo ya M-Pesa hayapatikani hapa: lipa kwenye kaunta")
        return payments.start(ticket_id, phone)

    def payment(self, ticket_id: str) -> PaymentOut | None:
        """Where a ticket's fee stands, or None when payments do not run here."""
        payments = attached(self.centre)
        return payments.status(ticket_id) if payments is not None else None

    # ------------------------------------------------------------ SMS from events

    def enqueue(self, key: str | None, phone: str, kind: str, ticket_id: str | None, text: str,
                hold_s: float = 0.0) -> None:
        """Queue one message; ``hold_s`` delays it (a fee sentence that a prompt about to be sent may change)."""
        if self.worker.gateway is None or not phone:
            return
        self.db.execute("INSERT OR IGNORE INTO sms_outbox(key, phone, text, kind, ticket_id, next_attempt_at, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [key, phone, text[:480], kind, ticket_id, self.now() + hold_s, self.now()])
        self.worker.wake.set()

    def _release_fee_sms(self, t: Ticket, lang: str, prompt_sent: bool) -> None:
        """The ticket's payment moved while its ticket SMS was held: send it now, saying the M-Pesa prompt is on
        the phone when one was sent (the outcome's own SMS follows), else as written (pay on the page or at the
        counter). A message already sent stays as it was."""
        amount = self.pushable_fee(t.service_id)
        held = self.db.execute("SELECT id, key, text FROM sms_outbox WHERE ticket_id=? AND key IN (?, ?) "
                               "AND sent_at IS NULL AND failed_at IS NULL ORDER BY id",
                               [t.id, f"issued:{t.id}", f"fee:{t.id}"]).fetchall()
        now = self.now()  # one time for both: they go in the order they were written, the ticket first
        for msg_id, key, text in held:
            if prompt_sent and amount:
                if key.startswith("fee:"):
                    text = tr("sms_fee_prompt_alone", lang, number=t.number, amount=f"{amount:,}")
                else:
                    said = text.replace(tr("sms_fee", lang, amount=f"{amount:,}"),
                                        tr("sms_fee_prompt", lang, amount=f"{amount:,}"))
                    text = said if len(said) <= SMS_LIMIT else text
            self.db.execute("UPDATE sms_outbox SET text=?, next_attempt_at=? WHERE id=?", [text, now, msg_id])
        if held:
            self.worker.wake.set()

    def _mark(self, key: str) -> bool:
        """True the first time ``key`` is marked (an "N ahead" message goes once per ticket)."""
        cur = self.db.execute("INSERT OR IGNORE INTO sms_marks(key, at) VALUES (?, ?)", [key, self.now()])
        return cur.rowcount == 1

    def on_events(self, events: list[Event]) -> None:
        """Centre listener (called after commit, under the centre's lock): queue the SMS the events deserve."""
        state = self.centre.state
        touched: set[str] = set()
        for ev in events:
            d = ev.data
            t = state.tickets.get(ticket_of(d) or "")
            if isinstance(d, TicketEvent):  # a new ticket (TicketIssued) moves nobody up
                touched.add(d.service_id)
            if isinstance(d, TicketTransferred):
                touched.add(d.to_service_id)
            if isinstance(d, DayClosed) and d.next_day:
                self._forget_phones(storage.retained_until(d.day, self.centre.settings.day.phone_retention_days))
            if isinstance(d, ServiceSuspended):
                self._tell_suspended(ev.seq, d)
            if isinstance(d, DayClosed) and d.reason in CLOSE_SMS_REASONS:  # the day's paid no-shows are owed
                for shown in [x for x in state.tickets.values() if x.day == d.day and x.phone
                              and x.state == TicketState.no_show]:
                    self._tell_owed(shown, shown.language.value)
            if t is None or not t.phone:
                continue
            lang = t.language.value
            svc = state.services.get(t.service_id)
            name = (svc.name_sw if lang == "sw" else svc.name_en)[:40] if svc else t.service_id
            url = f"{self.public_url}/t/{t.id}"
            if isinstance(d, TicketIssued):
                ahead = d.told_ahead
                # no figure: why, as the ticket page says it (a counter on a break is not "no counter open")
                why = None if d.estimated_wait_s is not None else engine.wait_for(state, d.service_id, d.position,
                                                                                   ev.at)[1]
                wait = wait_phrase(lang, d.estimated_wait_s, why)
                if not t.checked_in:
                    text = tr("sms_issued", lang, number=t.number, service=name, ahead=ahead, wait=wait,
                              code=self.code_of(t.id) or "-", url=url)
                else:
                    text = tr("sms_issued_walkin", lang, number=t.number, service=name, ahead=ahead, wait=wait,
                              url=url)
                amount = self.pushable_fee(t.service_id)
                fee = tr("sms_fee", lang, amount=f"{amount:,}") if amount else ""
                hold = PROMPT_HOLD_S if fee and t.channel in PROMPT_CHANNELS else 0.0
                if fee and len(text) + 1 + len(fee) <= SMS_LIMIT:  # the fee, and where to pay it (issue 20)
                    text, fee = text + " " + fee, ""
                self.enqueue(f"issued:{t.id}", t.phone, "issued", t.id, text, hold_s=hold)
                if fee:  # one SMS is 160 characters: the fee then goes in its own, never cut
                    self.enqueue(f"fee:{t.id}", t.phone, "issued", t.id,
                                 tr("sms_fee_alone", lang, number=t.number, amount=f"{amount:,}", url=url),
                                 hold_s=hold)
                if ahead <= self.settings.sms_notify_ahead:
                    self._mark(f"ahead:{t.id}")  # the first message already said how close it is
            elif isinstance(d, PaymentUpdated) and d.state not in ("paid", "failed"):  # a prompt sent, cash...
                self._release_fee_sms(t, lang, prompt_sent=d.state == "pending")
            elif isinstance(d, PaymentUpdated):  # the citizen hears the outcome
                self._release_fee_sms(t, lang, prompt_sent=False)
                if d.state == "paid":
                    # settled by Daraja's query, the receipt number comes later with the late callback:
                    # "paid, receipt to follow" first, then the receipt alone (never "receipt -")
                    told = not self._mark(f"paid:{t.id}")
                    if told and not d.receipt:
                        continue
                    key = "sms_receipt" if told else "sms_paid" if d.receipt else "sms_paid_no_receipt"
                    text = tr(key, lang, number=t.number, amount=f"{d.amount_ksh or 0:,}", receipt=d.receipt or "")
                    once = f"receipt:{t.id}" if told else f"payment:{t.id}:{ev.seq}"  # a repeated callback: no SMS
                else:
                    en, sw = failure_reason(d.reason)
                    text = tr("sms_pay_failed", lang, number=t.number, reason=sw if lang == "sw" else en, url=url)
                    once = f"payment:{t.id}:{ev.seq}"
                self.enqueue(once, t.phone, "payment", t.id, text)
            elif isinstance(d, TicketCancelled) and d.reason in CLOSE_SMS_REASONS:
                self._tell_closed(t, lang, ev.at)
            elif isinstance(d, TicketCalled):
                counter = d.counter_name or d.counter_id
                self.enqueue(f"called:{t.id}:{ev.seq}", t.phone, "called", t.id,
                             tr("sms_called", lang, number=t.number, counter=counter))
            elif isinstance(d, TicketPassedOver):  # its turn came before the citizen checked in: keep the place
                self.enqueue(f"passed:{t.id}:{ev.seq}", t.phone, "passed_over", t.id,
                             tr("sms_passed_over", lang, number=t.number, code=self.code_of(t.id) or "-",
                                minutes=max(1, -(-d.grace_s // 60))))  # rounded up: never less time than said
            elif isinstance(d, TicketNoShow) and d.reason == "not_checked_in" and t.state == TicketState.no_show:
                # the grace ran out (and the citizen is not checking in this very moment): say how to come back
                pol = state.policy
                window = pol.reactivation_window_s // 60
                self.enqueue(f"no_show:{t.id}:{ev.seq}", t.phone, "no_show", t.id,
                             tr("sms_no_show_remote" if window else "sms_no_show_remote_new", lang, number=t.number,
                                grace=max(1, -(-pol.check_in_grace_s // 60)), window=window))
            elif isinstance(d, VisitStepQueued):  # a visit's next service: what and where, same number
                self.enqueue(f"step:{t.id}:{ev.seq}", t.phone, "visit_step", t.id, self._next_step_text(t, lang))
            elif isinstance(d, TicketDone) and self.settings.sms_feedback_request \
                    and d.outcome != "day_closed" and not visits.remaining(t) and t.state == TicketState.done:
                self.enqueue(f"feedback:{t.id}", t.phone, "feedback", t.id,
                             tr("sms_feedback", lang, number=t.number, url=f"{url}/feedback"))
        n = self.settings.sms_notify_ahead
        if n and touched:
            self._notify_ahead(touched, n)

    def _tell_closed(self, t: Ticket, lang: str, at: float) -> None:
        """A citizen still waiting when the day closed hears so, and when the centre opens again; one who
        paid hears that the money is owed back and where to ask (the receipt to show)."""
        opens = opens_again(engine.opens_at(self.centre.state, at), lang)
        text = tr("sms_closed_before_you", lang, number=t.number, opens=opens)
        self.enqueue(f"closed:{t.id}", t.phone or "", CLOSE_SMS_KIND, t.id, text)
        self._tell_owed(t, lang)

    def _tell_owed(self, t: Ticket, lang: str) -> None:
        """At the close, a citizen who paid and was not served (cancelled by it, or a no-show who never came
        back) hears that the money is owed back and where to ask, with the receipt to show."""
        try:
            paid = owed_back(self.db, t, True)  # the close: the day is over
        except Exception:  # no payments table or row: nothing owed; never lose the close's message for it
            logger.exception("payment of %s not read at the close", t.id)
            paid = None
        if paid is not None:
            receipt = (paid.receipt if paid.state == "paid" else None) or (
                tr("join_pay_state_cash", lang) if paid.method == "cash" else "M-Pesa")
            self.enqueue(f"closed-refund:{t.id}", t.phone or "", CLOSE_SMS_KIND, t.id,
                         tr("sms_closed_refund", lang, number=t.number, amount=f"{paid.amount_ksh or 0:,}",
                            receipt=receipt))

    def _next_step_text(self, t: Ticket, lang: str) -> str:
        """ "Huduma: A001, next KRA PIN registration at Counter 12 ..." for a one-stop visit's next service."""
        state = self.centre.state
        svc = state.services.get(t.service_id)
        name = ascii_fit((svc.name_sw if lang == "sw" else svc.name_en) if svc else t.service_id, 40)
        serving = [c for c in state.counters.values() if t.service_id in c.services]
        open_ones = [c.name for c in serving if c.state.value == "open"] or [c.name for c in serving]
        if open_ones:
            return tr("sms_visit_next", lang, number=t.number, service=name, counters=", ".join(open_ones[:3]),
                      ahead=engine.people_ahead(state, t))
        return tr("sms_visit_next_nowhere", lang, number=t.number, service=name,
                  ahead=engine.people_ahead(state, t))

    def _tell_suspended(self, seq: int, d: ServiceSuspended) -> None:
        """Every ticket still waiting for a service just suspended, with a phone, hears why by SMS (once for
        this suspension: the outbox key holds the event's number); the ticket itself stays in the queue."""
        state = self.centre.state
        svc = state.services.get(d.service_id)
        told = 0
        for t in list(state.queues.get(d.service_id, {}).values()):
            if not t.phone or t.state != TicketState.waiting:
                continue
            lang = t.language.value
            name = ((svc.name_sw or svc.name_en) if lang == "sw" else svc.name_en) if svc else d.service_id
            reason = (d.reason_sw or d.reason_en) if lang == "sw" else (d.reason_en or d.reason_sw)
            reason = ascii_fit(reason, SUSPENSION_REASON_MAX)
            if not reason.endswith((".", "!", "..")):
                reason += "."
            self.enqueue(f"suspended:{t.id}:{seq}", t.phone, "suspended", t.id,
                         tr("sms_suspended", lang, service=ascii_fit(name, 40), reason=reason, number=t.number,
                            url=f"{self.public_url}/t/{t.id}"))
            told += 1
        logger.info("service %s suspended: %s waiting ticket(s) told by SMS", d.service_id, told)

    def _notify_ahead(self, services: set[str], n: int) -> None:
        """ "Only N people ahead of you": N as the ticket says it (``engine.people_ahead``: everyone its counters
        may call first), so a call at a shared counter moves up the citizens of every service it serves."""
        state = self.centre.state
        for sid in set().union(*(engine.sharing_services(state, s) for s in services)):
            # the front of each queue only, not every ticket of the day: the people ahead of a ticket are at
            # least those before it in its own service's queue
            waiting = heapq.nsmallest(n + 1, state.queues.get(sid, {}).values(), key=engine.queue_order_key)
            for t in waiting:
                if not t.phone:
                    continue
                ahead = engine.people_ahead(state, t)
                if ahead > n or not self._mark(f"ahead:{t.id}"):
                    continue
                lang = t.language.value
                if not t.checked_in:
                    text = tr("sms_ahead_remote", lang, number=t.number, ahead=ahead, code=self.code_of(t.id) or "-")
                else:
                    text = tr("sms_ahead", lang, number=t.number, ahead=ahead)
                self.enqueue(f"ahead:{t.id}", t.phone, "ahead", t.id, text)

    def _forget_phones(self, day: str) -> None:
        """A closed day keeps no phone numbers (docs/design.md §7), in the channels' tables too."""
        self.db.execute("UPDATE remote_codes SET phone=NULL WHERE day<=?", [day])
        self.db.execute("UPDATE sms_outbox SET phone='' WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL")
        self.db.execute("UPDATE sms_inbox SET phone=NULL")
        self.db.execute("UPDATE appointments SET phone=NULL WHERE state NOT IN ('booked','pending')")
