"""The clerk's toolkit at a counter: park a citizen and call them back, and each service's outcome codes.

Parking is for a citizen sent to fetch a document: the counter is free for the
next citizen at once, and the ticket waits off the queue (not a no-show) until a
clerk at any counter serving its service calls it back; the hall announces that
call like any other. A ticket still parked when the day closes is cancelled with
those still waiting (``day_closed``).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from centre_server.contract import TicketOut, TicketState
from centre_server.contract.api import OutcomeOut, ParkedOut, ParkedTicket, ParkRequest, ServiceOutcomesOut
from centre_server.http.deps import ApiError, CentreDep, ClerkDep
from centre_server.http.routes.counters import held_by_caller
from centre_server.http.routes.tickets import ERRORS
from centre_server.queue import engine

logger = logging.getLogger(__name__)

router = APIRouter(tags=["counters"])


@router.post("/counters/{counter_id}/park", response_model=TicketOut, responses=ERRORS)
def park(counter_id: str, centre: CentreDep, principal: ClerkDep, body: ParkRequest | None = None) -> TicketOut:
    """Park the citizen at the counter (sent to fetch a document); the counter may call the next at once."""
    held_by_caller(centre, counter_id, principal)
    with centre.lock:
        c = centre.state.counters.get(counter_id)
        tid = c.ticket_id if c is not None else None
    centre.execute(engine.ParkTicket(counter_id, body.note if body else None, clerk=principal.name))
    t = centre.ticket(tid or "")
    if t is None:  # the engine refused above when nothing was at the counter
        raise ApiError(409, "no_ticket_at_counter", "the counter is serving no ticket")
    return centre.ticket_out(t)


@router.get("/counters/{counter_id}/parked", response_model=ParkedOut, responses=ERRORS)
def parked(counter_id: str, centre: CentreDep, principal: ClerkDep) -> ParkedOut:
    """Today's parked tickets of the counter's services, longest parked first."""
    with centre.lock:
        c = centre.state.counters.get(counter_id)
        if c is None:
            raise ApiError(404, "unknown_counter", f"no counter with id {counter_id!r}")
        mine = sorted((t for t in centre.state.tickets.values()
                       if t.state == TicketState.parked and t.service_id in c.services),
                      key=lambda t: t.parked_at or 0)
        names = {k: v.name for k, v in centre.state.counters.items()}
        return ParkedOut(tickets=[ParkedTicket(
            id=t.id, number=t.number, service_id=t.service_id, parked_at=centre.iso(t.parked_at),
            note=t.park_note, counter_name=names.get(t.counter_id or ""), clerk=t.clerk) for t in mine[:100]])


@router.post("/counters/{counter_id}/call-parked/{ticket_id}", response_model=TicketOut, responses=ERRORS)
def call_parked(counter_id: str, ticket_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """Call a parked citizen back to this counter (it must serve the ticket's service)."""
    held_by_caller(centre, counter_id, principal)
    centre.execute(engine.CallParked(counter_id, ticket_id, clerk=principal.name))
    t = centre.ticket(ticket_id)
    if t is None:
        raise ApiError(404, "unknown_ticket", "no such ticket")
    return centre.ticket_out(t)


@router.get("/outcomes", response_model=ServiceOutcomesOut, responses=ERRORS)
def outcomes(centre: CentreDep, principal: ClerkDep) -> ServiceOutcomesOut:
    """Each service's outcome codes with both labels, and which need the clerk's reason."""
    with centre.lock:
        return ServiceOutcomesOut(services={
            sid: [OutcomeOut(code=o.code, label_en=o.label_en, label_sw=o.label_sw,
                             reason_required=o.reason_required) for o in engine.outcomes_of(centre.state, sid)]
            for sid in centre.state.services})
