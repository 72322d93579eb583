"""The HTML pages: login, clerk terminal, wait-time board, reports, the citizen's ticket page.

Every staff page checks the session and the role on the server before it
renders: no session sends the browser to ``/login``, a wrong role gets 403.
The pages are thin: their scripts call the same JSON API everyone else uses.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from centre_server.contract import Role
from centre_server.http.deps import SESSION_COOKIE
from centre_server.runtime.centre import Centre
from centre_server.store.accounts import Principal, principal_for_token
from centre_server.web import reports
from centre_server.web.i18n import LANG_COOKIE, LANGUAGES, Translator, lang_of, table

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

router = APIRouter(include_in_schema=False)


def home_of(role: Role) -> str:
    return "/board" if role in MANAGER_PAGE_ROLES else "/clerk"


def _centre(request: Request) -> Centre:
    return request.app.state.centre


def _staff(request: Request) -> Principal | None:
    """The member of staff behind the session cookie; None when absent, expired or not staff."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    p = principal_for_token(_centre(request).db, cookie)
    return p if p is not None and p.kind == "staff" else None


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` block."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(request: Request, name: str, status: int = 200, user: Principal | None = None,
           lang: str | None = None, **context: Any) -> HTMLResponse:
    """A page in the visitor's language, with the strings its scripts need and safe headers."""
    lang = lang or lang_of(request)
    centre = _centre(request)
    t = Translator(lang)
    ctx = {"t": t, "lang": lang, "languages": LANGUAGES, "user": user,
           "strings_json": script_json(table(lang)),
           "centre_name": centre.settings.centre_name, "server_time": time.time(),
           "utc_offset_min": int((datetime.now(centre.tz).utcoffset() or timedelta()).total_seconds() // 60),
           "path": request.url.path, "home": home_of(user.role) if user else "/login",
           "is_manager": bool(user and user.role in MANAGER_PAGE_ROLES), **context}
    resp = templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers.update(SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return resp


def _guard(request: Request, roles: tuple[Role, ...]) -> Principal | Response:
    """The logged-in member of staff with one of ``roles``, or the response to send instead."""
    user = _staff(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if user.role not in roles:
        return render(request, "forbidden.html", status=403, user=user, title_key="forbidden_title")
    return user


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@router.get("/")
def root(request: Request) -> Response:
    user = _staff(request)
    return RedirectResponse(home_of(user.role) if user else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    user = _staff(request)
    nxt = _safe_next(request.query_params.get("next"))
    return render(request, "login.html", user=user, next=nxt or "", title_key="login_title",
                  logged_out=request.query_params.get("bye") == "1",
                  expired=request.query_params.get("expired") == "1")


@router.get("/clerk")
def clerk_page(request: Request) -> Response:
    user = _guard(request, CLERK_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    return render(request, "clerk.html", user=user, title_key="clerk_title")


@router.get("/board")
def board_page(request: Request) -> Response:
    user = _guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    return render(request, "board.html", user=user, title_key="board_title")


def _report_or_error(request: Request) -> tuple[dict[str, Any] | None, str | None, str, str]:
    centre = _centre(request)
    start = request.query_params.get("from") or None
    end = request.query_params.get("to") or None
    try:
        d1, d2 = reports.parse_range(start, end, centre.state.day)
    except reports.RangeError as err:
        return None, str(err), start or "", end or ""
    return reports.report(centre, d1, d2), None, d1.isoformat(), d2.isoformat()


@router.get("/reports")
def reports_page(request: Request) -> Response:
    user = _guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    rep, error, start, end = _report_or_error(request)
    return render(request, "reports.html", status=422 if error else 200, user=user, title_key="reports_title",
                  report=rep, error=error, start=start, end=end, max_days=reports.MAX_DAYS)


@router.get("/reports.csv")
def reports_csv(request: Request) -> Response:
    user = _guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    rep, error, start, end = _report_or_error(request)
    if rep is None:
        return Response(json.dumps({"error": {"code": "bad_range", "message": error}}), status_code=422,
                        media_type="application/json")
    name = f"huduma-report-{start}" + (f"-to-{end}" if end != start else "") + ".csv"
    return Response(reports.csv_text(rep), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS})


@router.get("/t/{ticket_id}")
def ticket_page(ticket_id: str, request: Request) -> Response:
    """The citizen's page behind the QR code: this one ticket, nothing else; no login."""
    centre = _centre(request)
    t = centre.ticket(ticket_id) if 8 <= len(ticket_id) <= 64 else None
    if t is None:
        return render(request, "ticket_missing.html", status=404, title_key="not_found_title")
    out = centre.ticket_out(t)
    chosen = request.query_params.get("lang") in LANGUAGES or request.cookies.get(LANG_COOKIE) in LANGUAGES
    resp = render(request, "ticket.html", title_key="your_ticket", ticket=out,
                  lang=None if chosen else out.language.value, ticket_json=script_json(out.model_dump(mode="json")))
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    return resp
