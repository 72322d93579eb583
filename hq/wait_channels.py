"""The wait question by SMS and USSD at the national short code: "WAIT K NAKURU".

Africa's Talking's callback shapes, as the centres' channels speak them:
USSD ``POST /ussd/wait`` (form ``sessionId, serviceCode, phoneNumber, text``; the
answers so far ``*``-joined; replies ``CON``/``END`` within 182 characters) and
incoming SMS ``POST /sms/wait`` (form ``from, to, text, date, id``; the reply
goes out through the bulk SMS API, ``centre_server.channels.sms``, off the request).
A callback must carry the gateway key (``?key=`` or ``X-Gateway-Key``;
``HUDUMA_HQ_GATEWAY_KEY``; a demo headquarters without one answers anyone), and
each phone may ask a few times per ten minutes.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import unicodedata
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from centre_server.channels.sms import AfricasTalkingGateway, LogGateway, SmsError, SmsGateway
from hq.i18n import STRINGS
from hq.public import PerKeyLimit, WaitAnswer, answer, find_service, services

logger = logging.getLogger(__name__)

MAX_USSD = 182
MAX_SMS = 306  # two concatenated GSM-7 segments
KEYWORDS = {"WAIT": "en", "SUBIRI": "sw"}
MAX_FORM_BYTES = 4096


def gateway_from_env(demo: bool) -> SmsGateway:
    """Africa's Talking when ``HUDUMA_HQ_AT_API_KEY`` is set; otherwise a log file a person can read."""
    key = os.environ.get("HUDUMA_HQ_AT_API_KEY", "")
    if key:
        return AfricasTalkingGateway(os.environ.get("HUDUMA_HQ_AT_BASE_URL", "https://api.africastalking.com"),
                                     os.environ.get("HUDUMA_HQ_AT_USERNAME", "sandbox"), key,
                                     os.environ.get("HUDUMA_HQ_AT_SENDER_ID", ""))
    from zoneinfo import ZoneInfo

    return LogGateway(Path(os.environ.get("HUDUMA_HQ_SMS_LOG", "demo-hq/sms.log" if demo else "hq-sms.log")),
                      ZoneInfo(os.environ.get("HUDUMA_HQ_TZ", "Africa/Nairobi")))


def ascii_screen(text: str) -> str:
    """USSD screens are plain ASCII on many handsets: accents dropped, dashes and ellipses spelt simply."""
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2026", "...")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _short(name: str) -> str:
    return name.removeprefix("Huduma Centre ").removeprefix("Kituo cha Huduma ")


def reply_text(ans: WaitAnswer | None, lang: str, limit: int, service_given: str = "", place: str = "") -> str:
    """The answer in one message: the best centres first, each with its wait and how fresh it is."""
    t = STRINGS.bind(lang)
    if ans is None:
        return str(t("wait_sms_unknown", service=service_given[:10]))
    head = str(t("wait_sms_head", prefix=ans.service.prefix, place=place.upper()[:20]))
    if not ans.centres:
        return head + " " + str(t("wait_sms_none"))
    parts: list[str] = []
    for i, c in enumerate(ans.centres[:4], 1):
        f = c["figures"]
        if c["status"] == "open" and f and f["estimated_wait_s"] is not None:
            what = str(t("wait_sms_open", min=round(f["estimated_wait_s"] / 60), n=f["waiting"]))
        elif c["status"] == "open":
            what = str(t("wait_sms_open_unknown", n=f["waiting"] if f else 0))
        elif c["status"] == "suspended":
            what = str(t("wait_suspended"))
        else:
            what = str(t("wait_status_" + c["status"]))
        age = c["age_s"]
        fresh = "" if age is None or age < 90 or c["status"] != "open" else " " + str(t("wait_sms_age",
                                                                                        n=round(age / 60)))
        part = f"{i}) {_short(c['name'])}: {what}{fresh}."
        if len(head) + sum(len(p) + 1 for p in parts) + len(part) + 1 > limit:
            break
        parts.append(part)
    return (head + " " + " ".join(parts))[:limit]


def _field(form: Any, name: str, limit: int = 200) -> str:
    v = form.get(name)
    return v.strip()[:limit] if isinstance(v, str) else ""


