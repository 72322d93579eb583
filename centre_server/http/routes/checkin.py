"""The kiosk's check-in of a remote ticket or a booking, and the staff's view of appointments and channels."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request

from centre_server.channels.i18n import tr
from centre_server.channels.pages import hub_of
from centre_server.contract import ErrorResponse
from centre_server.contract.channels import AppointmentOut, CheckInRequest, CheckInResponse
from centre_server.http.deps import ISSUE_ROLES, ApiError, ClerkDep, ManagerDep, PrincipalDep, limits_of

logger = logging.getLogger(__name__)

router = APIRouter(tags=["channels"])


DAY_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorResponse} for c in codes}


@router.post("/check-in", response_model=CheckInResponse, responses=_errors(400, 401, 403, 404, 409, 410, 422, 429))
def check_in(body: CheckInRequest, request: Request, principal: PrincipalDep) -> CheckInResponse:
    """Check in at a kiosk: a remote ticket's 6-digit code, a booking's 8-digit code, or the phone number.

    Kiosk or staff token. 200 with the tickets checked in; 404 ``unknown_code``,
    409 ``too_early``, 410 ``window_passed``/``missed``, 422 ``bad_phone``; 429 when a device
    (or anyone, on codes sharing their first three digits) tries too many.
    """
    if principal.role not in ISSUE_ROLES:
        raise ApiError(403, "forbidden", "only kiosks and staff check citizens in")
    _check_in_limit(request, principal.name, body.code)
    hub = hub_of(request)
    results = hub.check_in(body.code, None if body.code else body.phone)  # a ChannelError is the app's to render
    tickets = [hub.centre.ticket_out(r.ticket) for r in results]
    numbers = ", ".join(t.number for t in tickets)
    key = "ci_already" if all(r.already for r in results) else "ci_done"
    return CheckInResponse(tickets=tickets, kinds=[r.kind for r in results],
                           message_en=tr(key, "en", number=numbers),
                           message_sw=tr(key, "sw", number=numbers))


def _check_in_limit(request: Request, device: str, code: str | None) -> None:
    """Trying every code (10,000 in 80 s once) meets a 429 long before it finds one."""
    limits = limits_of(request)
    wait = limits.check_in_device.allow(device)
    if wait <= 0 and code:
        wait = limits.check_in_prefix.allow(code[:3])
    if wait > 0:
        raise ApiError(429, "rate_limited", f"too many check-ins: try again in {int(wait) + 1} s",
                       {"Retry-After": str(int(wait) + 1)})


@router.get("/appointments", response_model=list[AppointmentOut], responses=_errors(401, 403, 422))
def list_appointments(request: Request, principal: ClerkDep,
                      day: str | None = Query(None, pattern=DAY_PATTERN, description="YYYY-MM-DD; today if absent"),
                      ) -> list[AppointmentOut]:
    """A day's appointments, for the clerks and the manager; phone numbers masked."""
    hub = hub_of(request)
    try:
        d = date.fromisoformat(day) if day else hub.local(hub.now()).date()
    except ValueError:  # 2030-02-31: the caller meant a day that does not exist; say so, not "none that day"
        raise ApiError(422, "bad_day", f"day={day} is not a real date (YYYY-MM-DD)") from None
    if not 2000 <= d.year <= 2200:
        raise ApiError(422, "bad_day", f"day={day} is out of range (years 2000 to 2200)")
    return [AppointmentOut(id=a["id"], service_id=a["service_id"], slot_at=hub.local(a["slot_at"]).isoformat(),
                           state=a["state"], code=a["code"], language=a["language"], ticket_id=a["ticket_id"],
                           phone=("*" * 9 + a["phone"][-3:]) if a["phone"] else None)
            for a in hub.appointments_on(d)]


@router.get("/channels/status", responses=_errors(401, 403))
def channels_status(request: Request, principal: ManagerDep) -> dict[str, Any]:
    """The SMS queue (pending, sent, failed, recent errors), today's appointments and remote tickets."""
    return hub_of(request).status()
