"""USSD menus for feature phones: the Kenyan aggregators' callback (sessionId, serviceCode, phoneNumber, text).

The aggregator sends every answer of the session so far, ``*``-joined, in
``text``; so a screen is computed from that path alone and the server keeps no
session state (a restarted server, or a second server, answers the same). A
choice that fits no item is ignored and the same screen comes back with
"Invalid choice." in front. Actions (take, cancel) run only when they are the
last answer, so replaying a path never repeats them; taking a ticket is also
idempotent per session. Every screen, ``CON``/``END`` included, fits 182 characters.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date

from centre_server.channels.core import ChannelError, ChannelHub, refusal_error
from centre_server.channels.i18n import ascii_fit, localise, tr, wait_phrase
from centre_server.channels.info import plain_parts, split_pages
from centre_server.contract import Channel, IssueRefusal, TicketState
from centre_server.contract.catalogue import CatalogueStatePayload, Text
from centre_server.contract.errors import Refusal
from centre_server.contract.payments import PaymentState
from centre_server.contract.phone import normalise_phone
from centre_server.queue.visits import MAX_VISIT_SERVICES

logger = logging.getLogger(__name__)

MAX_SCREEN = 182
MAX_TEXT = 160  # a session's answers so far; real sessions stay far below
MORE = "98"
BACK = "0"
NAME_MAX = 34
CONFIRM_NAME_MAX = 60  # the confirmation's one name: its other lines leave this much room in both languages
PREFIX_ROOM = 18  # room kept on every screen for "Invalid choice." / "Chaguo si sahihi."


def con(body: str) -> str:
    return _fit("CON " + body)


def end(body: str) -> str:
    return _fit("END " + body)


def _fit(screen: str) -> str:
    return screen if len(screen) <= MAX_SCREEN else screen[: MAX_SCREEN - 2] + ".."


def paginate(header: str, labels: list[str], back: str, more: str) -> list[list[int]]:
    """Split items into pages that fit a screen with the header and the More/Back lines; at most 9 a page."""
    pages: list[list[int]] = []
    current: list[int] = []
    budget = MAX_SCREEN - len("CON ") - PREFIX_ROOM - len(header) - 1 - len(more) - 1 - len(back)
    used = 0
    for i, label in enumerate(labels):
        line = len(f"{len(current) + 1}. {label}") + 1
        if current and (used + line > budget or len(current) >= 9):
            pages.append(current)
            current, used = [], 0
            line = len(f"1. {label}") + 1
        current.append(i)
        used += line
    if current:
        pages.append(current)
    return pages


@dataclass
class Menu:
    """One screen of choices, a page of a longer list."""

    header: str
    labels: list[str]
    page: int = 0
    pages: list[list[int]] = field(default_factory=list)

    def render(self, lang: str, prefix: str = "") -> str:
        more, back = tr("u_more", lang), tr("u_back", lang)
        if not self.pages:
            self.pages = paginate(self.header, self.labels, back, more)
        idx = self.pages[self.page] if self.pages else []
        lines = [prefix + self.header] if prefix else [self.header]
        lines += [f"{n}. {self.labels[i]}" for n, i in enumerate(idx, start=1)]
        if self.page + 1 < len(self.pages):
            lines.append(more)
        lines.append(back)
        return con("\n".join(lines))

    def pick(self, token: str, lang: str) -> int | None | str:
        """The chosen item's index, "more", "back", or None for a choice that fits nothing."""
        more, back = tr("u_more", lang), tr("u_back", lang)
        if not self.pages:
            self.pages = paginate(self.header, self.labels, back, more)
        if token == MORE and self.page + 1 < len(self.pages):
            return "more"
        if token == BACK:
            return "back"
        if token.isdigit() and self.pages:
            n = int(token)
            idx = self.pages[self.page]
            if 1 <= n <= len(idx):
                return idx[n - 1]
        return None


