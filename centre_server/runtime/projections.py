"""What the centre's state looks like from outside: tickets for the API, retained MQTT
payloads for boards and keypads, events for devices and watchers, and what an event
batch changed.

Pure functions of the engine's state, the moment and the centre's few words (time
zone, name, public address): no lock, no clock, no database. ``Centre`` calls them
under its lock with its clock.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, tzinfo

from centre_server.contract import (
    HALL_NEXT_STEPS,
    TICKET_EVENT_MODELS,
    CounterEvent,
    CounterState,
    CounterStatePayload,
    DayClosed,
    DayReopened,
    DayStatePayload,
    Event,
    EventData,
    EventPayload,
    HallCall,
    HallNextStep,
    HallStatePayload,
    NoticeChanged,
    ServiceStatePayload,
    TicketCalled,
    TicketIssued,
    TicketOut,
    TicketRecalled,
    TicketState,
    TicketTransferred,
    VisitStepOut,
    counter_of,
    opens_again,
    ticket_of,
)
from centre_server.contract.catalogue import (
    Catalogue,
    CatalogueStatePayload,
    Offering,
    OfferingStatus,
    ServiceInfo,
    Text,
)
from centre_server.contract.events import ServiceResumed, ServiceSuspended, VisitChanged, VisitStepQueued
from centre_server.queue import engine, visits
from centre_server.queue.engine import State
from centre_server.queue.model import Ticket

logger = logging.getLogger(__name__)


def public_ticket_id(ticket_id: str) -> str:
    """What devices and watchers see of a ticket: stable, but the secret id (the key to the
    citizen's page and check-in code) cannot be recovered from it."""
    digest = hashlib.sha256(b"huduma-public-ticket:" + ticket_id.encode()).digest()
    return "p" + base64.urlsafe_b64encode(digest[:12]).decode()


def iso(ts: float | None, tz: tzinfo) -> datetime | None:
    """A POSIX moment on the centre's wall clock (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz)


def ticket_out(state: State, t: Ticket, now: float, tz: tzinfo, public_url: str,
               issued: Event | None = None) -> TicketOut:
    """The ticket as the API shows it. ``issued``: its ticket_issued event, whose people ahead and
    estimate are the ones printed on the ticket (and need no walk of the queue). ``position``: the
    people ahead as the citizen meets them (``engine.people_ahead``: everyone its counters may call first)."""
    svc = state.services.get(t.service_id)
    counter = state.counters.get(t.counter_id or "")
    unknown = None
    if issued is not None:
        assert isinstance(issued.data, TicketIssued)
        pos, est = issued.data.told_ahead, issued.data.estimated_wait_s
        if est is None:
            unknown = engine.wait_for(state, t.service_id, issued.data.position, now)[1]
    elif t.id in state.tickets:
        pos = engine.people_ahead(state, t)
        est, unknown = engine.ticket_wait(state, t, now)
    else:
        pos, est = 0, 0
    visit_s, visit_unknown, visit_step = (engine.visit_wait_for(state, t, now)
                                          if visits.is_visit(t) and t.id in state.tickets else (None, None, None))
    return TicketOut(
        id=t.id, number=t.number, service_id=t.service_id,
        service_name_en=svc.name_en if svc else t.service_id,
        service_name_sw=svc.name_sw if svc else t.service_id,
        priority=t.priority, channel=t.channel, language=t.language, state=t.state,
        issued_at=iso(t.issued_at, tz), position=pos, estimated_wait_s=est, wait_unknown=unknown,
        status_url=f"{public_url.rstrip('/')}/t/{t.id}",
        counter_id=t.counter_id, counter_name=counter.name if counter else None,
        called_at=iso(t.called_at, tz), started_at=iso(t.started_at, tz),
        ended_at=iso(t.ended_at, tz), recalls=t.recalls, outcome=t.outcome, rating=t.rating,
        visit=visit_out(state, t), visit_wait_s=visit_s, visit_wait_unknown=visit_unknown, visit_wait_step=visit_step,
        cancelled_at_close=t.state == TicketState.cancelled and t.cancel_reason in engine.DAY_CLOSE_REASONS,
        check_in_by=iso(engine.grace_ends_at(state, t), tz), checked_in=t.checked_in)


def visit_out(state: State, t: Ticket) -> list[VisitStepOut] | None:
    """A one-stop visit's services with where each is served (the counters serving it, open ones first)."""
    if not visits.is_visit(t):
        return None
    out = []
    for step in visits.steps(t):
        sid = step["service_id"]
        svc = state.services.get(sid)
        out.append(VisitStepOut(service_id=sid, name_en=svc.name_en if svc else sid,
                                name_sw=svc.name_sw if svc else sid, state=step["state"],
                                counters=serving_counters(state, sid)))
    return out


def serving_counters(state: State, service_id: str) -> list[str]:
    """Where a service is served: the names of the counters open for it, or (none open) of every counter
    that serves it; empty when none does. The citizen page, the hall and the SMS say the same."""
    serving = [c for c in state.counters.values() if service_id in c.services]
    return [c.name for c in serving if c.state == CounterState.open] or [c.name for c in serving]


def next_steps(state: State, tz: tzinfo) -> list[HallNextStep]:
    """The visits waiting for their next service after finishing one, newest first: the hall shows each
    (number, what, where) until it is called. A ticket waiting for its first service is not one."""
    moved = [t for t in state.tickets.values()
             if t.state == TicketState.waiting and t.visit is not None and t.visit.done]
    moved.sort(key=lambda t: (visits.joined_at(t), t.number), reverse=True)
    out = []
    for t in moved[:HALL_NEXT_STEPS]:
        svc = state.services.get(t.service_id)
        out.append(HallNextStep(number=t.number, service_id=t.service_id,
                                name_en=svc.name_en if svc else t.service_id,
                                name_sw=svc.name_sw if svc else t.service_id,
                                counters=serving_counters(state, t.service_id),
                                joined_at=iso(visits.joined_at(t), tz)))
    return out


def service_payload(state: State, service_id: str, now: float, tz: tzinfo) -> ServiceStatePayload:
    """Retained on ``state/service/{id}``."""
    s = state.services[service_id]
    figures = engine.service_figures(state, service_id, now)
    return ServiceStatePayload(service_id=s.id, prefix=s.prefix, name_en=s.name_en, name_sw=s.name_sw,
                               category=s.category, enabled=s.enabled, target_wait_s=s.target_wait_s,
                               updated_at=iso(now, tz), category_sw=s.category_sw, **figures)


def offering_of(state: State, service_id: str, offerings: Mapping[str, Offering], tz: tzinfo) -> Offering:
    """This centre's offering of one national service now: off the menu, disabled or marked so is not
    offered; a suspension (the engine's) carries its reason; else offered."""
    s = state.services.get(service_id)
    decided = offerings.get(service_id)
    if s is None or not s.enabled or not s.offered:
        if decided is not None and decided.status is OfferingStatus.not_offered:
            return decided
        return Offering(service_id=service_id, status=OfferingStatus.not_offered)
    if s.suspension is not None:
        return Offering(service_id=service_id, status=OfferingStatus.suspended,
                        reason=Text(en=s.suspension.reason_en, sw=s.suspension.reason_sw),
                        since=iso(s.suspension.since, tz), by=s.suspension.by)
    if decided is not None and decided.status is OfferingStatus.offered:
        return decided
    return Offering(service_id=service_id, status=OfferingStatus.offered)


def catalogue_payload(state: State, catalogue: Catalogue, applied_at: float | None,
                      offerings: Mapping[str, Offering], tz: tzinfo) -> CatalogueStatePayload:
    """The catalogue with this centre's offering of each service (``offering_of``)."""
    infos = [ServiceInfo(service=cs, offering=offering_of(state, cs.id, offerings, tz)) for cs in catalogue.services]
    return CatalogueStatePayload(version=catalogue.version, published_at=catalogue.published_at,
                                 applied_at=iso(applied_at, tz), demo=catalogue.demo,
                                 standards=catalogue.standards, services=infos)


def day_payload(state: State, now: float, tz: tzinfo, opening_time: str, closing_time: str) -> DayStatePayload:
    """Whether the centre takes tickets now, and when it opens next: retained on ``state/day``."""
    reason = engine.day_closed_reason(state, now)
    opens = engine.opens_at(state, now)
    return DayStatePayload(day=state.day, open=reason is None, reason=reason, opening_time=opening_time,
                           closing_time=closing_time, opens_at=opens,
                           book_day=engine.book_day(state, now), updated_at=iso(now, tz),
                           opens_again_en=opens_again(opens, "en"), opens_again_sw=opens_again(opens, "sw"))


def counter_payload(state: State, counter_id: str, now: float, tz: tzinfo) -> CounterStatePayload:
    """Retained on ``state/counter/{id}``: the public ticket id, never the secret one."""
    c = state.counters[counter_id]
    t = state.tickets.get(c.ticket_id or "")
    return CounterStatePayload(
        counter_id=c.id, name=c.name, state=c.state, services=list(c.services),
        ticket=t.number if t else None, ticket_id=public_ticket_id(t.id) if t else None,
        ticket_state=t.state if t else None, service_id=t.service_id if t else None,
        called_at=iso(t.called_at, tz) if t else None, recalls=t.recalls if t else 0,
        clerk=c.clerk, updated_at=iso(now, tz))


def hall_payload(state: State, centre_name: str, now: float, tz: tzinfo) -> HallStatePayload:
    """Retained on ``state/hall``: the last calls and the notice line."""
    calls = [HallCall(number=h["number"], counter_id=h["counter_id"], counter_name=h["counter_name"],
                      service_id=h["service_id"], called_at=iso(h["called_at"], tz),
                      recall=h["recall"], seq=h["seq"]) for h in state.hall]
    return HallStatePayload(centre_name=centre_name, calls=calls, notice_en=state.notice_en,
                            notice_sw=state.notice_sw, updated_at=iso(now, tz), next_steps=next_steps(state, tz))


def event_payload(ev: Event, tz: tzinfo) -> EventPayload:
    """An event as devices and watchers hear it: no phone, no key, and a public ticket id."""
    d = ev.data.to_data()
    d.pop("phone", None)
    d.pop("idempotency_key", None)
    tid = ticket_of(ev.data)
    if tid:
        d["ticket_id"] = public_ticket_id(tid)
    return EventPayload(type=ev.type, seq=ev.seq, at=iso(ev.at, tz), **d)


def touched(state: State, events: list[Event]) -> tuple[set[str], set[str], bool]:
    """The services, counters and whether the hall changed: what to republish. A ticket's event moves the
    waits of every service its counters share (a newcomer at a shared counter stands behind it too)."""
    services: set[str] = set()
    counters: set[str] = set()
    hall = False
    for ev in events:
        d = ev.data
        if isinstance(d, TICKET_EVENT_MODELS):
            services |= engine.sharing_services(state, d.service_id)
        if isinstance(d, (ServiceSuspended, ServiceResumed)):
            services.add(d.service_id)
        if isinstance(d, TicketTransferred):  # its service_id is the one it left
            services |= engine.sharing_services(state, d.to_service_id)
        cid = counter_of(d)
        if cid:
            counters.add(cid)
            c = state.counters.get(cid)
            if c and isinstance(d, CounterEvent):
                services.update(c.services)
        if isinstance(d, (TicketCalled, TicketRecalled, NoticeChanged, DayClosed)):
            hall = True
        if not hall and _moves_a_next_step(state, d):
            hall = True
        if isinstance(d, (DayClosed, DayReopened)):
            services.update(state.services)
            counters.update(state.counters)
    return services, counters, hall


def _moves_a_next_step(state: State, d: EventData) -> bool:
    """Does this event change what the hall says of a visit's next step: the step itself, a change of the
    visit's ticket (called, cancelled, transferred), or a counter opening or closing where one is served?"""
    if isinstance(d, (VisitStepQueued, VisitChanged)):
        return True
    tid = ticket_of(d)
    if tid:
        t = state.tickets.get(tid)
        return t is not None and t.visit is not None and bool(t.visit.done)
    if isinstance(d, CounterEvent):
        return any(t.state == TicketState.waiting and t.visit is not None and t.visit.done
                   for t in state.tickets.values())
    return False
