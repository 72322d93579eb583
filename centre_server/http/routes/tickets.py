"""Tickets: issue (idempotent), read, cancel, re-activate."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centre_server.contract import (
    Channel,
    ErrorResponse,
    Event,
    IssueTicketRequest,
    Role,
    TicketOut,
    TicketState,
    ticket_of,
)
from centre_server.contract.phone import normalise_phone
from centre_server.http.deps import (
    ApiError,
    CentreDep,
    ClerkDep,
    client_address,
    limits_of,
    may_issue,
    spend,
    ticket_json,
)
from centre_server.queue import engine, visits
from centre_server.queue.engine import QueueError
from centre_server.runtime.centre import Centre, new_ticket_id

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/tickets", tags=["tickets"])
# beside /tickets/{ticket_id}, a path of its own: "/tickets/withdraw" read as a ticket id to GET
withdrawals = APIRouter(tags=["tickets"])
MAX_KEY = 128  # the longest Idempotency-Key, for the route and IssueLane alike
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
    404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.post("", status_code=201, response_model=TicketOut,
             responses=ERRORS | {200: {"model": TicketOut, "description": "A retry: the ticket issued before"},
                                 429: {"model": ErrorResponse}})
async def issue_ticket(body: IssueTicketRequest, request: Request,
                       idempotency_key: Annotated[str | None, Header(max_length=MAX_KEY)] = None) -> Response:
    """Issue a ticket. A retry with the same ``Idempotency-Key`` returns the same ticket (200, not 201)."""
    return await issue(body, request, idempotency_key)


async def issue(body: IssueTicketRequest, request: Request, idempotency_key: str | None) -> Response:
    """The issue itself, for the FastAPI route and for IssueLane alike."""
    # the caller's check is a plain call, not a dependency: the busiest route pays for no dependency tree
    principal = may_issue(request)
    centre: Centre = request.app.state.centre
    key = f"{principal.name}:{idempotency_key}" if idempotency_key else None
    spend(limits_of(request).issue_device, principal.name)
    phone = normalise_phone(body.phone)
    if phone:
        spend(limits_of(request).issue_phone, phone)
    channel = body.channel
    if principal.role == Role.kiosk and channel not in (Channel.kiosk,):
        channel = Channel.kiosk
    ticket_id = new_ticket_id()

    def answer(events: list[Event]) -> Response:
        # the reply is serialised here, once: FastAPI would check a response model it already knows valid
        if events:
            issued = next(e for e in events if ticket_of(e.data) == ticket_id)
            return ticket_json(201, centre.ticket_out(centre.state.tickets[ticket_id], issued=issued))
        # no events: this key was issued before (a retry, or a race a moment ago); answer with that ticket.
        # Keys are checked here, in the writer, not before: the event loop then never reads the disk.
        tid = engine.issued_for(centre.state, key or "") or ""
        existing = centre.state.tickets.get(tid) or centre.ticket(tid)
        if existing is None:  # unreachable: the engine refused the key because it knows it
            raise QueueError("unknown_ticket", "the ticket of this Idempotency-Key is gone", 409)
        if visits.first_service(existing) != body.service_id:  # a visit's or transfer's first service
            raise QueueError("idempotency_conflict", "this Idempotency-Key was used for another service", 409)
        return ticket_json(200, centre.ticket_out(existing))

    return await centre.submit(engine.IssueTicket(
        ticket_id=ticket_id, service_id=body.service_id, priority=body.priority, channel=channel,
        language=body.language, phone=phone, idempotency_key=key, device_id=principal.name,
        then=tuple(body.then)), answer)


class IssueLane:
    """POST /api/v1/tickets for the common case, past FastAPI's per-request machinery.

    A pure ASGI middleware, inside the security headers and rate limits: a request with a JSON
    body that validates and a sane Idempotency-Key goes straight to ``issue``; anything else
    (another content type, a body that does not validate, an over-long key) goes on, body and
    all, to the FastAPI route, which answers as it always has. The route stays the one the
    OpenAPI schema describes. On this path FastAPI's routing, dependency solving and response
    handling were half of the event loop's time per ticket.
    """

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        key = request.headers.get("idempotency-key")
        if ctype != "application/json" or (key is not None and len(key) > MAX_KEY):
            await self.app(scope, receive, send)
            return
        raw = await request.body()
        try:
            body = IssueTicketRequest.model_validate_json(raw)
        except ValidationError:
            await self.app(scope, _replay(raw, receive), send)
            return
        try:
            response = await issue(body, request, key)
        except Exception as err:  # rendered by the app's own handlers, as for any route
            response = await _handled(request, err)
        await response(scope, receive, send)


def _replay(raw: bytes, receive: Receive) -> Receive:
    """The body once more, for the route the request goes on to; then the client's own messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return again


async def _handled(request: Request, err: Exception) -> Response:
    handlers = request.app.exception_handlers
    for cls in type(err).__mro__:
        if cls in handlers:
            return await handlers[cls](request, err)
    raise err


@router.get("/{ticket_id}", response_model=TicketOut, responses=ERRORS | {429: {"model": ErrorResponse}})
def get_ticket(ticket_id: str, centre: CentreDep, request: Request) -> TicketOut:
    """A ticket and its live position. No login: the id itself is the secret."""
    spend(limits_of(request).citizen_client, client_address(request))
    t = centre.ticket(ticket_id) if len(ticket_id) <= 64 else None
    if t is None:
        raise ApiError(404, "unknown_ticket", "no such ticket")
    return centre.ticket_out(t)


@withdrawals.post("/withdrawals", response_model=TicketOut, responses=ERRORS)
def withdraw_ticket(request: Request, centre: CentreDep,
                    idempotency_key: Annotated[str, Header(min_length=1, max_length=MAX_KEY)]) -> TicketOut:
    """A kiosk that gave up issuing a confirmed ticket (the server did not answer its last attempt, and
    the citizen was sent to staff) withdraws it once the server answers again: a ticket the server issued
    late under that key is cancelled (``kiosk_gave_up``), not left in the queue for nobody. 404
    ``nothing_issued`` when the server never issued it; a ticket already called stays (409)."""
    principal = may_issue(request)
    t = centre.ticket_by_key(f"{principal.name}:{idempotency_key}")
    if t is None:
        raise ApiError(404, "nothing_issued", "no ticket was issued under this Idempotency-Key")
    if t.state != TicketState.cancelled:
        centre.execute(engine.CancelTicket(t.id, reason="kiosk_gave_up"))
        logger.info("%s withdrew %s, issued after it gave up", principal.name, t.number)
    return centre.ticket_out(centre.ticket(t.id))  # type: ignore[arg-type]  # found above


@router.post("/{ticket_id}/cancel", response_model=TicketOut, responses=ERRORS)
def cancel_ticket(ticket_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    centre.execute(engine.CancelTicket(ticket_id, reason=f"cancelled by {principal.name}"))
    return centre.ticket_out(centre.ticket(ticket_id))  # type: ignore[arg-type]  # the command found it


@router.post("/{ticket_id}/reactivate", response_model=TicketOut, responses=ERRORS)
def reactivate_ticket(ticket_id: str, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """Put a no-show back in the queue (within the configured window), at its original place."""
    centre.execute(engine.Reactivate(ticket_id))
    return centre.ticket_out(centre.ticket(ticket_id))  # type: ignore[arg-type]  # the command found it
