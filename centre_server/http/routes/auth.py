"""Staff login and logout."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from centre_server.contract import LoginRequest, LoginResponse
from centre_server.http.deps import (
    SESSION_COOKIE,
    ApiError,
    CentreDep,
    PrincipalDep,
    client_address,
    limits_of,
    principals,
    spend,
)
from centre_server.http.routes.counters import close_left_counters
from centre_server.http.routes.tickets import ERRORS
from centre_server.store import accounts as auth, database as storage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginResponse, responses=ERRORS | {429: ERRORS[409]})
def login(body: LoginRequest, centre: CentreDep, request: Request, response: Response) -> LoginResponse:
    """Exchange a username and password for a session token (also set as a cookie for the web pages)."""
    spend(limits_of(request).login_client, client_address(request))
    sec = centre.settings.security
    try:
        token, role, expires, csrf = auth.login(centre.db, body.username, body.password,
                                                session_minutes=sec.session_minutes,
                                                lockout_after=sec.lockout_after_failures,
                                                lockout_minutes=sec.lockout_minutes)
    except auth.LoginError as err:
        storage.audit(centre.db, body.username, "login-failed", code=err.code)
        raise ApiError(err.status, err.code, err.message) from None
    storage.audit(centre.db, body.username, "login")
    response.set_cookie(SESSION_COOKIE, token, max_age=sec.session_minutes * 60, httponly=True, samesite="strict")
    response.set_cookie("huduma_csrf", csrf, max_age=sec.session_minutes * 60, samesite="strict")
    return LoginResponse(token=token, role=role, expires_at=centre.iso(expires))


@router.post("/logout", status_code=204)
def logout(request: Request, centre: CentreDep, principal: PrincipalDep, response: Response) -> Response:
    if principal.kind != "staff" or principal.token_hash is None:
        raise ApiError(400, "not_a_session", "devices have no session to end")
    auth.end_session(centre.db, principal.token_hash)
    principals(request).forget(principal.token_hash)
    storage.audit(centre.db, principal.name, "logout")
    # a counter left open by somebody who has gone counts as serving and stays refused to the next clerk
    # (the same sweep runs for sessions that expire); still logged in elsewhere, their counter stays theirs
    close_left_counters(centre, "logged out")
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie("huduma_csrf")
    return response
