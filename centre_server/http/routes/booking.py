"""The citizen's booking of a visit (/book): choose a time, confirm it with the code sent by SMS, cancel it."""

from __future__ import annotations

import logging
import re
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from centre_server.channels.core import ChannelError
from centre_server.channels.i18n import LANGUAGES, tr
from centre_server.channels.pages import book_form, booked_view, field, hub_of, lang_of, read_form, render
from centre_server.http.deps import limits_of

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/book")
def book_page(request: Request) -> Response:
    hub = hub_of(request)
    lang = lang_of(request)
    day = request.query_params.get("day", "")[:12] or None
    problem = day_problem(day)
    if problem is not None:  # 2026-02-30, 99999-01-01: said on the page, and the days one can book shown
        return book_form(request, hub, lang, request.query_params.get("service", "")[:64], status=422,
                          error=tr(problem, lang, day=day))
    return book_form(request, hub, lang, request.query_params.get("service", "")[:64], day=day)


def day_problem(day: str | None) -> str | None:
    """The strings key saying what is wrong with a ``day`` asked for, or None when it is a real, bookable-era day."""
    if day is None:
        return None
    try:
        d = date.fromisoformat(day) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) else None
    except ValueError:
        return "err_day_not_real"
    if d is None:
        return "err_day_range" if re.fullmatch(r"\d{5,}-\d{2}-\d{2}", day) else "err_day_not_real"
    return None if 2000 <= d.year <= 2200 else "err_day_range"


@router.post("/book")
async def book_submit(request: Request) -> Response:
    hub = hub_of(request)
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    lang = field(form, "lang", 2) if field(form, "lang", 2) in LANGUAGES else lang_of(request)
    service_id, phone, slot = field(form, "service_id", 64), field(form, "phone", 32), field(form, "slot", 20)
    wait = limits_of(request).book_address.allow(request.client.host if request.client else "unknown")
    if wait > 0:  # one address trying many numbers: each try would send an SMS to someone
        logger.warning("POST /book refused: %s is over book_per_address_per_hour", request.client)
        resp = book_form(request, hub, lang, service_id, status=429, phone=phone,
                          error=tr("err_book_address", lang, m=max(1, round(wait / 60))),
                          chosen=int(slot) if slot.isdigit() else None)
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    try:
        if not slot.isdigit():
            raise ChannelError(422, "bad_slot", "err_slot")
        then = tuple(v.strip()[:64] for v in form.getlist("then") if isinstance(v, str) and v.strip())[:3]
        appt = hub.book(service_id, float(int(slot)), phone, lang, then=then)  # then: a booked visit
    except ChannelError as err:
        return book_form(request, hub, lang, service_id, status=err.status, error=err.message(lang), phone=phone,
                          chosen=int(slot) if slot.isdigit() else None)
    return RedirectResponse(f"/book/{appt['id']}?lang={lang}", status_code=303)


@router.get("/book/{appt_id}")
def booked_page(appt_id: str, request: Request) -> Response:
    hub = hub_of(request)
    appt = hub.appointment(appt_id)
    if appt is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    return booked_view(request, hub, appt, lang_of(request))


@router.post("/book/{appt_id}/confirm")
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
        return booked_view(request, hub, appt, lang, status=err.status, error=err.message(lang))
    return RedirectResponse(f"/book/{appt_id}?lang={lang}", status_code=303)


@router.post("/book/{appt_id}/cancel")
def booked_cancel(appt_id: str, request: Request) -> Response:
    hub = hub_of(request)
    appt = hub.cancel_appointment(appt_id) if len(appt_id) <= 64 else None
    if appt is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    return RedirectResponse(f"/book/{appt_id}", status_code=303)
