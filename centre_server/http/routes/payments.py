"""A ticket's payment (issue 20), and Daraja's callback.

Routes (every body is in ``centre_server.contract.payments``; refusals are the ``Refusal`` envelope,
with ``message`` in English and ``message_sw`` in Kiswahili where a citizen reads it):

``POST /api/v1/tickets/{ticket_id}/payment`` ``{"phone": "0712345678"}`` -> ``PaymentOut``
    Send the M-Pesa prompt for the ticket's fee (the catalogue's amount; a client never sends one).
    Who: a kiosk's device token, a clerk's session (CSRF header) or bearer token, or nobody: the
    ticket's secret id is the citizen's own page link. 200 with state ``pending``, or ``failed``
    (``reason_code`` push_refused or unreachable_gateway) when the prompt never left: nothing charged;
    409 ``not_needed`` | ``fee_varies`` (pay at the counter) | ``already_paid`` | ``pending`` |
    ``ticket_closed`` | ``day_closed`` (the day is closed and reconciled); 404 ``unknown_ticket``; 422 a bad
    phone; 429 ``too_many_attempts`` / ``rate_limited``; 503 ``payments_off`` (this centre takes no M-Pesa:
    ``[payments] enabled = false``).
``GET /api/v1/tickets/{ticket_id}/payment`` -> ``PaymentOut``
    Anyone holding the ticket's id. ``state``: none | not_needed | pending | paid | failed | cash |
    waived; ``amount_ksh`` (None when the fee varies), ``receipt``, ``reason_en``/``reason_sw``.
``POST /api/v1/tickets/{ticket_id}/payment/cash`` and ``.../payment/waiver`` ``{"reason": "..."}``
    A clerk (session with CSRF, or bearer). 200 ``PaymentOut``; 409 ``already_paid``.
``GET /api/v1/payments/availability`` -> ``PaymentsAvailability``
    Anyone. ``mpesa``: can a prompt leave now (payments on, and Daraja in reach: asked with an OAuth token,
    never a charge); else ``reason_code`` payments_off | unreachable_gateway | push_refused, in both languages.
    Kiosks ask at start, on reconnecting and now and then, and offer "Pay now with M-Pesa" only when true.
``POST /mpesa/callback/{token}`` Daraja's ``{"Body": {"stkCallback": {...}}}``
    200 ``{"ResultCode": 0, "ResultDesc": "Accepted"}`` (also for a duplicate); 404/409 refused and logged.

Live: every change is a ``payment_updated`` event (MQTT ``event/payment_updated``, the live hub).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from centre_server.contract import ErrorResponse
from centre_server.contract.payments import (
    CounterPaymentRequest,
    PaymentMethod,
    PaymentOut,
    PaymentsAvailability,
    StartPaymentRequest,
    StkCallbackEnvelope,
)
from centre_server.http.deps import ISSUE_ROLES, ApiError, ClerkDep, OptionalPrincipal, client_address, spend
from centre_server.payments.core import CALLBACK_PATH, Payments
from centre_server.payments.extension import PaymentsExtension
from centre_server.runtime.extension import running

logger = logging.getLogger(__name__)

router = APIRouter(tags=["payments"])
callbacks = APIRouter(tags=["payments"])

TICKET_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorResponse} for c in codes}


def payments_of(request: Request) -> Payments:
    part = running(request, PaymentsExtension)
    assert part.payments is not None, "started with the app"
    return part.payments


def _check_id(ticket_id: str) -> str:
    if not ticket_id or len(ticket_id) > 64 or not all(c.isalnum() or c in "-_" for c in ticket_id):
        raise ApiError(404, "unknown_ticket", "No such ticket")
    return ticket_id


@router.get("/payments/availability", response_model=PaymentsAvailability)
def payments_availability(request: Request) -> PaymentsAvailability:
    """Can this centre send an M-Pesa prompt now? Kiosks offer "Pay now" only when it can."""
    return payments_of(request).availability()


@router.post("/tickets/{ticket_id}/payment", response_model=PaymentOut,
             responses=_errors(401, 403, 404, 409, 422, 429, 503))
def start_payment(ticket_id: str, body: StartPaymentRequest, request: Request,
                  principal: OptionalPrincipal) -> PaymentOut:
    """Send the M-Pesa prompt for this ticket's fee to the phone (kiosk, clerk, or the citizen's own page)."""
    if principal is not None and principal.role not in ISSUE_ROLES:
        raise ApiError(403, "forbidden", "only kiosks, staff and the ticket's own page start a payment")
    part = running(request, PaymentsExtension)
    who = principal.name if principal is not None else f"addr:{client_address(request)}"
    spend(part.limiter, who)
    return payments_of(request).start(_check_id(ticket_id), body.phone)


@router.get("/tickets/{ticket_id}/payment", response_model=PaymentOut, responses=_errors(404))
def get_payment(ticket_id: str, request: Request) -> PaymentOut:
    """Where the ticket's fee stands: the citizen's page, the kiosk and the clerk's terminal read this."""
    return payments_of(request).status(_check_id(ticket_id))


@router.post("/tickets/{ticket_id}/payment/cash", response_model=PaymentOut, responses=_errors(401, 403, 404, 409))
def record_cash(ticket_id: str, body: CounterPaymentRequest, request: Request, principal: ClerkDep) -> PaymentOut:
    """The clerk took the fee at the counter (the reason says how: receipt book number, say)."""
    return payments_of(request).record_at_counter(_check_id(ticket_id), PaymentMethod.cash, body.reason,
                                                  principal.name)


@router.post("/tickets/{ticket_id}/payment/waiver", response_model=PaymentOut,
             responses=_errors(401, 403, 404, 409))
def record_waiver(ticket_id: str, body: CounterPaymentRequest, request: Request, principal: ClerkDep) -> PaymentOut:
    """The clerk waived the fee, saying why (it shows in the day's reconciliation)."""
    return payments_of(request).record_at_counter(_check_id(ticket_id), PaymentMethod.waiver, body.reason,
                                                  principal.name)


@callbacks.post(CALLBACK_PATH + "/{token}", responses=_errors(404, 409, 422), include_in_schema=False)
async def mpesa_callback(token: str, request: Request) -> dict[str, Any]:
    """Daraja's result of one STK push; the token in the address is the push's own, unguessable.

    The token is checked before the body is read: an address no push carries is refused (404, logged) whatever
    was posted, so a prober learns nothing of the body this route expects."""
    payments = payments_of(request)
    token = token[:100]
    known = await run_in_threadpool(payments.callback_known, token)
    try:
        body = StkCallbackEnvelope.model_validate_json(await request.body())
    except ValidationError as err:
        if not known:
            logger.warning("M-Pesa callback refused (unknown_callback): no payment request carries this callback "
                           "address (and the body is not a callback); from %s", client_address(request))
            raise ApiError(404, "unknown_callback", "no payment request carries this callback address") from None
        raise RequestValidationError(err.errors(include_url=False)) from None
    # an unknown address with a callback's body is refused there too, and kept among the refused callbacks
    outcome = await run_in_threadpool(payments.callback, token, body.Body.stkCallback, client_address(request))
    return {"ResultCode": 0, "ResultDesc": "Accepted" if outcome == "accepted" else "Already recorded"}
