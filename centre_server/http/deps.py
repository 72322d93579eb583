"""Shared dependencies: the running centre, the caller, role checks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response
from pydantic import StringConstraints

from centre_server.contract import Role, TicketOut
from centre_server.contract.errors import Refusal
from centre_server.runtime.centre import Centre
from centre_server.runtime.extension import maybe_running
from centre_server.runtime.ratelimit import Limits, RateLimiter
from centre_server.store.accounts import SESSION_COOKIE, Principal, PrincipalCache

if TYPE_CHECKING:
    from centre_server.mqtt.link import MqttLink

logger = logging.getLogger(__name__)

CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiError(Refusal):
    """A refusal of the HTTP layer itself (who is calling, what they may do, how often)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, code, message, headers=headers)


async def get_centre(request: Request) -> Centre:
    return request.app.state.centre


CentreDep = Annotated[Centre, Depends(get_centre)]


def _caller(request: Request) -> Principal | None:
    """The caller by bearer token, or by session cookie (web pages; CSRF-checked on writes)."""
    centre: Centre = request.app.state.centre
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "bad_authorization", "use 'Authorization: Bearer <token>'")
        principal = principals(request).lookup(centre.reader(), token.strip())
        if principal is None:
            raise ApiError(401, "bad_token", "unknown, revoked or expired token")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = principals(request).lookup(centre.reader(), cookie)
        if principal is None:
            return None
        if request.method in UNSAFE_METHODS and request.headers.get(CSRF_HEADER) != principal.csrf:
            raise ApiError(403, "csrf", "missing or wrong CSRF token: reload the page")
        return principal
    return None


def _signed_in(request: Request) -> Principal:
    principal = _caller(request)
    if principal is None:
        raise ApiError(401, "not_authenticated", "log in, or send 'Authorization: Bearer <token>'")
    return principal


def principals(request: Request) -> PrincipalCache:
    """The app's token cache (made at start-up, beside the access.epoch it watches)."""
    return request.app.state.principals


# Each check is one flat dependency: FastAPI's cost grows with every level of nesting, on every request.
async def optional_principal(request: Request) -> Principal | None:
    return _caller(request)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def current_principal(request: Request) -> Principal:
    return _signed_in(request)


PrincipalDep = Annotated[Principal, Depends(current_principal)]

CLERK_ROLES = (Role.clerk, Role.manager, Role.admin)
MANAGER_ROLES = (Role.manager, Role.admin)
ISSUE_ROLES = (Role.kiosk, Role.clerk, Role.manager, Role.admin)


def allowed(request: Request, roles: tuple[Role, ...]) -> Principal:
    """The signed-in caller, if one of ``roles``; else 401 or 403."""
    principal = _signed_in(request)
    if principal.role not in roles:
        names = ", ".join(r.value for r in roles)
        raise ApiError(403, "forbidden", f"a {principal.role.value} may not do this (needs {names})")
    return principal


def require(*roles: Role):
    """A dependency that lets only ``roles`` through."""

    async def check(request: Request) -> Principal:
        return allowed(request, roles)

    return check


def may_issue(request: Request) -> Principal:
    return allowed(request, ISSUE_ROLES)


ClerkDep = Annotated[Principal, Depends(require(*CLERK_ROLES))]
ManagerDep = Annotated[Principal, Depends(require(*MANAGER_ROLES))]
IssuerDep = Annotated[Principal, Depends(require(*ISSUE_ROLES))]


def limits_of(request: Request) -> Limits:
    """The app's rate limits, one field each (made with the app from ``[security]`` and ``[channels]``)."""
    return request.app.state.limits


def mqtt_link(request: Request) -> MqttLink | None:
    """The server's link to the broker; None when the app runs without one (tests of the API alone)."""
    from centre_server.mqtt.extension import MqttExtension

    part = maybe_running(request, MqttExtension)
    return part.link if part is not None else None


def spend(limiter: RateLimiter, key: str) -> None:
    """Spend one token of ``limiter`` for ``key``; 429 with Retry-After when it is empty."""
    wait = limiter.allow(key)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"too many requests: try again in {int(wait) + 1} s",
                       {"Retry-After": str(int(wait) + 1)})


def ticket_json(status: int, ticket: TicketOut) -> Response:
    """A ticket as the reply, serialised once: FastAPI would validate again a model the engine just made."""
    return Response(ticket.model_dump_json().encode(), status_code=status, media_type="application/json")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def calendar_day(value: str) -> str:
    """A YYYY-MM-DD string that is a real date; a day that never was is a 404 (there is nothing on it)."""
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ApiError(404, "no_such_day", f"{value} is not a calendar day") from None
