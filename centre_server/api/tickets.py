"""Tickets: issue (idempotent), read, cancel, re-activate."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from centre_server import engine
from centre_server.api.deps import ApiError, CentreDep, ClerkDep, IssuerDep, client_address, limit
from centre_server.centre import new_ticket_id
from centre_server.contract import Channel, ErrorResponse, IssueTicketRequest, Role, TicketOut

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/tickets", tags=["tickets"])
ERRORS = {400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
          404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


def normalise_phone(phone: str | None) -> str | None:
    """Kenyan mobile numbers in one form, +2547XXXXXXXX, so limits and SMS see one number."""
    if not phone:
        return None
    digits = phone.lstrip("+")
    if digits.startswith("0"):
        digits = "254" + digits[1:]
    return "+" + digits


@router.post("", status_code=201, response_model=TicketOut,
             responses=ERRORS | {200: {"model": TicketOut, "description": "A retry: the ticket issued before"},
                                 429: {"model": ErrorResponse}})
async def issue_ticket(body: IssueTicketRequest, centre: CentreDep, principal: IssuerDep, request: Request,
                 response: Response,
                 idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> TicketOut:
    """Issue a ticket. A retry with the same ``Idempotency-Key`` returns the same ticket."""
    key = f"{principal.name}:{idempotency_key}" if idempotency_key else None
    if key:
        existing = centre.ticket_by_key(key)
        if existing is not None:
            if existing.service_id != body.service_id:
                raise ApiError(409, "idempotency_conflict",
                               "this Idempotency-Key was used for another service")
            response.status_code = 200
            return centre.ticket_out(existing)
    limit(request, "issue_device", principal.name)
    phone = normalise_phone(body.phone)
    if phone:
        limit(request, "issue_phone", phone)
    channel = body.channel
    if principal.role == Role.kiosk and channel not in (Channel.kiosk,):
        channel = Channel.kiosk
    ticket_id = new_ticket_id()

    def answer(events: list[engine.Event]) -> TicketOut:
        # no events: the same key won a race a moment ago; answer with that ticket
        tid = ticket_id if events else centre.state.idempotency.get(key or "", ticket_id)
        return centre.ticket_out(centre.state.tickets[tid])

    return await centre.submit(engine.IssueTicket(
        ticket_id=ticket_id, service_id=body.service_id, priority=body.priority, channel=channel,
        language=body.language, phone=phone, idempotency_key=key, device_id=principal.name), answer)


@router.get("/{ticket_id}", response_model=TicketOut, responses=ERRORS | {429: {"model": ErrorResponse}})
def get_ticket(ticket_id: str, centre: CentreDep, request: Request) -> TicketOut:
    """A ticket and its live position. No login: the id itself is the secret."""
    limit(request, "citizen_client", client_address(request))
    t = centre.ticket(ticket_id) if len(ticket_id) <= 64 else None
    if t is None:
        raise ApiError(404, "unknown_ticket", "no such ticket")
    return centre.ticket_out(t)


@router.post("/{ticket_id}/cancel", response_model=TicketOut, responses=ERRORS)
def cancel_ticket(ticket_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    centre.execute(engine.CancelTicket(ticket_id, reason=f"cancelled by {principal.name}"))
    return centre.ticket_out(centre.ticket(ticket_id))


@router.post("/{ticket_id}/reactivate", response_model=TicketOut, responses=ERRORS)
def reactivate_ticket(ticket_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """Put a no-show back in the queue (within the configured window), at its original place."""
    centre.execute(engine.Reactivate(ticket_id))
    return centre.ticket_out(centre.ticket(ticket_id))
