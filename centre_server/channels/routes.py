"""HTTP of the channels: the citizen pages (/join, /book, feedback), USSD, inbound SMS, kiosk check-in.

The pages are plain HTML forms (no script): they work on the cheapest phone
browser, and a form posted twice issues one ticket (a nonce per form).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from centre_server.http.deps import ISSUE_ROLES, ClerkDep, ManagerDep, PrincipalDep
from centre_server.channels import ussd
from centre_server.channels.gateway import GatewayGuard
from centre_server.http.ratelimit import RateLimiter
from centre_server.channels.core import ChannelError, ChannelHub, refusal_error
from centre_server.channels.i18n import LANGUAGES, Translator, format_day, tr, wait_phrase
from centre_server.contract.channels import AppointmentOut, CheckInRequest, CheckInResponse
from centre_server.contract import (
    API_PREFIX,
    Channel,
    ErrorResponse,
    IssueRefusal,
    Satisfaction,
    TicketOut,
    TicketState,
)

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
LANG_COOKIE = "huduma_lang"  # the same preference as the web pages'
MAX_FORM_BYTES = 8192
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
}

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix=API_PREFIX, tags=["channels"])
hooks = APIRouter(tags=["channels"])


def gateway_of(request: Request) -> GatewayGuard:
    """The webhooks' guard, made once per app from ``[channels]`` (see gateway.py)."""
    guard = getattr(request.app.state, "channel_gateway", None)
    if guard is None:
        s = hub_of(request).settings
        guard = request.app.state.channel_gateway = GatewayGuard(
            s.gateway_key or s.sms_inbound_key, s.gateway_networks, s.webhook_per_minute,
            demo=bool(getattr(request.app.state.settings, "demo", False)))
    return guard


def hub_of(request: Request) -> ChannelHub:
    return request.app.state.channels


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGUAGES:
        return q
    c = request.cookies.get(LANG_COOKIE)
    if c in LANGUAGES:
        return c
    accept = request.headers.get("accept-language", "").lower()
    return "sw" if accept.startswith("sw") else "en"


