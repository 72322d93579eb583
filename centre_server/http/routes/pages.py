"""The staff pages (login, clerk terminal, board) and the citizen's ticket page behind the QR code.

What they render is ``centre_server.web.pages``; every staff page checks the session
and the role before it renders.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from markupsafe import Markup

from centre_server.channels.pages import info_html
from centre_server.web import STATIC_DIR
from centre_server.web.i18n import LANG_COOKIE, LANGUAGES, lang_of
from centre_server.web.pages import (
    CLERK_PAGE_ROLES,
    MANAGER_PAGE_ROLES,
    centre_of,
    guard,
    home_of,
    render,
    safe_next,
    script_json,
    staff_of,
)

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
def favicon() -> Response:
    """The centre's "H" for browser tabs (pages link it; a browser that asks here gets it too, not a 404)."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/")
def root(request: Request) -> Response:
    user = staff_of(request)
    return RedirectResponse(home_of(user.role) if user else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    user = staff_of(request)
    nxt = safe_next(request.query_params.get("next"))
    return render(request, "login.html", user=user, next=nxt or "", title_key="login_title",
                  logged_out=request.query_params.get("bye") == "1",
                  expired=request.query_params.get("expired") == "1")


@router.get("/clerk")
def clerk_page(request: Request) -> Response:
    user = guard(request, CLERK_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    return render(request, "clerk.html", user=user, title_key="clerk_title")


@router.get("/board")
def board_page(request: Request) -> Response:
    user = guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    return render(request, "board.html", user=user, title_key="board_title")


@router.get("/t/{ticket_id}")
def ticket_page(ticket_id: str, request: Request) -> Response:
    """The citizen's page behind the QR code: this one ticket, nothing else; no login."""
    centre = centre_of(request)
    t = centre.ticket(ticket_id) if 8 <= len(ticket_id) <= 64 else None
    if t is None:
        return render(request, "ticket_missing.html", status=404, title_key="not_found_title")
    out = centre.ticket_out(t)
    chosen = request.query_params.get("lang") in LANGUAGES or request.cookies.get(LANG_COOKIE) in LANGUAGES
    lang = lang_of(request) if chosen else out.language.value
    resp = render(request, "ticket.html", title_key="your_ticket", ticket=out, lang=lang,
                  ticket_json=script_json(out.model_dump(mode="json")),
                  service_info=Markup(info_html(request, t.service_id, lang)))  # what to bring, the fee (issue 19)
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    return resp
