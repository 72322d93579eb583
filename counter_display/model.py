"""What the display knows and what it puts on screen, with no Kivy in sight.

The model is fed (topic, payload, retained) triples from MQTT and link changes,
all on one thread (the UI thread drains a queue), and decides everything the
screens show: the views are plain dataclasses the Kivy widgets copy text from.
Truth comes from retained state alone: on every (re)connect the model forgets
what it held and takes the broker's retained payloads afresh, and whenever the
broker is unreachable or the server's availability is ``offline`` the views say
so instead of passing old numbers off as live.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from centre_server.contract import (
    Availability,
    CounterState,
    CounterStatePayload,
    DayStatePayload,
    EventPayload,
    EventType,
    HallCall,
    HallNextStep,
    HallStatePayload,
    IssueRefusal,
    ServiceStatePayload,
    TopicError,
    Topics,
    WaitUnknown,
    opens_again,
)
from centre_server.contract.catalogue import CatalogueStatePayload, OfferingStatus
from counter_display import i18n

logger = logging.getLogger(__name__)

# How long after the server came online a counter screen waits for its retained state
# before it may say "Counter X is not known". The server publishes the hall state after
# every counter's, so the hall state arriving settles it sooner.
SETTLE_S = 5.0


class Mode(StrEnum):
    hall = "hall"
    counter = "counter"


class Layout(StrEnum):
    """How the hall board is laid out: ``near`` shows everything at once (a hall read from within
    about 4.5 m); ``far`` draws every call and wait at the height read from the back of a 10 m hall
    (``counter_display.legibility``), so its right half turns between the last calls, the services
    three at a time and the information slides."""

    near = "near"
    far = "far"


class Link(StrEnum):
    connecting = "connecting"  # never connected yet
    up = "up"
    down = "down"  # was connected, lost the broker


@dataclass(frozen=True)
class Call:
    """One call of a ticket to a counter, as announced and listed."""

    number: str
    counter_id: str
    counter_name: str
    service_id: str = ""
    called_at: datetime | None = None
    recall: bool = False
    seq: int = 0

    @classmethod
    def from_hall(cls, c: HallCall) -> Call:
        return cls(number=c.number, counter_id=c.counter_id, counter_name=c.counter_name,
                   service_id=c.service_id, called_at=c.called_at, recall=c.recall, seq=c.seq)

    @classmethod
    def from_event(cls, e: EventPayload, counter_name: str) -> Call:
        return cls(number=e.number or "", counter_id=e.counter_id or "", counter_name=counter_name,
                   service_id=e.service_id or "", called_at=e.at,
                   recall=e.type == EventType.ticket_recalled, seq=e.seq)


@dataclass(frozen=True)
class CallRow:
    number: str
    counter_en: str
    counter_sw: str
    recall: bool = False
    counter: str = ""  # the counter's own name ("7"): the far layout's column is headed "Counter / Kaunta"


@dataclass(frozen=True)
class ServiceRow:
    service_id: str
    prefix: str
    name_en: str
    name_sw: str
    waiting: int
    wait_en: str
    wait_sw: str
    open_counters: int
    unknown: bool = False  # no estimate (wait_en/wait_sw say why), or no new tickets taken


@dataclass(frozen=True)
class NextRow:
    """A one-stop visit that moved on: its number, the service it waits for now and where that is served."""

    number: str
    service_en: str
    service_sw: str
    where_en: str  # "Counter 12", "Counters 12, 14", or that no counter serves it yet
    where_sw: str
    counters: str = ""  # the counters' own names ("12, 14"): the far layout's column; empty when none
    line_en: str = ""  # "next: KRA PIN registration, Counter 12"
    line_sw: str = ""

    @classmethod
    def from_hall(cls, step: HallNextStep, far_counters: int = 2) -> NextRow:
        where_en, where_sw = i18n.counters_label(step.counters, "en"), i18n.counters_label(step.counters, "sw")
        return cls(number=step.number, service_en=step.name_en, service_sw=step.name_sw,
                   where_en=where_en, where_sw=where_sw, counters=", ".join(step.counters[:far_counters]),
                   line_en=i18n.tr("next_line", "en", service=step.name_en, where=where_en),
                   line_sw=i18n.tr("next_line", "sw", service=step.name_sw, where=where_sw))


@dataclass(frozen=True)
class Slide:
    """One slide of the hall's information panel, shown for ``DisplayModel.slide_s`` seconds.

    ``bring``: "Did you bring…?" for a service with a long queue, in one language (slides alternate
    English and Kiswahili, so each can be read from the back of the hall); ``suspended``: a service
    stopped now, with its reason in both languages at once.
    """

    kind: str  # "bring" | "suspended" | "next" (visits that moved on: ``rows``)
    service_id: str
    prefix: str
    language: str  # "en" | "sw" | "both" (a suspension)
    title: str
    service: str
    lines: tuple[str, ...]  # the documents to bring, or the reason in English and in Kiswahili
    fee: str = ""
    rows: tuple[NextRow, ...] = ()  # kind "next": each visit's number, what comes next and where


@dataclass(frozen=True)
class HallView:
    centre_name: str
    live: bool
    status_en: str  # empty when live
    status_sw: str
    latest: CallRow | None
    blinking: bool
    recent: list[CallRow]
    services: list[ServiceRow]  # the rows of the current page
    page: int  # 1-based
    pages: int
    people_waiting: int
    notice_en: str
    notice_sw: str
    settled: bool = True  # the server's retained state had its chance: "no calls yet" may be said
    day_closed: bool = False  # the centre takes no tickets today (retained state/day)
    day_en: str = ""  # "The centre is closed for today. Opens ..." (empty while open)
    day_sw: str = ""
    slide: Slide | None = None  # the information panel now (None: no panel, the services take its place)
    slide_index: int = 0  # 1-based position in the rotation, for people who count (0: no slide)
    slides: int = 0
    page_size: int = 8  # service rows on a page (fewer while the information panel is shown)
    panel: str = ""  # far layout: what the right half shows now, "calls" | "services" | "slide" ("": near)
    panel_index: int = 0  # far layout: 1-based place of that panel in the rotation
    panels: int = 0
    next_steps: list[NextRow] = field(default_factory=list)  # visits that moved on, newest first (far: a page)


@dataclass(frozen=True)
class CounterView:
    centre_name: str
    counter_id: str
    known: bool
    counter_en: str
    counter_sw: str
    live: bool
    status_en: str
    status_sw: str
    number: str  # empty when nothing is called at this counter
    state_en: str
    state_sw: str
    service_en: str
    service_sw: str
    hint_en: str  # what to do when nothing is called here: "Please go to another counter"
    hint_sw: str
    blinking: bool


@dataclass
class DisplayModel:
    """The display's state; ``handle`` returns the calls to announce, in order."""

    topics: Topics
    centre_name: str = ""
    mode: Mode = Mode.hall
    counter_id: str | None = None
    layout: Layout = Layout.near
    blink_s: float = 6.0
    last_calls: int = 10
    page_size: int = 8
    page_s: float = 8.0
    slide_s: float = 7.0  # each information slide stays this long
    slide_services: int = 3  # "Did you bring…?" for this many of the longest queues
    slide_documents: int = 4  # documents on a slide (the rest: "and 2 more")
    slide_chars: int = 240  # and no more text than this (at least one document): the type stays large
    next_shown: int = 3  # a visit's next step: this many on the near layout's slide and the far layout's panel

    link: Link = Link.connecting
    server: Availability | None = None
    services: dict[str, ServiceStatePayload] = field(default_factory=dict)
    counters: dict[str, CounterStatePayload] = field(default_factory=dict)
    hall: HallStatePayload | None = None
    day: DayStatePayload | None = None
    catalogue: CatalogueStatePayload | None = None
    rejected: int = 0
    connects: int = 0  # how many times the link came up (more than one: it recovered)
    observers: list[Callable[[DisplayModel], None]] = field(default_factory=list)
    _announced: set[int] = field(default_factory=set)
    _event_calls: list[Call] = field(default_factory=list)  # newest first, until the hall state has them
    _blink_until: float = -math.inf
    _online_since: float | None = None  # when the server was last seen coming online (handle's ``now``)
    _hall_since_online: bool = False  # the hall state came after that: every counter's state has too

    # -- inputs ------------------------------------------------------------

    def link_up(self) -> None:
        """Connected (again): forget everything, retained state is about to arrive."""
        self.link = Link.up
        self.connects += 1
        self.server = None
        self.services.clear()
        self.counters.clear()
        self.hall = None
        self.day = None
        self.catalogue = None
        self._online_since = None
        self._hall_since_online = False
        self._event_calls.clear()
        self._notify()

    def link_down(self) -> None:
        """Lost the broker: keep what we held, but it is no longer live."""
        self.link = Link.down
        self._notify()

    def handle(self, topic: str, payload: bytes, retained: bool = False, now: float = 0.0) -> list[Call]:
        """Take one MQTT message; return the calls it asks to announce (oldest first).

        ``now`` is a monotonic time used for the blinking of a fresh call.
        Bad topics and payloads are logged and counted, never raised.
        """
        try:
            kind, ident = self.topics.parse(topic)
        except TopicError:
            logger.debug("ignoring topic %s", topic)
            return []
        try:
            calls = self._apply(kind, ident, payload, retained, now)
        except (ValidationError, ValueError, UnicodeDecodeError) as exc:
            self.rejected += 1
            logger.warning("rejected payload on %s: %s", topic, str(exc).splitlines()[0])
            return []
        self._notify()
        return calls

    def _apply(self, kind: str, ident: str | None, payload: bytes, retained: bool, now: float) -> list[Call]:
        if kind == "server_availability":
            text = payload.decode().strip()
            server = Availability(text) if text else None
            if server == Availability.online and self.server != Availability.online:
                self._online_since, self._hall_since_online = now, False
            elif server != Availability.online:
                self._online_since, self._hall_since_online = None, False
            self.server = server
            return []
        if kind == "day_state":
            self.day = DayStatePayload.model_validate_json(payload) if payload else None
            return []
        if kind == "catalogue_state":
            self.catalogue = CatalogueStatePayload.model_validate_json(payload) if payload else None
            return []
        if kind == "service_state" and ident:
            if not payload:
                self.services.pop(ident, None)
            else:
                self.services[ident] = ServiceStatePayload.model_validate_json(payload)
            return []
        if kind == "counter_state" and ident:
            if not payload:
                self.counters.pop(ident, None)
                return []
            new = CounterStatePayload.model_validate_json(payload)
            old = self.counters.get(ident)
            self.counters[ident] = new
            if (not retained and self.mode == Mode.counter and ident == self.counter_id and new.ticket
                    and (old is None or old.ticket != new.ticket or old.called_at != new.called_at)):
                self._blink_until = now + self.blink_s
            return []
        if kind == "hall_state":
            if self.server == Availability.online:
                self._hall_since_online = True
            if not payload:
                self.hall = None
                return []
            new_hall = HallStatePayload.model_validate_json(payload)
            old_first = self.hall.calls[0] if self.hall and self.hall.calls else None
            self.hall = new_hall
            first = new_hall.calls[0] if new_hall.calls else None
            if not retained and self.mode == Mode.hall and first is not None and first != old_first:
                self._blink_until = now + self.blink_s
            return []
        if kind == "event" and ident in (EventType.ticket_called, EventType.ticket_recalled):
            event = EventPayload.model_validate_json(payload)
            if not event.number or not event.counter_id:
                raise ValueError(f"{event.type} without a number or a counter")
            if event.seq in self._announced:
                return []  # a QoS 1 duplicate
            self._announced.add(event.seq)
            if len(self._announced) > 1000:
                self._announced = set(sorted(self._announced)[-500:])
            if self.mode == Mode.counter and event.counter_id != self.counter_id:
                return []
            counter = self.counters.get(event.counter_id)
            name = event.counter_name or (counter.name if counter else event.counter_id)
            self._blink_until = now + self.blink_s
            call = Call.from_event(event, name)
            self._event_calls.insert(0, call)
            del self._event_calls[self.last_calls:]
            return [call]
        return []

    def _notify(self) -> None:
        for observer in list(self.observers):
            try:
                observer(self)
            except Exception:  # one broken view must not stop the others
                logger.exception("display observer failed")

    # -- derived -------------------------------------------------------------

    def status_key(self) -> str | None:
        """Why the numbers are not live, or None when they are."""
        if self.link == Link.connecting:
            return "status_connecting"
        if self.link == Link.down:
            return "status_broker_down"
        if self.server == Availability.offline:
            return "status_server_offline"
        if self.server is None:
            return "status_waiting_server"
        return None

    @property
    def live(self) -> bool:
        return self.status_key() is None

    def settled(self, now: float) -> bool:
        """Has the server had a fair chance to publish its retained state on this connection?

        True once the server is online and either its hall state arrived after that (the
        server publishes it after every counter's) or ``SETTLE_S`` passed.
        """
        if self.link != Link.up or self.server != Availability.online or self._online_since is None:
            return False
        return self._hall_since_online or now - self._online_since >= SETTLE_S

    def calls(self) -> list[Call]:
        """The last calls, newest first: the hall state's, or the counters' when it has none."""
        if self.hall is not None:
            hall_calls = [Call.from_hall(c) for c in self.hall.calls]
            newest = max((c.seq for c in hall_calls), default=0)
            # The server publishes the hall state before the event; should one ever
            # come first, the call is still shown at once.
            ahead = [c for c in self._event_calls if newest and c.seq > newest]
            return ahead + hall_calls
        derived = [
            Call(number=c.ticket, counter_id=c.counter_id, counter_name=c.name, service_id=c.service_id or "",
                 called_at=c.called_at, recall=c.recalls > 0)
            for c in self.counters.values() if c.ticket and c.called_at
        ]
        # every derived call has its called_at (filtered above)
        return sorted(derived, key=lambda c: c.called_at, reverse=True)  # type: ignore[arg-type, return-value]

    def service_rows(self) -> list[ServiceRow]:
        """Services worth a line on the board: people waiting or counters open, by ticket prefix."""
        rows = []
        suspended = self.suspended()
        for s in self.services.values():
            if not s.enabled or (s.waiting <= 0 and s.open_counters <= 0):
                continue
            key = "refusal_service_suspended" if s.service_id in suspended else service_note_key(s)
            if key:
                wait_en, wait_sw = i18n.tr(key, "en"), i18n.tr(key, "sw")
            else:  # a newcomer's wait, also where nobody waits: a shared counter may be busy with others' queues
                wait_en, wait_sw = i18n.wait_text(s.estimated_wait_s or 0, "en"), i18n.wait_text(
                    s.estimated_wait_s or 0, "sw")
            rows.append(ServiceRow(
                service_id=s.service_id, prefix=s.prefix, name_en=s.name_en, name_sw=s.name_sw,
                waiting=s.waiting, wait_en=wait_en, wait_sw=wait_sw, open_counters=s.open_counters,
                unknown=key is not None,
            ))
        rows.sort(key=lambda r: (r.prefix, r.service_id))
        return rows

    def suspended(self) -> dict[str, tuple[str, str]]:
        """Services suspended now, with the reason (English, Kiswahili) from the catalogue's offering."""
        out: dict[str, tuple[str, str]] = {}
        for info in self.catalogue.services if self.catalogue else []:
            if info.offering.status == OfferingStatus.suspended:
                reason = info.offering.reason
                out[info.service.id] = (reason.en, reason.sw) if reason else ("", "")
        for s in self.services.values():  # the service's own state says it before the catalogue does
            if not s.accepting and s.refusal == IssueRefusal.service_suspended and s.service_id not in out:
                out[s.service_id] = ("", "")
        return out

    def slides(self) -> list[Slide]:
        """The information panel's rotation: every suspension (both languages), then "Did you bring…?"
        for the ``slide_services`` longest queues that have something to bring or pay, English then
        Kiswahili. Empty when nobody waits and nothing is suspended: the panel goes away."""
        slides: list[Slide] = []
        suspended = self.suspended()
        for sid, (reason_en, reason_sw) in suspended.items():
            state = self.services.get(sid)
            info = self.catalogue.info(sid) if self.catalogue else None
            name_en = state.name_en if state else info.service.name.en if info else sid
            name_sw = state.name_sw if state else info.service.name.sw if info else sid
            prefix = state.prefix if state else info.service.prefix if info else ""
            slides.append(Slide(
                kind="suspended", service_id=sid, prefix=prefix, language="both",
                title=i18n.both("suspended_title"), service=f"{name_en}  /  {name_sw}",
                lines=(reason_en or i18n.tr("suspended_no_reason", "en"),
                       reason_sw or i18n.tr("suspended_no_reason", "sw"))))
        if self.catalogue is not None:
            queues = sorted((s for s in self.services.values() if s.enabled and s.waiting > 0
                             and s.service_id not in suspended), key=lambda s: (-s.waiting, s.prefix))
            shown = 0
            for s in queues:
                info = self.catalogue.info(s.service_id)
                if info is None or info.offering.status != OfferingStatus.offered:
                    continue
                service = info.service
                if not service.documents and service.fee.free:
                    continue  # nothing to bring, nothing to pay: no question to ask
                for lang in ("en", "sw"):
                    docs: list[str] = []
                    for doc in (d.get(lang) for d in service.documents[:self.slide_documents]):
                        if docs and sum(map(len, docs)) + len(doc) > self.slide_chars:
                            break  # large type from the back of the hall beats a complete list
                        docs.append(doc)
                    more = len(service.documents) - len(docs)
                    if more > 0:
                        docs.append(i18n.tr("bring_more", lang, n=more))
                    slides.append(Slide(
                        kind="bring", service_id=s.service_id, prefix=s.prefix, language=lang,
                        title=i18n.tr("bring_title", lang), service=s.name_sw if lang == "sw" else s.name_en,
                        lines=tuple(docs), fee=i18n.fee_text(service.fee, lang)))
                shown += 1
                if shown >= self.slide_services:
                    break
        return slides

    def next_rows(self) -> list[NextRow]:
        """The visits that finished one service and wait for the next, newest first (the hall state's)."""
        if self.hall is None:
            return []
        return [NextRow.from_hall(step) for step in self.hall.next_steps[:max(1, self.next_shown)]]

    def next_slide(self, rows: list[NextRow]) -> Slide:
        """The near layout's slide for visits that moved on: both languages at once, like a suspension,
        so the citizen reads it whichever moment they look up."""
        return Slide(kind="next", service_id="", prefix="", language="both", title=i18n.both("next_title"),
                     service=i18n.both("next_watch"), lines=(), rows=tuple(rows))

    def day_texts(self) -> tuple[str, str]:
        """Both languages' sentence for a closed day, with when the centre opens next; empty while open."""
        if self.day is None or self.day.open:
            return "", ""
        opens = self.day.opens_at
        if opens is None:
            return i18n.tr("day_closed", "en"), i18n.tr("day_closed", "sw")
        return (i18n.tr("day_closed_opens", "en", opens=opens_again(opens, "en")),
                i18n.tr("day_closed_opens", "sw", opens=opens_again(opens, "sw")))

    def _status_texts(self) -> tuple[str, str]:
        key = self.status_key()
        return (i18n.tr(key, "en"), i18n.tr(key, "sw")) if key else ("", "")

    def _centre_name(self) -> str:
        return (self.hall.centre_name if self.hall and self.hall.centre_name else "") or self.centre_name

    def hall_view(self, now: float = 0.0) -> HallView:
        """What the hall board shows at monotonic time ``now`` (paging and blinking follow it)."""
        calls, seen = [], set()
        for c in self.calls():  # a recalled ticket is listed once, at its latest call
            if (c.number, c.counter_id) not in seen:
                seen.add((c.number, c.counter_id))
                calls.append(c)
        rows = [CallRow(c.number, i18n.counter_label(c.counter_name, "en"),
                        i18n.counter_label(c.counter_name, "sw"), c.recall, c.counter_name)
                for c in calls[: self.last_calls]]
        services = self.service_rows()
        slides = self.slides()
        nexts = self.next_rows() if self.status_key() is None else []  # never an old "next" passed off as live
        if self.layout == Layout.far:
            paged = self._far_pages(now, services, slides, bool(nexts))
        else:  # the near layout says it on the information panel, first in its rotation
            slides = [self.next_slide(nexts), *slides] if nexts else slides
            paged = self._near_pages(now, services, slides)
        status_en, status_sw = self._status_texts()
        live = not status_en
        day_en, day_sw = self.day_texts()
        waiting = sum(s.waiting for s in self.services.values() if s.enabled)
        if day_en and not waiting and not any(c.ticket for c in self.counters.values()):
            rows = []  # the day is over: yesterday's "now calling" under the closed band would send nobody anywhere
        return HallView(
            centre_name=self._centre_name(), live=live, status_en=status_en, status_sw=status_sw,
            latest=rows[0] if rows else None, blinking=live and bool(rows) and now < self._blink_until,
            recent=rows[1:], people_waiting=waiting,
            notice_en=self.hall.notice_en if self.hall else "", notice_sw=self.hall.notice_sw if self.hall else "",
            settled=self.settled(now), day_closed=bool(day_en), day_en=day_en, day_sw=day_sw, slides=len(slides),
            next_steps=nexts, **paged,
        )

    def _near_pages(self, now: float, services: list[ServiceRow], slides: list[Slide]) -> dict[str, Any]:
        """The near layout: a page of services beside the information panel, each turning on its own clock."""
        # the information panel takes part of the services' column: fewer rows on a page, more pages
        page_size = max(1, math.ceil(self.page_size / 2)) if slides else self.page_size
        pages = max(1, math.ceil(len(services) / max(1, page_size)))
        size = max(1, math.ceil(len(services) / pages))  # pages share the rows evenly: 10 rows are 5 + 5
        page = int(now // self.page_s) % pages if self.page_s > 0 else 0
        index = int(now // self.slide_s) % len(slides) if slides and self.slide_s > 0 else 0
        return {"services": services[page * size:(page + 1) * size], "page": page + 1, "pages": pages,
                "slide": slides[index] if slides else None, "slide_index": index + 1 if slides else 0,
                "page_size": page_size}

    def _far_pages(self, now: float, services: list[ServiceRow], slides: list[Slide],
                   nexts: bool = False) -> dict[str, Any]:
        """The far layout: the latest call always on the left; on the right, one panel at a time
        for ``page_s`` seconds: the last calls, the visits' next steps (when a visit moved on), then each
        page of ``page_size`` services, then each slide. A new call brings the last calls back at once
        (it is what the hall looks for)."""
        size = max(1, self.page_size)
        pages = math.ceil(len(services) / size) if services else 1  # "nobody waiting" is a page too
        rotation = [("calls", 0)] + ([("next", 0)] if nexts else []) + [("services", p) for p in range(pages)] + [
            ("slide", i) for i in range(len(slides))]
        # while a new call blinks the last calls stay in view; then the panels turn every page_s
        step = int(now // self.page_s) % len(rotation) if self.page_s > 0 and now >= self._blink_until else 0
        panel, index = rotation[step]
        page = index if panel == "services" else 0
        return {"services": services[page * size:(page + 1) * size], "page": page + 1, "pages": pages,
                "slide": slides[index] if panel == "slide" else None,
                "slide_index": index + 1 if panel == "slide" else 0, "page_size": size,
                "panel": panel, "panel_index": step + 1, "panels": len(rotation)}

    def counter_view(self, now: float = 0.0) -> CounterView:
        """What the screen above one counter shows."""
        cid = self.counter_id or ""
        c = self.counters.get(cid)
        name = c.name if c else cid
        status_en, status_sw = self._status_texts()
        live = not status_en
        number, state_key, hint_key, service = "", "counter_unknown", None, None
        if c is None and not self.settled(now):  # its retained state may still be on its way
            state_key = "counter_connecting" if self.link != Link.up else "waiting_for_server"
        if c is not None:
            if c.state == CounterState.closed:
                state_key, hint_key = "counter_closed", "hint_closed"
            elif c.state == CounterState.paused:
                state_key, hint_key = "counter_paused", "hint_paused"
            elif c.ticket:
                state_key = "now_serving"
            else:
                state_key, hint_key = "counter_open_idle", "hint_open_idle"
            if c.ticket and c.state != CounterState.closed:
                number = c.ticket
                service = self.services.get(c.service_id or "")
        return CounterView(
            centre_name=self._centre_name(), counter_id=cid, known=c is not None,
            counter_en=i18n.counter_label(name, "en"), counter_sw=i18n.counter_label(name, "sw"),
            live=live, status_en=status_en, status_sw=status_sw, number=number,
            state_en=i18n.tr(state_key, "en", name=name), state_sw=i18n.tr(state_key, "sw", name=name),
            service_en=service.name_en if service else "", service_sw=service.name_sw if service else "",
            hint_en=i18n.tr(hint_key, "en") if hint_key else "", hint_sw=i18n.tr(hint_key, "sw") if hint_key else "",
            blinking=live and bool(number) and now < self._blink_until,
        )


def service_note_key(s: ServiceStatePayload) -> str | None:
    """The i18n key of what the wait column says instead of a number, or None to show the estimate.

    An estimate is never invented: a null ``estimated_wait_s`` says why, and a service
    that takes no new ticket says so before anything else.
    """
    if not s.accepting:
        return {IssueRefusal.day_closed: "refusal_day_closed", IssueRefusal.after_last_call: "refusal_after_last_call",
                IssueRefusal.service_disabled: "refusal_service_disabled",
                IssueRefusal.service_suspended: "refusal_service_suspended"}.get(
            s.refusal, "refusal_other")  # type: ignore[arg-type]  # None gets the default
    if s.estimated_wait_s is None:
        return {WaitUnknown.no_counter: "wait_no_counter", WaitUnknown.closed: "wait_closed",
                WaitUnknown.paused: "wait_paused"}.get(
            s.wait_unknown, "wait_unknown")  # type: ignore[arg-type]  # None gets the default
    return None
