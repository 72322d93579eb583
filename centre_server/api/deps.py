"""Shared dependencies: the running centre, the caller, role checks."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pydantic import StringConstraints

from centre_server.auth import Principal, principal_for_token
from centre_server.centre import Centre
from centre_server.contract import Role

logger = logging.getLogger(__name__)

SESSION_COOKIE = "huduma_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiError(HTTPException):
    """An HTTP error with a machine-readable code, rendered as ``{"error": {...}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code


async def get_centre(request: Request) -> Centre:
    return request.app.state.centre


CentreDep = Annotated[Centre, Depends(get_centre)]


async def optional_principal(request: Request, centre: CentreDep) -> Principal | None:
    """The caller by bearer token, or by session cookie (web pages; CSRF-checked on writes)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "bad_authorization", "use 'Authorization: Bearer <token>'")
        principal = principal_for_token(centre.reader(), token.strip())
        if principal is None:
            raise ApiError(401, "bad_token", "unknown, revoked or expired token")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = principal_for_token(centre.reader(), cookie)
        if principal is None:
            return None
        if request.method in UNSAFE_METHODS and request.headers.get(CSRF_HEADER) != principal.csrf:
            raise ApiError(403, "csrf", "missing or wrong CSRF token: reload the page")
        return principal
    return None


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def current_principal(principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise ApiError(401, "not_authenticated", "log in, or send 'Authorization: Bearer <token>'")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]

CLERK_ROLES = (Role.clerk, Role.manager, Role.admin)
MANAGER_ROLES = (Role.manager, Role.admin)
ISSUE_ROLES = (Role.kiosk, Role.clerk, Role.manager, Role.admin)


def require(*roles: Role):
    """A dependency that lets only ``roles`` through."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise ApiError(403, "forbidden", f"a {principal.role.value} may not do this (needs {allowed})")
        return principal

    return check


ClerkDep = Annotated[Principal, Depends(require(*CLERK_ROLES))]
ManagerDep = Annotated[Principal, Depends(require(*MANAGER_ROLES))]
IssuerDep = Annotated[Principal, Depends(require(*ISSUE_ROLES))]


def limit(request: Request, name: str, key: str) -> None:
    """Spend one token of the named limiter; 429 with Retry-After when it is empty."""
    limiter = request.app.state.limits.get(name)
    if limiter is None:
        return
    wait = limiter.allow(key)
    if wait > 0:
        err = ApiError(429, "rate_limited", f"too many requests: try again in {int(wait) + 1} s")
        err.headers = {"Retry-After": str(int(wait) + 1)}
        raise err


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