def render(request: Request, name: str, status: int = 200, lang: str | None = None, **ctx: Any) -> HTMLResponse:
    lang = lang or lang_of(request)
    hub = hub_of(request)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    base_q = "&".join(f"{k}={v}" for k, v in query.items() if k.isidentifier() and len(v) < 80 and v.isascii())
    resp = templates.TemplateResponse(request, name, {
        "t": Translator(lang), "lang": lang, "languages": LANGUAGES, "centre_name": hub.centre.settings.centre_name,
        "lang_query": (base_q + "&" if base_q else ""), **ctx}, status_code=status)
    resp.headers.update(SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return resp


async def read_form(request: Request) -> FormData | None:
    """The posted form, or None when it is too big or not a form (answered with a clean 4xx)."""
    try:
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return None
        return await request.form(max_files=0, max_fields=20)
    except Exception:  # malformed bodies, wrong content type
        return None


def field(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _service_groups(hub: ChannelHub, lang: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """The services by category, each with what a newcomer can expect: a wait, why none, or book instead."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in hub.services():
        f = hub.figures(s.id)
        cat = (s.category_sw or s.category) if lang == "sw" else s.category
        full = hub.remote_issued_last_hour(s.id) >= hub.settings.cap_for(s.id)
        book_only = f["refusal"] == IssueRefusal.after_last_call
        if full:
            label = tr(lang, "remote_full")
        elif book_only:
            label = tr(lang, "waiting_book_only" if hub.settings.appointments_enabled else "waiting_none_today")
        elif f["estimated_wait_s"] is None:
            label = tr(lang, "waiting_no_counter", n=f["waiting"])
        else:
            label = tr(lang, "waiting_now", n=f["waiting"], m=max(1, round(f["estimated_wait_s"] / 60)))
        groups.setdefault(cat or "-", []).append({
            "id": s.id, "name": s.name_sw if lang == "sw" else s.name_en, "waiting": f["waiting"],
            "label": label, "full": full, "book_only": book_only, "disabled": full or book_only})
    return list(groups.items())


def _book_offers(hub: ChannelHub, groups: list[tuple[str, list[dict[str, Any]]]],
                 lang: str) -> list[dict[str, str]]:
    """Links to /book for the services that take no more tickets today, prefilled with the next open day."""
    offers = []
    _, _, book_day = hub.closed()
    for _, services in groups:
        for s in services:
            if s["book_only"] and hub.settings.appointments_enabled:
                day = hub.bookable_day(s["id"], book_day)
                offers.append({"id": s["id"], "text": tr(lang, "book_for", service=s["name"],
                                                         day=format_day(lang, day) if day else ""),
                               "href": f"/book?service={s['id']}" + (f"&day={day.isoformat()}" if day else "")
                               + f"&lang={lang}"})
    return offers


def _join_page(request: Request, hub: ChannelHub, lang: str, status: int = 200, nonce: str | None = None,
               selected: str = "", phone: str = "", error: ChannelError | None = None) -> Response:
    """/join: the form, or (closed) when the centre opens again; services too late today offer a booking."""
    reason, opens_at, book_day = hub.closed()
    if error is not None and error.code == IssueRefusal.day_closed:
        reason, opens_at = reason or error.code, error.opens_at or opens_at
    closed = None
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    if reason is not None:  # nothing to take: when it opens again, and booking another day
        closed = {"message": refusal_error(IssueRefusal.day_closed, opens_at, book_day).message(lang),
                  "book_href": f"/book?lang={lang}"}
    else:
        groups = _service_groups(hub, lang)
    offers = _book_offers(hub, groups, lang)
    err_text, err_book = None, None
    if error is not None and error.code != IssueRefusal.day_closed:
        err_text = error.message(lang)
        if error.code == IssueRefusal.after_last_call and error.service_id and error.book_day:
            day = error.book_day
            err_book = (f"/book?service={error.service_id}" + (f"&day={day.isoformat()}" if day else "")
                        + f"&lang={lang}")
    return render(request, "join.html", status=status, lang=lang, groups=groups, closed=closed, offers=offers,
                  nonce=nonce or secrets.token_urlsafe(12), selected=selected, phone=phone, error=err_text,
                  error_book=err_book, title_key="closed_title" if closed else "join_title")


# ------------------------------------------------------------------ /join


@pages.get("/join")
def join_page(request: Request) -> Response:
    hub = hub_of(request)
    return _join_page(request, hub, lang_of(request), selected=request.query_params.get("service", "")[:64])


@pages.post("/join")
async def join_submit(request: Request) -> Response:
    hub = hub_of(request)
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    lang = field(form, "lang", 2) if field(form, "lang", 2) in LANGUAGES else lang_of(request)
    service_id, phone = field(form, "service_id", 64), field(form, "phone", 32)
    nonce = field(form, "nonce", 64) or secrets.token_urlsafe(12)
    try:
        if not service_id:
            raise ChannelError(422, "no_service", "err_service")
        day = hub.centre.state.day
        t, _ = hub.issue_remote(service_id, phone, lang, Channel.web, key=f"web:{day}:{nonce}")
    except ChannelError as err:
        return _join_page(request, hub, lang, status=err.status, nonce=nonce, selected=service_id, phone=phone,
                          error=err)
    return RedirectResponse(f"/join/{t.id}?lang={lang}", status_code=303)


@pages.get("/join/{ticket_id}")
def joined_page(ticket_id: str, request: Request) -> Response:
    hub = hub_of(request)
    t = hub.centre.ticket(ticket_id) if 8 <= len(ticket_id) <= 64 else None
    code = hub.code_of(ticket_id) if t else None
    if t is None or code is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    out = hub.centre.ticket_out(t)
    lang = lang_of(request)
    if out.state == TicketState.waiting:
        wait = wait_phrase(lang, out.estimated_wait_s, out.wait_unknown, long=True)
    else:  # no wait to tell once called, served or cancelled (e.g. at the day's close): say where it stands
        wait = tr(lang, f"ticket_state_{out.state.value}")
    return render(request, "joined.html", lang=lang, ticket=out, code=code, checked_in=t.checked_in,
                  wait=wait, wait_known=out.estimated_wait_s is not None and out.state == TicketState.waiting,
                  title_key="your_ticket")


# ------------------------------------------------------------------ /book


def _slot_view(hub: ChannelHub, service_id: str, lang: str, day: str | None,
               chosen: int | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The bookable days (as chips) and the slots of the one shown: asked for, chosen, or the first with room."""
    days = []
    for d, times in hub.slots(service_id):
        days.append({"iso": d.isoformat(), "label": _day_label(d, lang), "free": sum(1 for _, left in times if left > 0),
                     "slots": [{"ts": int(ts), "time": hub.local(ts).strftime("%H:%M"), "left": left}
                               for ts, left in times]})
    if chosen is not None:
        day = hub.local(chosen).date().isoformat()
    shown = next((d for d in days if d["iso"] == day), None) or next((d for d in days if d["free"]), None)
    return days, shown


WEEKDAY_NAMES = {"en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                 "sw": ["Jumatatu", "Jumanne", "Jumatano", "Alhamisi", "Ijumaa", "Jumamosi", "Jumapili"]}


def _day_label(d: Any, lang: str) -> str:
    return f"{WEEKDAY_NAMES[lang][d.weekday()]} {d.day:02d}/{d.month:02d}"


def _book_form(request: Request, hub: ChannelHub, lang: str, service_id: str, status: int = 200,
               error: str | None = None, phone: str = "", chosen: int | None = None,
               day: str | None = None) -> Response:
    svc = hub.service(service_id) if service_id else None
    if svc is None or not svc.enabled:
        return render(request, "book.html", status=status if error else (404 if service_id else 200), lang=lang,
                      groups=_service_groups(hub, lang), service=None, days=[], shown=None, phone=phone,
                      error=error or (Translator(lang)("err_service") if service_id else None),
                      early=hub.settings.check_in_early_min, chosen=None, title_key="book_title")
    days, shown = _slot_view(hub, svc.id, lang, day, chosen)
    return render(request, "book.html", status=status, lang=lang, groups=[], phone=phone, error=error,
                  service={"id": svc.id, "name": svc.name_sw if lang == "sw" else svc.name_en},
                  days=days, shown=shown, early=hub.settings.check_in_early_min, chosen=chosen,
                  title_key="book_title")


@pages.get("/book")
def book_page(request: Request) -> Response:
    hub = hub_of(request)
    return _book_form(request, hub, lang_of(request), request.query_params.get("service", "")[:64],
                      day=request.query_params.get("day", "")[:10] or None)


@pages.post("/book")
async def book_submit(request: Request) -> Response:
    hub = hub_of(request)
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    lang = field(form, "lang", 2) if field(form, "lang", 2) in LANGUAGES else lang_of(request)
    service_id, phone, slot = field(form, "service_id", 64), field(form, "phone", 32), field(form, "slot", 20)
    wait = _book_limiter(request, hub).allow(request.client.host if request.client else "unknown")
    if wait > 0:  # one address trying many numbers: each try would send an SMS to someone
        logger.warning("POST /book refused: %s is over book_per_address_per_hour", request.client)
        resp = _book_form(request, hub, lang, service_id, status=429, phone=phone,
                          error=tr(lang, "err_book_address", m=max(1, round(wait / 60))),
                          chosen=int(slot) if slot.isdigit() else None)
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    try:
        if not slot.isdigit():
            raise ChannelError(422, "bad_slot", "err_slot")
        appt = hub.book(service_id, float(int(slot)), phone, lang)
    except ChannelError as err:
        return _book_form(request, hub, lang, service_id, status=err.status, error=err.message(lang), phone=phone,
                          chosen=int(slot) if slot.isdigit() else None)
    return RedirectResponse(f"/book/{appt['id']}?lang={lang}", status_code=303)


def _book_limiter(request: Request, hub: ChannelHub) -> RateLimiter:
    """POST /book per client address (``book_per_address_per_hour``), made once per app."""
    limiter = getattr(request.app.state, "book_limiter", None)
    if limiter is None:
        limiter = request.app.state.book_limiter = RateLimiter(hub.settings.book_per_address_per_hour, 3600.0)
    return limiter


def _appointment_view(hub: ChannelHub, appt: dict[str, Any], lang: str) -> dict[str, Any]:
    svc = hub.service(appt["service_id"])
    start, end = hub.window(appt["slot_at"])
    when = hub.local(appt["slot_at"])
    state = appt["state"]
    pending = hub.pending_of(appt["id"]) if state == "pending" else None
    if state == "pending" and (pending is None or pending["expires_at"] <= hub.now()):
        state = "expired"  # lapsed, even if the job that records it has not run yet
    return {**appt, "state": state,
            "service_name": (svc.name_sw if lang == "sw" else svc.name_en) if svc else appt["service_id"],
            "when": f"{_day_label(when.date(), lang)} {when.strftime('%H:%M')}",
            "start": hub.local(start).strftime("%H:%M"), "end": hub.local(end).strftime("%H:%M"),
            "until": hub.local(pending["expires_at"]).strftime("%H:%M") if pending else "",
            "phone_masked": ("*" * 7 + appt["phone"][-3:]) if appt.get("phone") else ""}


def _booked(request: Request, hub: ChannelHub, appt: dict[str, Any], lang: str, status: int = 200,
            error: str | None = None) -> Response:
    view = _appointment_view(hub, appt, lang)
    title = {"pending": "pending_title", "booked": "booked_title"}.get(view["state"], "book_title")
    return render(request, "booked.html", status=status, lang=lang, appt=view, error=error, title_key=title)


@pages.get("/book/{appt_id}")
def booked_page(appt_id: str, request: Request) -> Response:
    hub = hub_of(request)
    appt = hub.appointment(appt_id)
    if appt is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    return _booked(request, hub, appt, lang_of(request))


@pages.post("/book/{appt_id}/confirm")
async def booked_confirm(appt_id: str, request: Request) -> Response:
    """The code the phone got by SMS, typed on the page: only then is the time held."""
    hub = hub_of(request)
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    lang = field(form, "lang", 2) if field(form, "lang", 2) in LANGUAGES else lang_of(request)
    try:
        hub.confirm_booking(appt_id, field(form, "code", 20))
    except ChannelError as err:
        appt = hub.appointment(appt_id)
        if appt is None:
            return render(request, "missing.html", status=404, lang=lang, title_key="not_found")
        return _booked(request, hub, appt, lang, status=err.status, error=err.message(lang))
    return RedirectResponse(f"/book/{appt_id}?lang={lang}", status_code=303)


@pages.post("/book/{appt_id}/cancel")
def booked_cancel(appt_id: str, request: Request) -> Response:
    hub = hub_of(request)
    appt = hub.cancel_appointment(appt_id) if len(appt_id) <= 64 else None
    if appt is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    return RedirectResponse(f"/book/{appt_id}", status_code=303)


# ------------------------------------------------------------------ feedback (citizen page)


# The form's choices, best first as citizens expect; values and words come from the one scale.
RATINGS = [s.value for s in sorted(Satisfaction, reverse=True)]


def _feedback_ctx(hub: ChannelHub, ticket_id: str) -> TicketOut | None:
    t = hub.centre.ticket(ticket_id) if 8 <= len(ticket_id) <= 64 else None
    return hub.centre.ticket_out(t) if t else None


@pages.get("/t/{ticket_id}/feedback")
def feedback_page(ticket_id: str, request: Request) -> Response:
    hub = hub_of(request)
    out = _feedback_ctx(hub, ticket_id)
    if out is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    servable = out.state in (TicketState.called, TicketState.serving, TicketState.done)
    return render(request, "feedback.html", ticket=out, servable=servable, error=None, ratings=RATINGS,
                  thanks=request.query_params.get("thanks") == "1", title_key="feedback_title")


@pages.post("/t/{ticket_id}/feedback")
async def feedback_submit(ticket_id: str, request: Request) -> Response:
    hub = hub_of(request)
    out = _feedback_ctx(hub, ticket_id)
    if out is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    lang = field(form, "lang", 2) if field(form, "lang", 2) in LANGUAGES else lang_of(request)
    rating = field(form, "rating", 2)
    try:
        if rating not in {str(r) for r in RATINGS}:
            raise ChannelError(422, "bad_rating", "err_rating")
        hub.give_feedback(ticket_id, int(rating), field(form, "comment", 500))
    except ChannelError as err:
        out = _feedback_ctx(hub, ticket_id) or out  # a rating given meanwhile by another channel shows
        servable = out.state in (TicketState.called, TicketState.serving, TicketState.done)
        return render(request, "feedback.html", status=err.status, lang=lang, ticket=out, servable=servable,
                      error=err.message(lang), thanks=False, ratings=RATINGS, title_key="feedback_title")
    return RedirectResponse(f"/t/{ticket_id}/feedback?thanks=1&lang={lang}", status_code=303)


# ------------------------------------------------------------------ kiosk check-in (API)


DAY_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorResponse} for c in codes}


@api.post("/check-in", response_model=CheckInResponse, responses=_errors(400, 401, 403, 404, 409, 410, 422, 429))
def check_in(body: CheckInRequest, request: Request, principal: PrincipalDep) -> Response | CheckInResponse:
    """Check in at a kiosk: a remote ticket's 6-digit code, a booking's 8-digit code, or the phone number.

    Kiosk or staff token. 200 with the tickets checked in; 404 ``unknown_code``,
    409 ``too_early``, 410 ``window_passed``/``missed``, 422 ``bad_phone``; 429 when a device
    (or anyone, on codes sharing their first three digits) tries too many.
    """
    if principal.role not in ISSUE_ROLES:
        return JSONResponse({"error": {"code": "forbidden", "message": "only kiosks and staff check citizens in"}},
                            status_code=403)
    limited = _check_in_limited(request, principal.name, body.code)
    if limited is not None:
        return limited
    hub = hub_of(request)
    try:
        results = hub.check_in(body.code, None if body.code else body.phone)
    except ChannelError as err:
        return JSONResponse(err.body(), status_code=err.status)
    tickets = [hub.centre.ticket_out(r.ticket) for r in results]
    numbers = ", ".join(t.number for t in tickets)
    key = "ci_already" if all(r.already for r in results) else "ci_done"
    return CheckInResponse(tickets=tickets, kinds=[r.kind for r in results],
                           message_en=Translator("en")(key, number=numbers),
                           message_sw=Translator("sw")(key, number=numbers))


CHECK_IN_PER_DEVICE_PER_MIN = 20  # a kiosk checks in a citizen every few seconds at most
CHECK_IN_PER_PREFIX_PER_MIN = 30  # codes sharing their first 3 digits, from every device together


def _check_in_limited(request: Request, device: str, code: str | None) -> JSONResponse | None:
    """Trying every code (10,000 in 80 s once) meets a 429 long before it finds one."""
    limits = getattr(request.app.state, "check_in_limits", None)
    if limits is None:
        limits = request.app.state.check_in_limits = (
            RateLimiter(CHECK_IN_PER_DEVICE_PER_MIN, 60.0), RateLimiter(CHECK_IN_PER_PREFIX_PER_MIN, 60.0))
    wait = limits[0].allow(device)
    if wait <= 0 and code:
        wait = limits[1].allow(code[:3])
    if wait > 0:
        return JSONResponse({"error": {"code": "rate_limited",
                                       "message": f"too many check-ins: try again in {int(wait) + 1} s"}},
                            status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    return None


@api.get("/appointments", response_model=list[AppointmentOut], responses=_errors(401, 403, 422))
def list_appointments(request: Request, principal: ClerkDep,
                      day: str | None = Query(None, pattern=DAY_PATTERN, description="YYYY-MM-DD; today if absent"),
                      ) -> list[AppointmentOut]:
    """A day's appointments, for the clerks and the manager; phone numbers masked."""
    hub = hub_of(request)
    try:
        d = date.fromisoformat(day) if day else hub.local(hub.now()).date()
    except ValueError:  # 2030-02-31: no such day, so no appointments on it
        return []
    if not 2000 <= d.year <= 2200:
        return []
    return [AppointmentOut(id=a["id"], service_id=a["service_id"], slot_at=hub.local(a["slot_at"]).isoformat(),
                           state=a["state"], code=a["code"], language=a["language"], ticket_id=a["ticket_id"],
                           phone=("*" * 9 + a["phone"][-3:]) if a["phone"] else None)
            for a in hub.appointments_on(d)]


@api.get("/channels/status", responses=_errors(401, 403))
def channels_status(request: Request, principal: ManagerDep) -> dict[str, Any]:
    """The SMS queue (pending, sent, failed, recent errors), today's appointments and remote tickets."""
    return hub_of(request).status()


# ------------------------------------------------------------------ USSD and SMS webhooks


@hooks.post("/ussd", response_class=PlainTextResponse, include_in_schema=False)  # the aggregator's format
async def ussd_callback(request: Request) -> PlainTextResponse:
    """The aggregator's USSD callback: form fields sessionId, serviceCode, phoneNumber, text; replies CON/END."""
    hub = hub_of(request)
    refused = gateway_of(request).refuse(request)
    if refused is not None:
        return refused
    form = await read_form(request)
    if form is None:
        return PlainTextResponse(ussd.end("Sorry, this request cannot be served."), status_code=400)
    started = time.monotonic()
    reply = ussd.respond(hub, field(form, "sessionId", 120) or None, field(form, "phoneNumber", 40) or None,
                         form.get("text") if isinstance(form.get("text"), str) else None)
    logger.debug("ussd %s -> %r in %.1f ms", field(form, "sessionId", 40), reply[:40],
                 (time.monotonic() - started) * 1000)
    return PlainTextResponse(reply)


@hooks.post("/sms/inbound", response_class=PlainTextResponse, include_in_schema=False)
async def sms_inbound(request: Request) -> PlainTextResponse:
    """The aggregator's incoming-SMS callback (from, to, text, date, id): "1".."4" rates the last service."""
    hub = hub_of(request)
    refused = gateway_of(request).refuse(request)
    if refused is not None:
        return refused
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    if not field(form, "from", 40):
        return PlainTextResponse("missing 'from'", status_code=400)
    outcome = hub.inbound_sms(field(form, "from", 40), form.get("text") if isinstance(form.get("text"), str) else "")
    return PlainTextResponse(outcome)
