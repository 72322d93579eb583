"""The channels' citizen pages (/join, /book, feedback): what they show, in the citizen's language.

The pages are plain HTML forms (no script): they work on the cheapest phone
browser, and a form posted twice issues one ticket (a nonce per form). The
routes that answer with them are in ``centre_server.http.routes`` (join, booking).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from centre_server.channels.core import ChannelError, ChannelHub, refusal_error
from centre_server.channels.i18n import LANGUAGES, STRINGS, format_day, tr
from centre_server.channels.info import InfoView, info_view, suspension
from centre_server.contract import IssueRefusal, Satisfaction, TicketOut, unserved_today, wait_minutes
from centre_server.contract.catalogue import CatalogueStatePayload
from centre_server.runtime.extension import running

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

def hub_of(request: Request) -> ChannelHub:
    """The running channels of the app."""
    from centre_server.channels import ChannelsExtension

    return running(request, ChannelsExtension).running_hub()


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
        "t": STRINGS.bind(lang), "lang": lang, "languages": LANGUAGES, "centre_name": hub.centre.settings.centre_name,
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


def raw_field(form: FormData, name: str) -> str | None:
    """A text field exactly as sent, or None when absent (``read_form`` refuses any file upload)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def _service_groups(hub: ChannelHub, lang: str,
                    catalogue: CatalogueStatePayload | None = None) -> list[tuple[str, list[dict[str, Any]]]]:
    """The services by category, each with what a newcomer can expect: a wait, why none, or book instead;
    a suspended service says so (its reason is shown beside the list) and cannot be chosen."""
    groups: dict[str, list[dict[str, Any]]] = {}
    catalogue = catalogue or hub.catalogue()
    for s in hub.services(catalogue):
        f = hub.figures(s.id)
        cat = (s.category_sw or s.category) if lang == "sw" else s.category
        full = hub.remote_issued_last_hour(s.id) >= hub.settings.cap_for(s.id)
        book_only = f["refusal"] == IssueRefusal.after_last_call
        reason = suspension(catalogue.info(s.id))
        if reason is not None:
            label = tr("waiting_suspended", lang)
        elif full:
            label = tr("remote_full", lang)
        elif book_only:
            # no counter left today, or a queue too long to be called before the last call
            why = "waiting_no_counter_" if unserved_today(f) else "waiting_"
            label = tr(why + ("book_only" if hub.settings.appointments_enabled else "none_today"), lang)
        elif f["estimated_wait_s"] is None:  # why: a counter on a break is not "no counter open"
            paused = str(f.get("wait_unknown") or "") == "paused"
            label = tr("waiting_paused" if paused else "waiting_no_counter", lang, n=f["queued"])
        else:
            label = tr("waiting_now", lang, n=f["queued"], m=max(1, wait_minutes(f["estimated_wait_s"])))
        groups.setdefault(cat or "-", []).append({
            "id": s.id, "name": s.name_sw if lang == "sw" else s.name_en, "waiting": f["queued"],
            "label": label, "full": full, "book_only": book_only and reason is None,
            "suspended": reason.get(lang) if reason else None, "disabled": full or book_only or reason is not None})
    return list(groups.items())


def service_info(hub: ChannelHub, service_id: str, lang: str,
                 catalogue: CatalogueStatePayload | None = None) -> InfoView | None:
    """What the pages show about one service (documents, fee, who, suspension), or None without catalogue text."""
    catalogue = catalogue or hub.catalogue()
    info = catalogue.info(service_id)
    svc = hub.service(service_id)
    return info_view(info, lang, catalogue.demo, svc.prefix if svc else None) if info else None


def info_html(request: Request, service_id: str, lang: str) -> str:
    """The service's information as the channels' pages draw it, for a page of another room (the citizen's
    ticket page /t/, which shows a suspension in its own live notice): one markup for the checklist
    wherever it is shown. Empty without catalogue text, or when the channels are not running."""
    try:
        hub = hub_of(request)
    except (LookupError, RuntimeError):
        return ""
    view = service_info(hub, service_id, lang)
    if view is None:
        return ""
    macro = templates.env.get_template("_info.html").module.service_info  # type: ignore[attr-defined]
    return str(macro(view, notice=False))


def _suspended_list(groups: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, str]]:
    return [{"id": s["id"], "name": s["name"], "reason": s["suspended"]}
            for _, services in groups for s in services if s["suspended"]]


def _book_offers(hub: ChannelHub, groups: list[tuple[str, list[dict[str, Any]]]],
                 lang: str) -> list[dict[str, str]]:
    """Links to /book for the services that take no more tickets today, prefilled with the next open day."""
    offers = []
    _, _, book_day = hub.closed()
    for _, services in groups:
        for s in services:
            if s["book_only"] and hub.settings.appointments_enabled:
                day = hub.bookable_day(s["id"], book_day)
                offers.append({"id": s["id"], "text": tr("book_for", lang, service=s["name"],
                                                         day=format_day(lang, day) if day else ""),
                               "href": f"/book?service={s['id']}" + (f"&day={day.isoformat()}" if day else "")
                               + f"&lang={lang}"})
    return offers