class UssdSession:
    """Walks the answers of one session and returns the screen for the last one."""

    def __init__(self, hub: ChannelHub, session_id: str, phone: str) -> None:
        self.hub = hub
        self.session_id = session_id
        self.phone = phone
        self.lang = "en"
        self._catalogue: CatalogueStatePayload | None = None

    def catalogue(self) -> CatalogueStatePayload:
        """The catalogue as this answer reads it: once per callback (a replayed path reads it at every step)."""
        if self._catalogue is None:
            self._catalogue = self.hub.catalogue()
        return self._catalogue

    # -- lists

    def _categories(self) -> list[tuple[str, str, list]]:
        groups: dict[str, tuple[str, str, list]] = {}
        for s in self.hub.services(self.catalogue()):
            key = s.category or "-"
            groups.setdefault(key, (s.category or "Services", s.category_sw or s.category or "Huduma", []))[2].append(s)
        return list(groups.values())

    def _name(self, en: str, sw: str) -> str:
        return ascii_fit(sw if self.lang == "sw" else en, NAME_MAX)

    def _open_waiting(self) -> list:
        """This phone's tickets of today still waiting or at a counter."""
        return self.hub.open_tickets_of(self.phone)

    # -- the walk

    def answer(self, text: str) -> str:
        tokens = [tok.strip() for tok in text.split("*")] if text else []
        state: tuple = ("lang",)
        invalid = False
        for i, tok in enumerate(tokens):
            last = i == len(tokens) - 1
            nxt = self._step(state, tok, last)
            if isinstance(nxt, str):  # a final screen: the true answer, even to a longer replay
                return nxt  # (e.g. the centre closed while this session was in its menus)
            if nxt is None:
                invalid = True
                continue
            invalid = False
            state = nxt
        return self._screen(state, tr("u_invalid", self.lang) + "\n" if invalid else "")

    def _screen(self, state: tuple, prefix: str) -> str:
        kind = state[0]
        if kind == "lang":
            return con(prefix + ascii_fit(self.hub.centre.settings.centre_name, 60)
                       + "\n1. English\n2. Kiswahili")
        if kind == "main":
            return con(prefix + tr("u_main", self.lang) + "\n" + tr("u_back", self.lang))
        if kind in ("cats", "icats"):
            return self._cat_menu(state[1]).render(self.lang, prefix)
        if kind in ("svcs", "isvcs"):
            return self._svc_menu(state[1], state[2]).render(self.lang, prefix)
        if kind == "info":
            return self._info_screen(state[1], state[2], prefix)
        if kind == "confirm":
            svc = self.hub.service(state[1])
            f = self.hub.figures(state[1])
            # the one name on this screen, whole where it fits ("Kitambulisho badala ya..." told two apart by
            # nothing); a list's names stay short so that a page holds enough of them
            name = ascii_fit(svc.name_sw if self.lang == "sw" else svc.name_en, CONFIRM_NAME_MAX) if svc else "?"
            refused = self.hub.refusal(state[1], f)
            if refused is not None and refused.code == IssueRefusal.after_last_call and refused.book_day:
                body = tr("u_confirm_book_no_counter" if refused.no_counter else "u_confirm_book", self.lang,
                          service=name, day=self._day(refused.book_day))
            elif refused is not None and refused.code == IssueRefusal.service_suspended:  # the reason, no ticket
                more = len(tr("u_confirm_suspended", self.lang, reason=""))
                room = MAX_SCREEN - len("CON ") - PREFIX_ROOM - len(name) - 1 - more - len(tr("u_back", self.lang)) - 1
                reason = refused.kw.get("reason")
                words = tr("info_suspended_plain", self.lang, reason=reason.get(self.lang)) if isinstance(
                    reason, Text) else refused.message(self.lang)
                body = name + "\n" + tr("u_confirm_suspended", self.lang, reason=ascii_fit(words, room))
            elif refused is not None:  # closed meanwhile, or too late and no bookings: say so, offer nothing
                body = name + "\n" + ascii_fit(refused.message(self.lang), MAX_SCREEN - PREFIX_ROOM - 50)
            else:
                then = _then_of(state)
                if then:  # a one-stop visit: the services after the first, on the same ticket
                    name = ascii_fit(" + ".join([name, *(self._svc_name(x) for x in then)]), 90)
                body = tr("u_confirm", self.lang, service=name, n=f["queued"], wait=self.hub.wait_text(self.lang, f))
                if self._visit_offers(state[1], then):
                    body += "\n" + tr("u_add_service", self.lang)
            return con(prefix + body + "\n" + tr("u_back", self.lang))
        if kind == "also":
            return self._also_menu(state[1], state[2], state[3]).render(self.lang, prefix)
        if kind == "book":
            return self._book_menu(state[1], state[2], state[3]).render(self.lang, prefix)
        if kind == "cancel_list":
            return self._cancel_menu(state[1]).render(self.lang, prefix)
        if kind == "cancel_ask":
            t = self.hub.centre.ticket(state[1])
            svc = self.hub.service(t.service_id) if t else None
            return con(prefix + tr("u_cancel_ask", self.lang, number=t.number if t else "?",
                                   service=self._name(svc.name_en, svc.name_sw) if svc else "?"))
        return end(tr("u_bad_request", self.lang))

    def _shows_info(self, service_id: str) -> bool:
        """Whether the service's take-a-ticket screen offers "2. What you need" (not when it offers a booking)."""
        refused = self.hub.refusal(service_id)
        return refused is None or refused.code == IssueRefusal.service_suspended

    def _info_pages(self, service_id: str) -> tuple[str, list[str]]:
        """The service's name and its information cut into screens: each page fits with the header
        ("Name (2/3)"), More, Back and the room kept for "Invalid choice."."""
        svc = self.hub.service(service_id)
        info = self.catalogue().info(service_id)
        name = self._name(svc.name_en, svc.name_sw) if svc else service_id
        if info is None:
            return name, [tr("u_info_none", self.lang)]
        header = tr("u_info_page", self.lang, name=name, page=99, pages=99)
        room = (MAX_SCREEN - len("CON ") - PREFIX_ROOM - len(header) - 1 - len(tr("u_more", self.lang)) - 1
                - len(tr("u_back", self.lang)) - 1)
        return name, split_pages(plain_parts(info, self.lang, one_per_line=True), room)

    def _info_screen(self, service_id: str, page: int, prefix: str) -> str:
        name, pages = self._info_pages(service_id)
        page = min(page, len(pages) - 1)
        lines = [prefix + tr("u_info_page", self.lang, name=name, page=page + 1, pages=len(pages)), pages[page]]
        if page + 1 < len(pages):
            lines.append(tr("u_more", self.lang))
        lines.append(tr("u_back", self.lang))
        return con("\n".join(lines))

    def _cat_menu(self, page: int) -> Menu:
        cats = self._categories()
        m = Menu(tr("u_categories", self.lang), [self._name(en, sw) for en, sw, _ in cats])
        m.page = page
        return m

    def _svc_menu(self, cat: int, page: int) -> Menu:
        services = self._categories()[cat][2]
        m = Menu(tr("u_services", self.lang), [self._name(s.name_en, s.name_sw) for s in services])
        m.page = page
        return m

    def _day(self, d: date) -> str:
        return ascii_fit(localise(self.lang, d), 24)

    def _day_slots(self, service_id: str, day: str) -> list[tuple[float, int]]:
        """The service's slots on ``day`` (ISO) with the places left, as /book offers them. Full ones stay
        in the list, so a number chosen on one screen means the same time when the answer arrives."""
        for d, times in self.hub.slots(service_id):
            if d.isoformat() == day:
                return times
        return []

    def _book_menu(self, service_id: str, day: str, page: int) -> Menu:
        full = tr("full", self.lang)
        m = Menu(tr("u_book_slots", self.lang, day=self._day(date.fromisoformat(day))),
                 [self.hub.local(ts).strftime("%H:%M") + ("" if left > 0 else f" ({full})")
                  for ts, left in self._day_slots(service_id, day)])
        m.page = page
        return m

    def _cancel_menu(self, page: int) -> Menu:
        waiting = [t for t in self._open_waiting() if t.state == TicketState.waiting]
        labels = []
        for t in waiting:
            svc = self.hub.service(t.service_id)
            labels.append(f"{t.number} " + (ascii_fit(svc.name_sw if self.lang == "sw" else svc.name_en, 20)
                                            if svc else ""))
        m = Menu(tr("u_cancel_pick", self.lang), labels)
        m.page = page
        return m

    def _step(self, state: tuple, tok: str, last: bool) -> tuple | str | None:
        """The next state, a final screen (str), or None for an invalid choice."""
        kind = state[0]
        if kind == "lang":
            if tok in ("1", "2"):
                self.lang = "en" if tok == "1" else "sw"
                return ("main",)
            return None
        if kind == "main":
            if tok == "1":
                reason, opens_at, _ = self.hub.closed()
                if reason is not None:  # closed: no ticket, and when it opens again
                    return end(ascii_fit(refusal_error(IssueRefusal.day_closed, opens_at, None).message(self.lang),
                                         MAX_SCREEN - 4))
                if not self._categories():
                    return end(tr("u_none", self.lang))
                return ("cats", 0)
            if tok == "2":
                return self._status() if last else end(tr("u_bad_request", self.lang))
            if tok == "4":  # service information: open or closed, a citizen may read what to bring
                return ("icats", 0) if self._categories() else end(tr("u_none", self.lang))
            if tok == "3":
                waiting = [t for t in self._open_waiting() if t.state == TicketState.waiting]
                if not waiting:
                    return end(tr("u_no_ticket", self.lang))
                if len(waiting) == 1:
                    return ("cancel_ask", waiting[0].id, None)
                return ("cancel_list", 0)
            if tok == BACK:
                return ("lang",)
            return None
        if kind in ("cats", "svcs", "cancel_list", "icats", "isvcs"):
            listing = kind in ("svcs", "isvcs")  # (kind, category, page); the others are (kind, page)
            menu = (self._cat_menu(state[1]) if kind in ("cats", "icats") else self._svc_menu(state[1], state[2])
                    if listing else self._cancel_menu(state[1]))
            choice = menu.pick(tok, self.lang)
            page = state[1] if not listing else state[2]
            if choice is None:
                return None
            if choice == "more":
                return (kind, page + 1) if not listing else (kind, state[1], page + 1)
            if choice == "back":
                if page > 0:
                    return (kind, page - 1) if not listing else (kind, state[1], page - 1)
                return ("main",) if not listing else ("cats" if kind == "svcs" else "icats", 0)
            assert isinstance(choice, int)
            if kind in ("cats", "icats"):
                return ("svcs" if kind == "cats" else "isvcs", choice, 0)
            if kind == "svcs":
                return ("confirm", self._categories()[state[1]][2][choice].id, state, ())
            if kind == "isvcs":
                return ("info", self._categories()[state[1]][2][choice].id, 0, state)
            waiting = [t for t in self._open_waiting() if t.state == TicketState.waiting]
            return ("cancel_ask", waiting[choice].id, state)
        if kind == "confirm":
            if tok == "1":
                refused = self.hub.refusal(state[1])
                if refused is not None and refused.code == IssueRefusal.after_last_call and refused.book_day:
                    day = refused.book_day.isoformat()
                    if not any(left > 0 for _, left in self._day_slots(state[1], day)):
                        return end(ascii_fit(tr("u_no_slots", self.lang, day=self._day(refused.book_day)),
                                             MAX_SCREEN - 4))
                    return ("book", state[1], day, 0, state)
                if not last and self._pushable(state[1]):  # the ticket was taken: now how to pay (issue 20)
                    return ("pay", state[1], _then_of(state))
                return self._take(state[1], _then_of(state)) if last else end(tr("u_bad_request", self.lang))
            if tok == "3" and self.hub.refusal(state[1]) is None and self._visit_offers(state[1], _then_of(state)):
                return ("also", state[1], _then_of(state), 0, state)
            if tok == "2" and self._shows_info(state[1]):  # what to bring, the fee: then back to this screen
                return ("info", state[1], 0, state)
            if tok == BACK:
                return state[2]
            return None
        if kind == "book":
            menu = self._book_menu(state[1], state[2], state[3])
            choice = menu.pick(tok, self.lang)
            if choice is None:
                return None
            if choice == "more":
                return ("book", state[1], state[2], state[3] + 1, state[4])
            if choice == "back":
                return ("book", state[1], state[2], state[3] - 1, state[4]) if state[3] > 0 else state[4]
            assert isinstance(choice, int)
            if not last:
                return end(tr("u_bad_request", self.lang))
            return self._book(state[1], self._day_slots(state[1], state[2])[choice][0])
        if kind == "also":  # (also, first service, then so far, page, the confirm screen)
            menu = self._also_menu(state[1], state[2], state[3])
            choice = menu.pick(tok, self.lang)
            if choice is None:
                return None
            if choice == "more":
                return ("also", state[1], state[2], state[3] + 1, state[4])
            if choice == "back":
                return ("also", state[1], state[2], state[3] - 1, state[4]) if state[3] > 0 else state[4]
            assert isinstance(choice, int)
            added = self._visit_offers(state[1], state[2])[choice]
            confirm = state[4]
            return ("confirm", confirm[1], confirm[2], (*state[2], added))
        if kind == "info":
            if tok == MORE and state[2] + 1 < len(self._info_pages(state[1])[1]):
                return ("info", state[1], state[2] + 1, state[3])
            if tok == BACK:
                return ("info", state[1], state[2] - 1, state[3]) if state[2] > 0 else state[3]
            return None
        if kind == "pay":  # "1. Pay now by M-Pesa 2. Pay at the counter", after the ticket (pay, service, then)
            if tok in ("1", "2"):
                return self._pay(state[1], state[2], now=tok == "1") if last else end(tr("u_bad_request", self.lang))
            return None
        if kind == "cancel_ask":
            if tok == "1":
                return self._cancel(state[1]) if last else end(tr("u_bad_request", self.lang))
            if tok == "2":
                t = self.hub.centre.ticket(state[1])
                return end(tr("u_kept", self.lang, number=t.number if t else ""))
            if tok == BACK:
                return state[2] or ("main",)
            return None
        return None

    # -- actions

    def _svc_name(self, service_id: str) -> str:
        svc = self.hub.service(service_id)
        return self._name(svc.name_en, svc.name_sw) if svc else service_id

    def _visit_offers(self, first: str, then: tuple[str, ...]) -> list[str]:
        """What "3. Add another service" offers: the menu's services after the last one chosen, issuing now."""
        plan = [first, *then]
        if len(plan) >= MAX_VISIT_SERVICES:
            return []
        last = self.hub.service(plan[-1])
        return [sid for sid in (last.then if last is not None else ()) if sid not in plan
                and self.hub.service(sid) is not None and self.hub.refusal(sid) is None]

    def _also_menu(self, first: str, then: tuple[str, ...], page: int) -> Menu:
        m = Menu(tr("u_add_title", self.lang), [self._svc_name(x) for x in self._visit_offers(first, then)])
        m.page = page
        return m

    def _take(self, service_id: str, then: tuple[str, ...] = ()) -> str:
        day = self.hub.centre.state.day
        try:
            t, code = self.hub.issue_remote(service_id, self.phone, self.lang, Channel.ussd,
                                            key=f"ussd:{day}:{self.session_id}", then=then)
        except ChannelError as err:
            return end(ascii_fit(err.message(self.lang), MAX_SCREEN - 4))
        out = self.hub.centre.ticket_out(t)
        amount = self._pushable(service_id)
        if amount:  # a fee M-Pesa can take now: the ticket, then the choice (the next answer pays)
            words = dict(number=t.number, ahead=out.position, code=code or "-", amount=f"{amount:,}")
            body = tr("u_issued_fee_wait", self.lang,
                      wait=wait_phrase(self.lang, out.estimated_wait_s, out.wait_unknown), **words)
            if len("CON " + body) > MAX_SCREEN:  # a long "why no wait": the choice must stay whole
                body = tr("u_issued_fee", self.lang, **words)
            return con(body)
        return end(tr("u_issued", self.lang, number=t.number, ahead=out.position,
                      wait=wait_phrase(self.lang, out.estimated_wait_s, out.wait_unknown),
                      code=code or "-"))

    def _pushable(self, service_id: str) -> int:
        return self.hub.pushable_fee(service_id)

    def _pay(self, service_id: str, then: tuple[str, ...], now: bool) -> str:
        """The session's ticket (taking is idempotent per session), then the prompt to the session's own phone,
        or the word that the counter takes the fee."""
        day = self.hub.centre.state.day
        try:
            t, _ = self.hub.issue_remote(service_id, self.phone, self.lang, Channel.ussd,
                                         key=f"ussd:{day}:{self.session_id}", then=then)
        except ChannelError as err:
            return end(ascii_fit(err.message(self.lang), MAX_SCREEN - 4))
        amount = f"{self._pushable(service_id):,}"
        if not now:
            return end(tr("u_pay_counter", self.lang, number=t.number, amount=amount))
        try:
            out = self.hub.pay_now(t.id, self.phone)
        except Refusal as err:
            words = str(err.extra.get("message_sw") or err.message) if self.lang == "sw" else err.message
            return end(ascii_fit(tr("u_pay_refused", self.lang, number=t.number, why=words), MAX_SCREEN - 4))
        if out.state == PaymentState.failed:
            why = (out.reason_sw if self.lang == "sw" else out.reason_en) or ""
            return end(ascii_fit(tr("u_pay_refused", self.lang, number=t.number, why=why), MAX_SCREEN - 4))
        return end(ascii_fit(tr("u_pay_sent", self.lang, number=t.number, amount=amount), MAX_SCREEN - 4))

    def _book(self, service_id: str, slot_at: float) -> str:
        """Book the chosen time; the booking SMS follows, as from /book. An aggregator's retry books nothing
        more (the same phone, service and time give the same booking)."""
        try:
            appt = self.hub.book(service_id, slot_at, self.phone, self.lang, confirmed=True)  # from the phone itself
        except ChannelError as err:
            return end(ascii_fit(err.message(self.lang), MAX_SCREEN - 4))
        svc = self.hub.service(service_id)
        start, _ = self.hub.window(slot_at)
        when = self.hub.local(slot_at)
        return end(ascii_fit(tr("u_booked", self.lang, service=self._name(svc.name_en, svc.name_sw) if svc else "",
                                when=f"{when:%d/%m %H:%M}", code=appt["code"],
                                start=self.hub.local(start).strftime("%H:%M")), MAX_SCREEN - 4))

    def _status(self) -> str:
        tickets = self._open_waiting()
        if not tickets:
            return end(tr("u_no_ticket", self.lang))
        lines = []
        for t in tickets[-2:]:
            out = self.hub.centre.ticket_out(t)
            if t.state == TicketState.waiting and out.check_in_by is not None:  # passed over: check in now
                lines.append(tr("u_status_passed_over", self.lang, number=t.number, time=f"{out.check_in_by:%H:%M}",
                                code=self.hub.code_of(t.id) or "-"))
            elif t.state == TicketState.waiting:
                svc = self.hub.service(t.service_id)
                lines.append(tr("u_status_waiting", self.lang, number=t.number,
                                service=ascii_fit(svc.name_sw if self.lang == "sw" else svc.name_en, 24)
                                if svc else "",
                                ahead=out.position,
                                wait=wait_phrase(self.lang, out.estimated_wait_s, out.wait_unknown),
                                code=self.hub.code_of(t.id) or "-"))
            elif t.state == TicketState.parked:  # sent to fetch a document: called again on return
                lines.append(tr("u_status_parked", self.lang, number=t.number))
            else:
                lines.append(tr("u_status_called", self.lang, number=t.number, counter=out.counter_name or "?"))
        return end("\n".join(lines))

    def _cancel(self, ticket_id: str) -> str:
        t = self.hub.centre.ticket(ticket_id)
        if t is None or t.phone != self.phone:
            return end(tr("u_no_ticket", self.lang))
        try:
            self.hub.cancel_by_citizen(t, "USSD")
        except ChannelError as err:
            return end(ascii_fit(err.message(self.lang), MAX_SCREEN - 4))
        return end(tr("u_cancelled", self.lang, number=t.number))


SESSION_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def _then_of(state: tuple) -> tuple[str, ...]:
    """The services added after the first on a take-a-ticket screen (a one-stop visit), or ()."""
    return state[3] if len(state) > 3 else ()


def refusal_screen(key: str, text: str | None = None) -> str:
    """A refusing END screen in the session's language when its first answer chose one, else in both."""
    first = (text or "").split("*", 1)[0].strip() if text and re.fullmatch(r"[0-9*# ]{1,160}", text) else ""
    if first in ("1", "2"):
        return end(tr(key, "en" if first == "1" else "sw"))
    return end(tr(key, "en") + "\n" + tr(key, "sw"))


def respond(hub: ChannelHub, session_id: str | None, phone: str | None, text: str | None) -> str:
    """The reply to one USSD callback; never raises for anything a caller sends."""
    if not session_id or not SESSION_RE.match(session_id) or text is None and phone is None:
        return refusal_screen("u_bad_request")
    text = text or ""
    if len(text) > MAX_TEXT or not re.fullmatch(r"[0-9*# ]*", text):
        return refusal_screen("u_bad_request")
    norm = normalise_phone(phone)
    if norm is None:
        return refusal_screen("u_bad_phone", text)
    return UssdSession(hub, session_id, norm).answer(text)
