"""The Huduma Call Centre's inbox at headquarters, collected by this centre: look-ups and bookings for callers.

Headquarters cannot connect into a centre's LAN, so this centre asks: every
``[upstream] inbox_every_s`` seconds (3 by default) a thread ``POST``s to
headquarters' inbox with the centre's token, answers each request through the
channels' own code (the same tickets, bookings, limits and SMS as the web and
USSD) and sends the answer back. The thread is a ``runtime.periodic.Periodic``
(one shape with the centre's other links to headquarters): while headquarters
is unreachable it backs off; bookings made for callers meanwhile wait at headquarters and arrive when
the link returns. Each answer is kept (``national_requests``), so a request
handed out again (its answer lost on the way) is answered the same, never
booked twice. The caller's SMS is the centre's ordinary booking SMS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError
from starlette.routing import Mount

from centre_server.channels.core import ChannelError, ChannelHub
from centre_server.contract import TicketState
from centre_server.contract.national import (
    INBOX_ANSWER_PATH,
    INBOX_PATH,
    AskKind,
    BookAsk,
    InboxAnswer,
    InboxBatch,
    InboxRequest,
    LookupAsk,
    Standing,
    StandingKind,
)
from centre_server.contract.phone import normalise_phone
from centre_server.dayclose.upstream import upstream_target
from centre_server.queue import engine
from centre_server.runtime.periodic import Backoff, HeadquartersLink
from centre_server.store import database as storage

if TYPE_CHECKING:
    from centre_server.channels import ChannelsExtension
    from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

LIVE_APPOINTMENTS = ("pending", "booked", "checked_in")


class InboxAnswerer:
    """Answers headquarters' requests from this centre's state, through the channels' hub."""

    def __init__(self, hub: ChannelHub) -> None:
        self.hub = hub
        self.centre = hub.centre

    def answer(self, req: InboxRequest) -> InboxAnswer:
        """The answer (the stored one when this request was answered before)."""
        with self.centre.lock:
            row = self.hub.db.execute("SELECT answer FROM national_requests WHERE request_id=?", [req.id]).fetchone()
            if row is not None:
                return InboxAnswer.model_validate_json(row[0])
            if req.kind is AskKind.book and req.book is not None:
                result = self.book(req.book)
            else:
                assert req.lookup is not None
                result = self.lookup(req.lookup)
            self.hub.db.execute("INSERT INTO national_requests(request_id, kind, answer, answered_at) "
                                "VALUES (?,?,?,?)", [req.id, req.kind.value,
                                                     result.model_dump_json(exclude_none=True), self.hub.now()])
        return result

    # ------------------------------------------------------------------ look-ups

    def lookup(self, ask: LookupAsk) -> InboxAnswer:
        """Today's tickets and the live bookings of a phone, or the ticket or booking of a code."""
        state = self.centre.state
        now = self.hub.now()
        found: list[Standing] = []
        phone = normalise_phone(ask.phone) if ask.phone else None
        tickets = []
        appts: list[dict[str, Any]] = []
        if phone:
            tickets = [t for t in state.tickets.values() if t.phone == phone and t.day == state.day]
            appts = self._appointments("phone=?", [phone])
        if ask.code and len(ask.code) == 6:  # a remote ticket's check-in code, today's
            row = self.hub.db.execute("SELECT ticket_id FROM remote_codes WHERE day=? AND code=?",
                                      [state.day, ask.code]).fetchone()
            t = state.tickets.get(row[0]) if row else None
            if t is not None and t not in tickets:
                tickets.append(t)
        if ask.code and len(ask.code) == 8:  # a booking's code
            appts += [a for a in self._appointments("code=?", [ask.code]) if a not in appts]
        for t in sorted(tickets, key=lambda t: t.issued_at):
            found.append(self._ticket(t, now))
        for a in sorted(appts, key=lambda a: a["slot_at"]):
            found.append(self._booking(a))
        return InboxAnswer(ok=True, found=found[:50])

    def _appointments(self, where: str, args: list[Any]) -> list[dict[str, Any]]:
        since = self.hub.now() - 12 * 3600
        cur = self.hub.db.execute(f"SELECT * FROM appointments WHERE {where} AND slot_at >= ? AND state IN "
                                  f"({','.join('?' * len(LIVE_APPOINTMENTS))})", [*args, since, *LIVE_APPOINTMENTS])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _names(self, service_id: str) -> tuple[str, str]:
        svc = self.centre.state.services.get(service_id)
        return (svc.name_en, svc.name_sw) if svc else (service_id, service_id)

    def _ticket(self, t: Any, now: float) -> Standing:
        en, sw = self._names(t.service_id)
        ahead = wait = None
        if t.state == TicketState.waiting and t.id in self.centre.state.tickets:
            ahead = engine.people_ahead(self.centre.state, t)
            est, _ = engine.ticket_wait(self.centre.state, t, now)
            wait = None if est is None else round(est / 60)
        return Standing(kind=StandingKind.ticket, service_id=t.service_id, service_en=en[:120], service_sw=sw[:120],
                        state=str(t.state), number=t.number, ahead=ahead, wait_min=wait, checked_in=t.checked_in)

    def _booking(self, a: dict[str, Any]) -> Standing:
        en, sw = self._names(a["service_id"])
        return Standing(kind=StandingKind.booking, service_id=a["service_id"], service_en=en[:120],
                        service_sw=sw[:120], state=a["state"], slot_at=self.hub.local(a["slot_at"]))

    # ------------------------------------------------------------------ bookings

    def book(self, ask: BookAsk) -> InboxAnswer:
        """The first free slot of ``ask.day`` from ``ask.earliest``, held at once: the agent has the caller on the
        line (as USSD has the phone itself), and the centre's booking SMS tells the caller the code."""
        hh, mm = (int(x) for x in ask.earliest.split(":"))
        earliest = datetime(ask.day.year, ask.day.month, ask.day.day, hh, mm, tzinfo=self.centre.tz).timestamp()
        try:
            days = dict(self.hub.slots(ask.service_id))
            free = [ts for ts, left in days.get(ask.day, []) if ts >= earliest and left > 0]
            if not free:
                return _refused("no_slot", "no free slot that day from that time",
                                "hakuna nafasi siku hiyo kuanzia saa hiyo")
            before = self.hub.now()
            appt = self.hub.book(ask.service_id, free[0], ask.phone, ask.language.value, confirmed=True)
        except ChannelError as err:
            return _refused(err.code, err.message("en"), err.message("sw"))
        # the code goes to the agent only for the booking made now: a booking the number held already is not
        # read out to whoever gives that number on the phone (the owner has it by SMS)
        made_now = appt["created_at"] >= before
        return InboxAnswer(ok=True, booking=self._booking(appt), booking_code=appt["code"] if made_now else None)


