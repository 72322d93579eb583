"""The citizen's remote ticket on the web (/join) and the feedback form behind a ticket.

No login: the pages are limited per client address (``CitizenPageLimit``); what they
show is ``centre_server.channels.pages``.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from centre_server.channels.core import ChannelError
from centre_server.channels.i18n import LANGUAGES, tr, wait_phrase
from centre_server.channels.pages import RATINGS, feedback_ticket, field, hub_of, join_form, lang_of, read_form, render
from centre_server.contract import Channel, TicketState
from centre_server.contract.errors import Refusal

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/join")
def join_page(request: Request) -> Response:
    hub = hub_of(request)
    return join_form(request, hub, lang_of(request), selected=request.query_params.get("service", "")[:64])


@router.post("/join")
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
        # a one-stop visit: the services ticked under "Also today", in the menu's order (docs/design.md §3)
        then = tuple(v.strip()[:64] for v in form.getlist("then") if isinstance(v, str) and v.strip())[:3]
        t, _ = hub.issue_remote(service_id, phone, lang, Channel.web, key=f"web:{day}:{nonce}", then=then)
    except ChannelError as err:
        return join_form(request, hub, lang, status=err.status, nonce=nonce, selected=service_id, phone=phone,
                          error=err, pay=field(form, "pay", 8))
    refused = ""
    if field(form, "pay", 8) == "mpesa" and hub.pushable_fee(t.service_id) and t.phone:  # issue 20: pay now
        try:
            hub.pay_now(t.id, t.phone)
        except Refusal as err:  # a second press of the button finds the prompt already sent: nothing to say
            if err.code not in ("pending", "already_paid"):
                logger.info("join %s: M-Pesa prompt not sent: %s", t.number, err.code)
                refused = "&pay=" + err.code
    return RedirectResponse(f"/join/{t.id}?lang={lang}{refused}", status_code=303)


@router.get("/join/{ticket_id}")
def joined_page(ticket_id: str, request: Request) -> Response:
    hub = hub_of(request)
    t = hub.centre.ticket(ticket_id) if 8 <= len(ticket_id) <= 64 else None
    code = hub.code_of(ticket_id) if t else None
    if t is None or code is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    out = hub.centre.ticket_out(t)
    lang = lang_of(request)
    if out.state == TicketState.waiting and out.check_in_by is not None:  # passed over: check in to keep the place
        wait = tr("ticket_passed_over", lang, time=f"{out.check_in_by:%H:%M}")
    elif out.state == TicketState.waiting:
        wait = wait_phrase(lang, out.estimated_wait_s, out.wait_unknown, long=True)
    else:  # no wait to tell once called, served or cancelled (e.g. at the day's close): say where it stands
        wait = tr(f"ticket_state_{out.state.value}", lang)
    refused = request.query_params.get("pay", "")[:32]
    return render(request, "joined.html", lang=lang, ticket=out, code=code, checked_in=t.checked_in,
                  payment=hub.payment(t.id), grace_min=max(1, -(-hub.centre.state.policy.check_in_grace_s // 60)),
                  pay_refused=tr("join_pay_refused", lang) if refused else "",
                  wait=wait, wait_known=out.estimated_wait_s is not None and out.state == TicketState.waiting
                  and out.check_in_by is None,
                  title_key="your_ticket")




@router.get("/t/{ticket_id}/feedback")
def feedback_page(ticket_id: str, request: Request) -> Response:
    hub = hub_of(request)
    out = feedback_ticket(hub, ticket_id)
    if out is None:
        return render(request, "missing.html", status=404, title_key="not_found")
    servable = out.state in (TicketState.called, TicketState.serving, TicketState.done)
    return render(request, "feedback.html", ticket=out, servable=servable, error=None, ratings=RATINGS,
                  thanks=request.query_params.get("thanks") == "1", title_key="feedback_title")


@router.post("/t/{ticket_id}/feedback")
async def feedback_submit(ticket_id: str, request: Request) -> Response:
    hub = hub_of(request)
    out = feedback_ticket(hub, ticket_id)
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
        out = feedback_ticket(hub, ticket_id) or out  # a rating given meanwhile by another channel shows
        servable = out.state in (TicketState.called, TicketState.serving, TicketState.done)
        return render(request, "feedback.html", status=err.status, lang=lang, ticket=out, servable=servable,
                      error=err.message(lang), thanks=False, ratings=RATINGS, title_key="feedback_title")
    return RedirectResponse(f"/t/{ticket_id}/feedback?thanks=1&lang={lang}", status_code=303)
