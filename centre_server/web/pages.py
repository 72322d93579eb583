"""The HTML pages: login, clerk terminal, wait-time board, reports, the citizen's ticket page.

Every staff page checks the session and the role on the server before it
renders: no session sends the browser to ``/login``, a wrong role gets 403.
The pages are thin: their scripts call the same JSON API everyone else uses. The routes
that answer with these pages are in ``centre_server.http.routes.pages`` and ``.reports``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from centre_server.contract import Role
from centre_server.runtime.centre import Centre
from centre_server.store.accounts import SESSION_COOKIE, Principal, principal_for_token
from centre_server.web import reports
from centre_server.web.i18n import LANG_COOKIE, LANGUAGES, STRINGS, lang_of

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

CLERK_PAGE_ROLES = (Role.clerk, Role.manager, Role.admin)
MANAGER_PAGE_ROLES = (Role.manager, Role.admin)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'; form-action 'self'"),
}


def home_of(role: Role) -> str:
    return "/board" if role in MANAGER_PAGE_ROLES else "/clerk"


def centre_of(request: Request) -> Centre:
    return request.app.state.centre


def staff_of(request: Request) -> Principal | None:
    """The member of staff behind the session cookie; None when absent, expired or not staff."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    p = principal_for_token(centre_of(request).db, cookie)
    return p if p is not None and p.kind == "staff" else None


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` block."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(request: Request, name: str, status: int = 200, user: Principal | None = None,
           lang: str | None = None, **context: Any) -> HTMLResponse:
    """A page in the visitor's language, with the strings its scripts need and safe headers."""
    lang = lang or lang_of(request)
    centre = centre_of(request)
    t = STRINGS.bind(lang)
    ctx = {"t": t, "lang": lang, "languages": LANGUAGES, "user": user,
           "strings_json": script_json(STRINGS.table(lang)),
           "centre_name": centre.settings.centre_name, "server_time": time.time(),
           "utc_offset_min": int((datetime.now(centre.tz).utcoffset() or timedelta()).total_seconds() // 60),
           "path": request.url.path, "home": home_of(user.role) if user else "/login",
           "is_manager": bool(user and user.role in MANAGER_PAGE_ROLES), **context}
    resp = templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers.update(SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return resp


def guard(request: Request, roles: tuple[Role, ...]) -> Principal | Response:
    """The logged-in member of staff with one of ``roles``, or the response to send instead."""
    user = staff_of(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if user.role not in roles:
        return render(request, "forbidden.html", status=403, user=user, title_key="forbidden_title")
    return user


def safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def report_or_error(request: Request) -> tuple[dict[str, Any] | None, str | None, str, str]:
    centre = centre_of(request)
    start = request.query_params.get("from") or None
    end = request.query_params.get("to") or None
    try:
        d1, d2 = reports.parse_range(start, end, centre.state.day)
    except reports.RangeError as err:  # the reason's key: the page says it in the manager's language
        return None, err.key, start or "", end or ""
    return reports.report(centre, d1, d2), None, d1.isoformat(), d2.isoformat()