def _refused(code: str, en: str, sw: str) -> InboxAnswer:
    return InboxAnswer(ok=False, refusal_code=code[:40], refusal_en=en[:300], refusal_sw=sw[:300])


class InboxPoller(HeadquartersLink):
    """The thread that asks headquarters' inbox, answers, and sends the answers back."""

    expected = (httpx.HTTPError, ValidationError, ValueError)

    def __init__(self, answerer: InboxAnswerer, hq_url: str, hq_token: str, every_s: float,
                 timeout_s: float = 10.0) -> None:
        # a caller's booking waits at most a minute more; a request in flight may finish before the stop
        super().__init__("national-inbox", "headquarters' inbox at", hq_url, hq_token, every_s=every_s,
                         backoff=Backoff(base_s=max(every_s, 2.0), cap_s=60.0), timeout_s=timeout_s,
                         join_s=timeout_s + 5, off_words="no headquarters inbox: inbox_every_s = 0")
        self.answerer = answerer
        self.answered = 0
        self._pruned_at = 0.0

    def run_once(self) -> float:
        if time.monotonic() - self._pruned_at > 86400 or not self._pruned_at:  # at the start, then daily
            self.prune()
            self._pruned_at = time.monotonic()
        return self.once(self.http)

    def new_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout_s,
                            headers={**self.client_headers(), "Authorization": f"Bearer {self.hq_token}"})

    def prune(self, keep_days: float = 7.0) -> None:
        """Forget answers older than a week (headquarters hands a request out again within minutes, not days)."""
        hub = self.answerer.hub
        with hub.centre.lock:
            gone = hub.db.execute("DELETE FROM national_requests WHERE answered_at < ?",
                                  [hub.now() - keep_days * 86400]).rowcount
        if gone:
            logger.info("forgot %s answered request(s) from headquarters older than %s days", gone, keep_days)

    def once(self, http: httpx.Client) -> float:
        """One round: take the waiting requests, answer each, send the answers; returns the wait until the next."""
        r = http.post(self.hq_url + INBOX_PATH)
        r.raise_for_status()
        batch = InboxBatch.model_validate_json(r.content)
        for req in batch.requests:
            try:
                answer = self.answerer.answer(req)
            except Exception:  # noqa: BLE001 - one request this centre cannot answer must not stop the others
                logger.exception("could not answer headquarters' request %s", req.id)
                answer = _refused("centre_failed", "the centre could not answer: its log says why",
                                  "kituo hakikuweza kujibu: kumbukumbu zake zinaeleza sababu")
            sent = http.post(self.hq_url + INBOX_ANSWER_PATH.format(request_id=req.id),
                             content=answer.model_dump_json(exclude_none=True),
                             headers={"Content-Type": "application/json"})
            if sent.status_code == 422 and answer.booking_code is not None:
                # a headquarters older than the booking code refuses the field: the answer goes without it
                # (the caller has the code by SMS), rather than never
                sent = http.post(self.hq_url + INBOX_ANSWER_PATH.format(request_id=req.id),
                                 content=answer.model_dump_json(exclude_none=True, exclude={"booking_code"}),
                                 headers={"Content-Type": "application/json"})
            if sent.status_code == 404:  # headquarters forgot it (rebuilt): nothing more to do
                logger.warning("headquarters does not know request %s any more", req.id)
                continue
            sent.raise_for_status()
            self.answered += 1
        return self.every_s if not batch.requests else 0.2  # more may be waiting: ask again soon


class NationalInboxExtension:
    """This centre's side of the call centre: polls headquarters' inbox while the server runs."""

    name = "national-inbox"
    on_committed = None

    def __init__(self, channels: ChannelsExtension) -> None:
        self.channels = channels
        self.poller: InboxPoller | None = None

    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        url, token = upstream_target(centre.settings)
        every = centre.settings.upstream.inbox_every_s
        if not url or not token or every <= 0:
            logger.info("no headquarters inbox: [upstream] hq_url/hq_token unset or inbox_every_s = 0")
            return
        self.poller = InboxPoller(InboxAnswerer(self.channels.running_hub()), url, token, every)
        self.poller.install_id = storage.install_id(centre.db)
        centre.headquarters.add(self.poller)
        self.poller.start()

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()


__all__ = ["InboxAnswerer", "InboxPoller", "NationalInboxExtension"]
