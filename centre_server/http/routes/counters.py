"""Counters: list, and the clerk's actions (open, call next, recall, no-show, ...)."""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request, Response

from centre_server.contract import (
    DEVICE_ROLES,
    CompleteRequest,
    CounterClosed,
    CounterOut,
    CounterState,
    CounterStatePayload,
    Event,
    NoShowsOut,
    OpenCounterRequest,
    TicketBrief,
    TicketNumberRequest,
    TicketOut,
    TicketState,
    TransferRequest,
    ticket_of,
)
from centre_server.http.deps import (
    CLERK_ROLES,
    MANAGER_ROLES,
    ApiError,
    CentreDep,
    ClerkDep,
    PrincipalDep,
    allowed,
    ticket_json,
)
from centre_server.http.routes.tickets import ERRORS
from centre_server.queue import engine
from centre_server.queue.engine import QueueError
from centre_server.queue.model import Ticket
from centre_server.runtime.centre import Centre, public_ticket_id
from centre_server.store import accounts, database as storage
from centre_server.store.accounts import Principal

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/counters", tags=["counters"])


def brief(centre: Centre, t: Ticket) -> TicketBrief:
    """A ticket as the clerk sees it: with what the citizen was told (priority, channel, slot)."""
    return TicketBrief(id=t.id, number=t.number, service_id=t.service_id, state=t.state,
                       called_at=centre.iso(t.called_at), started_at=centre.iso(t.started_at),
                       issued_at=centre.iso(t.issued_at), recalls=t.recalls, priority=t.priority,
                       channel=t.channel, language=t.language, slot_at=centre.iso(t.slot_at),
                       no_show_at=centre.iso(t.no_show_at))


def counter_out(centre: Centre, counter_id: str, principal: Principal | None = None) -> CounterOut:
    """A counter; a device (kiosk, display, bridge) sees its ticket's public id, never the secret one."""
    with centre.lock:
        c = centre.state.counters.get(counter_id)
        if c is None:
            raise ApiError(404, "unknown_counter", f"no counter with id {counter_id!r}")
        t = centre.state.tickets.get(c.ticket_id or "")
        serving = brief(centre, t) if t is not None else None
        if serving is not None and principal is not None and principal.role in DEVICE_ROLES:
            serving.id = public_ticket_id(serving.id)
        return CounterOut(id=c.id, name=c.name, state=c.state, services=list(c.services), serving=serving,
                          clerk=c.clerk, idle_since=centre.iso(c.idle_since))


def held_by_caller(centre: Centre, counter_id: str, principal: Principal, opening: bool = False) -> None:
    """403 ``not_your_counter`` unless the caller opened this counter (or is a manager or admin).

    A counter is held by the clerk who opened it (``Counter.clerk``) until it is closed; another
    clerk may neither act on it nor take it over by opening it again. A closed counter, or one
    opened without a clerk's name (by a keypad), may be opened or used by any clerk.
    """
    if principal.role in MANAGER_ROLES:
        return
    with centre.lock:
        c = centre.state.counters.get(counter_id)
        if c is None:
            return  # the action itself answers 404 unknown_counter
        holder = c.clerk if c.state != CounterState.closed else None
        name = c.name
    if holder is None or holder == principal.name:
        return
    verb = "open" if opening else "act on"
    logger.warning("%s tried to %s counter %s, held by %s", principal.name, verb, counter_id, holder)
    raise ApiError(403, "not_your_counter",
                   f"counter {name} is held by {holder}: only {holder} or a manager may {verb} it")