def router(demo: bool = False) -> APIRouter:
    """The SMS and USSD callbacks for the national short code."""
    api = APIRouter(include_in_schema=False)
    key = os.environ.get("HUDUMA_HQ_GATEWAY_KEY", "")
    per_phone = PerKeyLimit(int(os.environ.get("HUDUMA_HQ_WAIT_PER_PHONE", "6")), 600.0)
    per_address = PerKeyLimit(600, 60.0)
    state: dict[str, SmsGateway] = {}
    if not key and not demo:
        logger.error("the wait SMS/USSD callbacks refuse every request: set HUDUMA_HQ_GATEWAY_KEY and give the "
                     "gateway the callback URL with ?key=<it>")

    def refused(request: Request) -> PlainTextResponse | None:
        if not key:
            if not demo:
                return PlainTextResponse("webhook not configured", status_code=403)
        else:
            given = request.query_params.get("key") or request.headers.get("x-gateway-key") or ""
            if not secrets.compare_digest(given.encode(), key.encode()):
                return PlainTextResponse("forbidden", status_code=403)
        if not per_address.allow(request.client.host if request.client else "unknown"):
            return PlainTextResponse("too many requests", status_code=429, headers={"Retry-After": "60"})
        return None

    async def read(request: Request) -> Any:
        try:
            if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
                return None
            return await request.form(max_files=0, max_fields=20)
        except Exception:  # not a form, malformed: a clean 400
            return None

    def ask(request: Request, service_given: str, place: str) -> WaitAnswer | None:
        found = find_service(services(request), service_given[:40])
        if found is None or not place:
            return None
        return answer(request.app.state.store, found, place[:60])

    @api.post("/ussd/wait", response_class=PlainTextResponse)
    async def ussd(request: Request) -> PlainTextResponse:
        """One USSD screen from the session's answers so far: language, service letter, county or town."""
        bad = refused(request)
        if bad is not None:
            return bad
        form = await read(request)
        if form is None:
            return PlainTextResponse("END Sorry, this request cannot be served.", status_code=400)
        phone = _field(form, "phoneNumber", 40)
        steps = [s.strip() for s in (_field(form, "text", 160)).split("*")] if _field(form, "text", 160) else []
        lang = "sw" if steps and steps[0] == "2" else "en"
        t = STRINGS.bind(lang)
        if not steps or steps[0] not in ("1", "2"):
            welcome = str(STRINGS.tr("wait_ussd_welcome", lang="en"))
            return PlainTextResponse(f"CON {welcome}\n1. English\n2. Kiswahili")
        if len(steps) == 1:
            return PlainTextResponse(("CON " + str(t("wait_ussd_service")))[:MAX_USSD])
        if find_service(services(request), steps[1][:40]) is None:
            return PlainTextResponse(("END " + str(t("wait_sms_unknown", service=steps[1][:10])))[:MAX_USSD])
        if len(steps) == 2 or not steps[2]:
            return PlainTextResponse(("CON " + str(t("wait_ussd_place")))[:MAX_USSD])
        if phone and not per_phone.allow(phone):
            return PlainTextResponse(("END " + str(t("wait_sms_slow_down")))[:MAX_USSD])
        ans = ask(request, steps[1], steps[2])
        return PlainTextResponse("END " + ascii_screen(reply_text(ans, lang, MAX_USSD - 4, steps[1], steps[2])))

    @api.post("/sms/wait", response_class=PlainTextResponse)
    async def sms(request: Request) -> PlainTextResponse:
        """An incoming SMS: "WAIT K NAKURU" (or "SUBIRI K NAKURU"); the reply goes out by SMS."""
        bad = refused(request)
        if bad is not None:
            return bad
        form = await read(request)
        if form is None:
            return PlainTextResponse("bad form", status_code=400)
        phone = _field(form, "from", 40)
        if not phone:
            return PlainTextResponse("missing 'from'", status_code=400)
        words = _field(form, "text", 160).split()
        lang = KEYWORDS.get(words[0].upper(), "en") if words else "en"
        if not per_phone.allow(phone):
            return PlainTextResponse("rate limited")  # no reply: a loop of messages stops here
        if len(words) < 3 or words[0].upper() not in KEYWORDS:
            text = str(STRINGS.tr("wait_sms_help", lang=lang))
        else:
            text = reply_text(ask(request, words[1], " ".join(words[2:])), lang, MAX_SMS, words[1],
                              " ".join(words[2:]))
        if "gateway" not in state:
            state["gateway"] = gateway_from_env(demo)
        gateway = state["gateway"]

        def send() -> None:
            try:
                gateway.send(phone, text)
            except SmsError as err:
                logger.warning("wait reply to %s not sent: %s", phone[-4:], err)

        threading.Thread(target=send, name="wait-sms", daemon=True).start()
        return PlainTextResponse("ok")

    return api
