"""Who may reach which headquarters page or API: one role dependency, one allow-list of what is open.

Every route declares the role it needs with ``require_role`` (viewer ⊂ agent ⊂
admin); a browser without a session is sent to the login page, one without the
role sees a "not allowed" page; an API caller gets 401/403 in the one error
shape. The few routes anyone may reach are listed in ``PUBLIC`` with the reason;
centres' own endpoints need their bearer token (``hq.app.centre_of``) and are
listed in ``CENTRE_TOKEN``. ``tests/hq/test_access.py`` walks the app's routes:
a route that is neither guarded nor listed fails it.

Usage::

    from hq.access import require_role
    from hq.auth import HqRole

    @router.get("/api/v1/thing", dependencies=[require_role(HqRole.viewer)])
    def thing() -> ...

    # or, to know who is asking:
    def page(who: Annotated[Staff, require_role(HqRole.agent)]) -> ...
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from starlette.datastructures import FormData

from centre_server.contract import INSTALL_HEADER
from centre_server.contract.errors import Refusal
from hq.auth import SESSION_COOKIE, HqRole, Staff

logger = logging.getLogger(__name__)

# (method, path template) anyone may reach, and why. Add here ONLY what a citizen or the open web must see.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "a load balancer's health check (counts only, no personal data)",
    ("GET", "/admin/login"): "the login form itself",
    ("POST", "/admin/login"): "logging in (its own CSRF cookie, lock-out and per-address limit)",
    ("GET", "/openapi.json"): "the API's description for centres' integrators (no data)",
    ("GET", "/docs"): "the API's description, as a page (no data)",
    ("GET", "/docs/oauth2-redirect"): "part of FastAPI's /docs page (no data)",
    ("GET", "/redoc"): "the API's description, as a page (no data)",
    ("GET", "/wait"): "the public wait page: live waits per centre, no personal data (issue 22)",
    ("GET", "/api/v1/wait"): "the public wait page's answer as JSON (issue 22)",
    ("POST", "/ussd/wait"): "the aggregator's USSD callback: its gateway key, per-phone limit (hq/wait_channels.py)",
    ("POST", "/sms/wait"): "the SMS aggregator's incoming-SMS callback: its gateway key and per-phone limit",
}
# (method, path template) a centre calls with its bearer token (``Authorization: Bearer``), never a session.
CENTRE_TOKEN: set[tuple[str, str]] = {
    ("POST", "/api/v1/summaries"),
    ("GET", "/api/v1/catalogue"),
    ("PUT", "/api/v1/centres/me/catalogue"),
    ("POST", "/api/v1/inbox"),  # the call centre's requests waiting for the centre (hq/callcentre.py)
    ("POST", "/api/v1/inbox/{request_id}/answer"),
    ("POST", "/api/v1/live"),  # the centre's live figures each minute (hq/live.py)
}
# mounted static files (style sheets, the pages' own scripts): public, no data
PUBLIC_MOUNTS = {"/static"}


class LoginNeeded(Exception):
    """No session: the page sends the browser to the login form (and back afterwards)."""


class Forbidden(Exception):
    """A session without the role, or a form without its CSRF token: refused, nothing changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def wants_page(request: Request) -> bool:
    """A browser asking for a page (answered with the login form), not a program asking for JSON."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def current_staff(request: Request) -> Staff | None:
    """The session's staff member (None: no session, an ended one, or a disabled account)."""
    return request.app.state.accounts.session(request.cookies.get(SESSION_COOKIE))


def require_role(role: HqRole) -> Any:
    """A FastAPI dependency: the session's staff member, who must have ``role`` (or a role covering it)."""

    def staff_with_role(request: Request) -> Staff:
        who = current_staff(request)
        page = wants_page(request)
        if who is None:
            if page:
                raise LoginNeeded()
            raise Refusal(401, "login_needed", "log in first: headquarters needs a staff session (/admin/login)")
        if not who.role.covers(role):
            logger.warning("refused %s (%s) on %s %s: needs %s", who.username, who.role, request.method,
                           request.url.path, role)
            if page:
                raise Forbidden("role")
            raise Refusal(403, "role_needed", f"this needs the {role} role; you are {who.role}")
        return who

    staff_with_role.hq_role = role  # type: ignore[attr-defined]  # read by the routes' table test
    return Depends(staff_with_role)


def centre_of(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The centre a bearer token belongs to (tokens are stored hashed)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "not_authenticated", "send 'Authorization: Bearer <centre token>'")
    store = request.app.state.store
    centre = store.centre_for_token(token.strip())
    if centre is None:
        raise Refusal(401, "bad_token", "unknown or disabled centre token (huduma-hq add-centre issues one)")
    install = (request.headers.get(INSTALL_HEADER) or "").strip()[:64]
    if install and not store.install_allowed(centre["id"], install):
        logger.warning("refused %s %s from install %s as centre %s: another install holds that centre id "
                       "(re-bind it on /admin/centres if the centre moved)", request.method, request.url.path,
                       install, centre["id"])
        raise Refusal(409, "other_install", f"another server already reports as centre {centre['id']!r}; "
                      "headquarters refuses a second one until an admin re-binds the centre (/admin/centres) "
                      "or issues a new token")
    return centre


CentreDep = Annotated[dict, Depends(centre_of)]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route declares, each in the one error shape ``{"error": {"code", "message"}}``."""
    shape = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
    return {c: {"description": "refused", "content": {"application/json": {"schema": shape}}} for c in codes}


async def checked_form(request: Request, who: Staff) -> FormData:
    """The posted form, once its CSRF token is the session's (else ``Forbidden``: nothing changes)."""
    form = await request.form()
    sent = form.get("csrf")
    if not who.csrf_ok(sent if isinstance(sent, str) else None):
        logger.warning("refused a form without its CSRF token from %s on %s", who.username, request.url.path)
        raise Forbidden("csrf")
    return form
