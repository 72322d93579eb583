"""The SMS aggregator's callbacks: USSD sessions and incoming SMS.

Not limited per address (every citizen's request comes from the aggregator's one
address): the gateway guard checks the key and the network, the channels cap per phone.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from centre_server.channels import ChannelsExtension, ussd
from centre_server.channels.gateway import GatewayGuard
from centre_server.channels.pages import field, hub_of, raw_field, read_form
from centre_server.runtime.extension import running

logger = logging.getLogger(__name__)

router = APIRouter(tags=["channels"])


def gateway(request: Request) -> GatewayGuard:
    """The webhooks' guard, made with the channels from ``[channels]`` (see gateway.py)."""
    return running(request, ChannelsExtension).gateway


@router.post("/ussd", response_class=PlainTextResponse, include_in_schema=False)  # the aggregator's format
async def ussd_callback(request: Request) -> PlainTextResponse:
    """The aggregator's USSD callback: form fields sessionId, serviceCode, phoneNumber, text; replies CON/END."""
    hub = hub_of(request)
    refused = gateway(request).refuse(request)
    if refused is not None:
        return refused
    form = await read_form(request)
    if form is None:
        return PlainTextResponse(ussd.refusal_screen("u_bad_request"), status_code=400)
    started = time.monotonic()
    reply = ussd.respond(hub, field(form, "sessionId", 120) or None, field(form, "phoneNumber", 40) or None,
                         raw_field(form, "text"))
    logger.debug("ussd %s -> %r in %.1f ms", field(form, "sessionId", 40), reply[:40],
                 (time.monotonic() - started) * 1000)
    return PlainTextResponse(reply)


@router.post("/sms/inbound", response_class=PlainTextResponse, include_in_schema=False)
async def sms_inbound(request: Request) -> PlainTextResponse:
    """The aggregator's incoming-SMS callback (from, to, text, date, id): "1".."4" rates the last service."""
    hub = hub_of(request)
    refused = gateway(request).refuse(request)
    if refused is not None:
        return refused
    form = await read_form(request)
    if form is None:
        return PlainTextResponse("bad form", status_code=400)
    if not field(form, "from", 40):
        return PlainTextResponse("missing 'from'", status_code=400)
    outcome = hub.inbound_sms(field(form, "from", 40), raw_field(form, "text") or "")
    return PlainTextResponse(outcome)