def join_form(request: Request, hub: ChannelHub, lang: str, status: int = 200, nonce: str | None = None,
               selected: str = "", phone: str = "", error: ChannelError | None = None, pay: str = "") -> Response:
    """/join: first the services (or, closed, when the centre opens again); once one is chosen
    (``?service=``), what to bring, the fee and who may apply, then the phone number and the ticket.
    Services too late today offer a booking; a suspended one gives its reason and takes no ticket."""
    reason, opens_at, book_day = hub.closed()
    if error is not None and error.code == IssueRefusal.day_closed:
        reason, opens_at = reason or error.code, error.opens_at or opens_at
    closed = None
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    catalogue = hub.catalogue()
    chosen: dict[str, Any] | None = None
    if reason is not None:  # nothing to take: when it opens again, and booking another day
        closed = {"message": refusal_error(IssueRefusal.day_closed, opens_at, book_day).message(lang),
                  "book_href": f"/book?lang={lang}"}
    else:
        groups = _service_groups(hub, lang, catalogue)
        chosen = next((s for _, services in groups for s in services if s["id"] == selected), None)
        if selected and chosen is None and error is None and status == 200:  # a link to a service not here
            error, status = ChannelError(404, "unknown_service", "err_service"), 404
    info = service_info(hub, chosen["id"], lang, catalogue) if chosen else None
    offers = _book_offers(hub, groups, lang) if chosen is None else []
    err_text, err_book = None, None
    if error is not None and error.code != IssueRefusal.day_closed:
        err_text = error.message(lang)
        if error.code == IssueRefusal.after_last_call and error.service_id and error.book_day:
            day = error.book_day
            err_book = (f"/book?service={error.service_id}" + (f"&day={day.isoformat()}" if day else "")
                        + f"&lang={lang}")
    if chosen is not None and chosen["book_only"] and not err_book and hub.settings.appointments_enabled:
        day = hub.bookable_day(chosen["id"], book_day)
        err_book = f"/book?service={chosen['id']}" + (f"&day={day.isoformat()}" if day else "") + f"&lang={lang}"
    return render(request, "join.html", status=status, lang=lang, groups=groups, closed=closed, offers=offers,
                  nonce=nonce or secrets.token_urlsafe(12), selected=selected, phone=phone, error=err_text,
                  error_book=err_book, chosen=chosen, info=info, pay=pay,
                  visit_offers=visit_offers(hub, chosen["id"], lang) if chosen else [],
                  pay_fee=hub.pushable_fee(chosen["id"]) if chosen and not chosen["disabled"] else 0,
                  suspended=_suspended_list(groups) if chosen is None else [],
                  title_key="closed_title" if closed else "join_title")


# ------------------------------------------------------------------ /join


def visit_offers(hub: Any, service_id: str, lang: str) -> list[dict[str, str]]:
    """The services the menu says often follow ``service_id`` and issuing now: "also today, one ticket"."""
    services = hub.centre.state.services
    first = services.get(service_id)
    out = []
    for sid in (first.then if first is not None else ()):
        s = services.get(sid)
        if s is not None and s.enabled and s.offered and s.suspension is None:
            out.append({"id": s.id, "name": s.name_sw if lang == "sw" else s.name_en})
    return out


# ------------------------------------------------------------------ /book


def _slot_view(hub: ChannelHub, service_id: str, lang: str, day: str | None,
               chosen: int | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The bookable days (as chips) and the slots of the one shown: asked for, chosen, or the first with room."""
    days = []
    for d, times in hub.slots(service_id):
        free = sum(1 for _, left in times if left > 0)
        days.append({"iso": d.isoformat(), "label": _day_label(d, lang), "free": free,
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


def book_form(request: Request, hub: ChannelHub, lang: str, service_id: str, status: int = 200,
               error: str | None = None, phone: str = "", chosen: int | None = None,
               day: str | None = None) -> Response:
    offered = hub.services()
    svc = next((s for s in offered if s.id == service_id), None) if service_id else None
    if svc is None:  # none chosen yet, or one this centre does not offer
        return render(request, "book.html", status=status if error else (404 if service_id else 200), lang=lang,
                      groups=_service_groups(hub, lang), service=None, days=[], shown=None, phone=phone,
                      error=error or (tr("err_service", lang) if service_id else None),
                      early=hub.settings.check_in_early_min, chosen=None, title_key="book_title")
    info = service_info(hub, svc.id, lang)
    days, shown = _slot_view(hub, svc.id, lang, day, chosen) if info is None or not info.suspended else ([], None)
    return render(request, "book.html", status=status, lang=lang, groups=[], phone=phone, error=error,
                  service={"id": svc.id, "name": svc.name_sw if lang == "sw" else svc.name_en},
                  days=days, shown=shown, early=hub.settings.check_in_early_min, chosen=chosen, info=info,
                  visit_offers=visit_offers(hub, svc.id, lang), title_key="book_title")


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


def booked_view(request: Request, hub: ChannelHub, appt: dict[str, Any], lang: str, status: int = 200,
            error: str | None = None) -> Response:
    view = _appointment_view(hub, appt, lang)
    title = {"pending": "pending_title", "booked": "booked_title"}.get(view["state"], "book_title")
    return render(request, "booked.html", status=status, lang=lang, appt=view, error=error, title_key=title)


# ------------------------------------------------------------------ feedback (citizen page)


# The form's choices, best first as citizens expect; values and words come from the one scale.
RATINGS = [s.value for s in sorted(Satisfaction, reverse=True)]


def feedback_ticket(hub: ChannelHub, ticket_id: str) -> TicketOut | None:
    t = hub.centre.ticket(ticket_id) if 8 <= len(ticket_id) <= 64 else None
    return hub.centre.ticket_out(t) if t else None