def close_left_counters(centre: Centre, why: str) -> list[str]:
    """Close every counter whose holder is no longer logged in (logged out, session expired, disabled).

    Nobody sits at such a counter: left open it would count as serving (the board's "Counters open", the
    forecaster's plans, the hall's waits) and stay refused to every other clerk. Closing applies the
    engine's rule: a ticket being served is finished, a ticket only called becomes a no-show
    (``counter_closed``) that a clerk may re-activate when its citizen turns up. Returns the counters closed."""
    with centre.lock:
        held = {cid: c.clerk for cid, c in centre.state.counters.items()
                if c.state != CounterState.closed and c.clerk}
    away = accounts.logged_out(centre.reader(), {h for h in held.values() if h}, centre.clock())
    closed = []
    for cid, holder in held.items():
        if holder not in away:
            continue
        try:
            centre.execute(engine.CloseCounter(cid))
        except QueueError as err:  # closed meanwhile by someone else: nothing left to do
            logger.info("counter %s left by %s not closed: %s", cid, holder, err.message)
            continue
        logger.info("counter %s closed: %s (%s) is no longer logged in", cid, holder, why)
        storage.audit(centre.db, holder, "counter-closed-unattended", counter=cid, why=why)
        closed.append(cid)
    return closed


@router.get("", response_model=list[CounterOut], responses=ERRORS)
def list_counters(centre: CentreDep, principal: PrincipalDep) -> list[CounterOut]:
    return [counter_out(centre, cid, principal) for cid in list(centre.state.counters)]


@router.get("/{counter_id}", response_model=CounterOut, responses=ERRORS)
def get_counter(counter_id: str, centre: CentreDep, principal: PrincipalDep) -> CounterOut:
    return counter_out(centre, counter_id, principal)


def _ticket_of(centre: Centre, events: list[Event], etype: str) -> TicketOut | None:
    for ev in reversed(events):
        if ev.type.value == etype and (tid := ticket_of(ev.data)):
            t = centre.ticket(tid)
            return centre.ticket_out(t) if t else None
    return None


@router.post("/{counter_id}/open", response_model=CounterOut, responses=ERRORS)
def open_counter(counter_id: str, centre: CentreDep, principal: ClerkDep,
                 body: OpenCounterRequest | None = None) -> CounterOut:
    """Open (or resume) a counter, optionally for other services, in order of skill."""
    held_by_caller(centre, counter_id, principal, opening=True)
    services = tuple(body.services) if body and body.services is not None else None
    events = centre.execute(engine.OpenCounter(counter_id, services, clerk=principal.name))
    out = counter_out(centre, counter_id)
    # the engine closed the counter this clerk left: the answer says which, so the terminal can tell them
    out.left = [ev.data.counter_name for ev in events
                if isinstance(ev.data, CounterClosed) and ev.data.counter_id != counter_id]
    if out.left:
        logger.info("%s moved to counter %s: closed %s", principal.name, out.name, ", ".join(out.left))
    return out


@router.post("/{counter_id}/call-next", response_model=TicketOut, responses=ERRORS)
async def call_next(counter_id: str, request: Request) -> Response:
    """Call the next citizen by the centre's rules; 404 when nobody is waiting."""
    # the clerk's busiest action: a plain role check and a reply serialised once (no dependency tree,
    # no second validation of a model the engine just made)
    principal = allowed(request, CLERK_ROLES)
    centre: Centre = request.app.state.centre
    held_by_caller(centre, counter_id, principal)
    return await centre.submit(engine.CallNext(counter_id, clerk=principal.name),
                               lambda events: _called(centre, events))


@router.post("/{counter_id}/call/{ticket_id}", response_model=TicketOut, responses=ERRORS)
async def call_ticket(counter_id: str, ticket_id: str, request: Request) -> Response:
    """Call one chosen waiting ticket out of order (e.g. a citizen sent back from another counter)."""
    principal = allowed(request, CLERK_ROLES)
    centre: Centre = request.app.state.centre
    held_by_caller(centre, counter_id, principal)
    return await centre.submit(engine.CallTicket(counter_id, ticket_id, clerk=principal.name),
                               lambda events: _called(centre, events))


_NUMBER = re.compile(r"^([A-Z]{1,4})0*(\d{1,3})$", re.ASCII)


def normalise_number(raw: str) -> str:
    """A typed ticket number as printed: ``ar 12``, ``AR-012`` and ``AR012`` are all ``AR012``."""
    m = _NUMBER.match(re.sub(r"[ \-]", "", raw).upper())
    if m is None:
        raise ApiError(422, "bad_number", f"{raw.strip()[:16]!r} is not a ticket number such as AR012")
    return f"{m.group(1)}{int(m.group(2)):03d}"


def _numbered(centre: Centre, counter_id: str, raw: str) -> Ticket:
    """Today's ticket of that number, if it belongs to one of the counter's services (checked here, at
    the API: the engine lets a clerk call any waiting ticket, but at a counter a wrong service is a typo)."""
    number = normalise_number(raw)
    with centre.lock:
        c = centre.state.counters.get(counter_id)
        if c is None:
            raise ApiError(404, "unknown_counter", f"no counter with id {counter_id!r}")
        found = [t for t in centre.state.tickets.values() if t.number == number and t.day == centre.state.day]
        if not found:
            raise ApiError(404, "unknown_number", f"no ticket {number} today")
        t = max(found, key=lambda t: t.issued_at)
        if t.service_id not in c.services:
            svc = centre.state.services.get(t.service_id)
            raise ApiError(409, "not_this_counter", f"{number} is for {svc.name_en if svc else t.service_id}, "
                                                     f"which counter {c.name} does not serve")
        return t


@router.post("/{counter_id}/call-number", response_model=TicketOut, responses=ERRORS)
async def call_number(counter_id: str, body: TicketNumberRequest, request: Request) -> Response:
    """Call a waiting ticket by its printed number (the citizen stands at the counter holding it)."""
    principal = allowed(request, CLERK_ROLES)
    centre: Centre = request.app.state.centre
    held_by_caller(centre, counter_id, principal)
    t = _numbered(centre, counter_id, body.number)
    if t.state in (TicketState.called, TicketState.serving):
        raise ApiError(409, "number_at_counter", f"{t.number} is already called to a counter")
    if t.state == TicketState.no_show:
        raise ApiError(409, "number_no_show", f"{t.number} is a no-show: re-activate it first")
    if t.state != TicketState.waiting:
        raise ApiError(409, "number_finished", f"{t.number} is {t.state.value}: it can no longer be called")
    return await centre.submit(engine.CallTicket(counter_id, t.id, clerk=principal.name),
                               lambda events: _called(centre, events))


@router.get("/{counter_id}/no-shows", response_model=NoShowsOut, responses=ERRORS)
def recent_no_shows(counter_id: str, centre: CentreDep, principal: ClerkDep) -> NoShowsOut:
    """Today's no-shows of the counter's services that may still be re-activated, newest first."""
    now = centre.clock()
    with centre.lock:
        c = centre.state.counters.get(counter_id)
        if c is None:
            raise ApiError(404, "unknown_counter", f"no counter with id {counter_id!r}")
        window = centre.state.policy.reactivation_window_s
        recent = [t for t in centre.state.tickets.values()
                  if t.state == TicketState.no_show and t.service_id in c.services and t.no_show_at is not None
                  and now - t.no_show_at <= window]
        recent.sort(key=lambda t: t.no_show_at or 0, reverse=True)
        return NoShowsOut(window_s=window, tickets=[brief(centre, t) for t in recent[:50]])


@router.post("/{counter_id}/reactivate-number", response_model=TicketOut, responses=ERRORS)
def reactivate_number(counter_id: str, body: TicketNumberRequest, centre: CentreDep,
                      principal: ClerkDep) -> TicketOut:
    """Put a no-show of this counter's services back in its queue, at its old place (within the window)."""
    held_by_caller(centre, counter_id, principal)
    t = _numbered(centre, counter_id, body.number)
    centre.execute(engine.Reactivate(t.id))
    return centre.ticket_out(centre.ticket(t.id))  # type: ignore[arg-type]  # the command found it


def _called(centre: Centre, events: list[Event]) -> Response:
    out = _ticket_of(centre, events, "ticket_called")
    if out is None:  # a call the engine accepted always has its event
        raise QueueError("nothing_called", "no ticket was called", 409)
    return ticket_json(200, out)


def _current_out(centre: Centre, counter_id: str, ticket_id: str | None) -> TicketOut:
    t = centre.ticket(ticket_id) if ticket_id else None
    if t is None:
        raise ApiError(409, "no_ticket_at_counter", "the counter is serving no ticket")
    return centre.ticket_out(t)


def _serving_id(centre: Centre, counter_id: str) -> str | None:
    c = centre.state.counters.get(counter_id)
    if c is None:
        raise ApiError(404, "unknown_counter", f"no counter with id {counter_id!r}")
    return c.ticket_id


@router.post("/{counter_id}/recall", response_model=TicketOut, responses=ERRORS)
def recall(counter_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """Call the same ticket again; after the configured number of recalls it becomes a no-show."""
    held_by_caller(centre, counter_id, principal)
    tid = _serving_id(centre, counter_id)
    centre.execute(engine.Recall(counter_id))
    return _current_out(centre, counter_id, tid)


@router.post("/{counter_id}/no-show", response_model=TicketOut, responses=ERRORS)
def no_show(counter_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    held_by_caller(centre, counter_id, principal)
    tid = _serving_id(centre, counter_id)
    centre.execute(engine.MarkNoShow(counter_id))
    return _current_out(centre, counter_id, tid)


@router.post("/{counter_id}/start", response_model=TicketOut, responses=ERRORS)
def start(counter_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """The citizen has arrived at the counter: service time starts now."""
    held_by_caller(centre, counter_id, principal)
    tid = _serving_id(centre, counter_id)
    centre.execute(engine.StartService(counter_id))
    return _current_out(centre, counter_id, tid)


@router.post("/{counter_id}/complete", response_model=TicketOut, responses=ERRORS)
def complete(counter_id: str, centre: CentreDep, principal: ClerkDep,
             body: CompleteRequest | None = None) -> TicketOut:
    held_by_caller(centre, counter_id, principal)
    tid = _serving_id(centre, counter_id)
    centre.execute(engine.Complete(counter_id, body.outcome if body else None, body.reason if body else None))
    return _current_out(centre, counter_id, tid)


@router.post("/{counter_id}/transfer", response_model=TicketOut, responses=ERRORS)
def transfer(counter_id: str, body: TransferRequest, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """Send the citizen to another service; the ticket keeps its original issue time."""
    held_by_caller(centre, counter_id, principal)
    tid = _serving_id(centre, counter_id)
    centre.execute(engine.Transfer(counter_id, body.service_id))
    return _current_out(centre, counter_id, tid)


@router.post("/{counter_id}/pause", response_model=CounterOut, responses=ERRORS)
def pause(counter_id: str, centre: CentreDep, principal: ClerkDep) -> CounterOut:
    held_by_caller(centre, counter_id, principal)
    centre.execute(engine.PauseCounter(counter_id))
    return counter_out(centre, counter_id)


@router.post("/{counter_id}/resume", response_model=CounterOut, responses=ERRORS)
def resume(counter_id: str, centre: CentreDep, principal: ClerkDep) -> CounterOut:
    held_by_caller(centre, counter_id, principal)
    centre.execute(engine.ResumeCounter(counter_id))
    return counter_out(centre, counter_id)


@router.post("/{counter_id}/close", response_model=CounterOut, responses=ERRORS)
def close(counter_id: str, centre: CentreDep, principal: ClerkDep) -> CounterOut:
    held_by_caller(centre, counter_id, principal)
    centre.execute(engine.CloseCounter(counter_id))
    return counter_out(centre, counter_id)


__all__ = ["router", "counter_out", "CounterStatePayload"]
