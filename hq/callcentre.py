"""The Huduma Call Centre console (role ``agent``) and the inbox centres collect its requests from.

An agent opens a call (the caller's number, if they give it), finds the
caller's tickets and bookings at any centre by phone or code, books for them,
reads them what a service needs from the national catalogue, records their
feedback about a centre and logs the call with its outcome. Every one of these
is audited (``hq_staff_audit``).

Headquarters never connects to a centre (a centre's LAN takes no inbound
connection): questions wait in the inbox (``hq.callcentre_store``) until the
centre asks for them with its token (``POST /api/v1/inbox``) and come back as
answers (``POST /api/v1/inbox/{id}/answer``). The call page shows each centre's
part as it arrives (``static/callcentre.js`` asks every two seconds; without
script, reloading the page shows the same).
"""

from __future__ import annotations

import logging
import time
from datetime import date as Date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from centre_server.contract import Language
from centre_server.contract.national import (
    INBOX_ANSWER_PATH,
    INBOX_PATH,
    POLL_EVERY_S,
    REQUEST_ID_PATTERN,
    BookAsk,
    InboxAnswer,
    InboxBatch,
    LookupAsk,
)
from centre_server.contract.phone import normalise_phone
from hq import staff
from hq.access import CentreDep, checked_form, error_responses as errors, require_role
from hq.admin import Pages, lang_of
from hq.auth import Accounts, HqRole, Staff
from hq.callcentre_store import HQ_TZ, OUTCOMES, RATINGS, CallCentre, start_of_today
from hq.catalogue import CatalogueStore
from hq.store import Store, StoreError

logger = logging.getLogger(__name__)

Agent = Annotated[Staff, require_role(HqRole.agent)]
Viewer = Annotated[Staff, require_role(HqRole.viewer)]
CALL_ID = r"^[A-Za-z0-9_-]{8,40}$"
FEEDBACK_DAYS = 30
BOOK_CENTRE_COOKIE = "hq_cc_book_centre"  # the centre this terminal last booked into (the form's default)


def install(app: FastAPI, store: Store, catalogues: CatalogueStore, accounts: Accounts, templates: Any,
            demo: bool) -> CallCentre:
    """Add the console, the feedback figures and the centres' inbox to ``app``."""
    calls = CallCentre(store, accounts)
    calls.migrate()
    app.state.callcentre = calls
    pages = Pages(app, catalogues, accounts, templates, demo)
    router = APIRouter(include_in_schema=False)
    api = APIRouter(tags=["call centre"])

    # ------------------------------------------------------------ the centres' side (their token)

    @api.post(INBOX_PATH, response_model=InboxBatch, responses=errors(401, 409))
    def inbox(centre: CentreDep) -> InboxBatch:
        """The requests waiting for this centre (look-ups, bookings for callers), oldest first."""
        return InboxBatch(requests=calls.take(centre["id"]), poll_every_s=POLL_EVERY_S)

    @api.post(INBOX_ANSWER_PATH, responses=errors(400, 401, 404, 409, 422))
    def inbox_answer(centre: CentreDep, body: InboxAnswer,
                     request_id: Annotated[str, Path(pattern=REQUEST_ID_PATTERN)]) -> dict[str, str]:
        """A centre's answer to one request (sent twice: stored once)."""
        return {"id": request_id, "state": calls.answer(centre["id"], request_id, body)}

    @api.get("/api/v1/feedback", responses=errors(401, 403, 422), dependencies=[require_role(HqRole.viewer)])
    def feedback_api(days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict[str, Any]:
        """Callers' feedback per centre over the last ``days`` days (count, mean rating 1-5, unhappy 1-2)."""
        return {"days": days, "centres": calls.feedback_by_centre(time.time() - days * 86400)}

    # ------------------------------------------------------------ the console

    def centres() -> list[dict[str, Any]]:
        return [c for c in store.centres() if not c["disabled"]]

    def services(lang: str) -> list[tuple[str, str]]:
        cat = catalogues.published()
        if cat is None:
            return []
        return sorted(((s.id, s.name.get(lang)) for s in cat.services), key=lambda x: x[1])

    def service_info(service_id: str) -> Any:
        cat = catalogues.published()
        return next((s for s in cat.services if s.id == service_id), None) if cat else None

    def call_of(call_id: str, who: Staff) -> dict[str, Any]:
        call = calls.call(call_id)
        if call is None:
            raise StoreError("unknown_call", "no such call", 404)
        return call

    def answers_ctx(call_id: str, lang: str) -> dict[str, Any]:
        now = time.time()
        searches = [{**s, "parts": calls.search(s["search_id"], now)} for s in calls.searches_of(call_id)]
        bookings = calls.bookings(call_id=call_id, now=now)
        # a late centre's answer may still come: the page keeps asking for it (it already says who is late)
        pending = any(p["state"] in ("waiting", "handed", "late") for s in searches for p in s["parts"]) or \
            any(b["state"] in ("waiting", "handed") for b in bookings)
        return {"searches": searches, "bookings": bookings, "pending": pending, "names": names(),
                "polls": calls.last_polls(), "now": now, "ago": ago, "service_names": dict(services(lang))}

    def names() -> dict[str, str]:
        return {c["id"]: c["name"] for c in store.centres()}

    def call_page(request: Request, who: Staff, call: dict[str, Any], *, errors: dict[str, str] | None = None,
                  form: dict[str, str] | None = None, status: int = 200, done: str = "") -> Response:
        lang = lang_of(request)
        service = request.query_params.get("service", "")[:40]
        known = centres()
        form = dict(form or {})
        if not form.get("book_centre"):  # the centre this terminal booked into last: the next caller often wants it
            kept = request.cookies.get(BOOK_CENTRE_COOKIE, "")
            if kept in {c["id"] for c in known}:
                form["book_centre"] = kept
        answers = answers_ctx(call["id"], lang)
        if "centre" not in form and answers["searches"] and len(known) > 1:
            # the look-up keeps the centre of this call's last search (one centre asked), not "all centres"
            asked = answers["searches"][0]["parts"]
            form["centre"] = asked[0]["centre_id"] if len(asked) == 1 else ""
        if not form.get("book_service") and not service and answers["bookings"]:
            # this call's next booking starts from the service of its last one (not the catalogue's first)
            form["book_service"] = str(answers["bookings"][0]["ask"].get("service_id", ""))
        form.setdefault("language", lang)  # the booking's SMS in the language the agent and caller are using
        tomorrow = (datetime.now(HQ_TZ).date() + timedelta(days=1)).isoformat()
        return pages.render(request, "callcentre_call.html", {
            "call": call, "centres": known, "services": services(lang), "info": service_info(service),
            "service": service, "errors": errors or {}, "form": form, "outcomes": OUTCOMES,
            "ratings": RATINGS, "tomorrow": tomorrow, "done": done[:20],
            "feedback": calls.feedback_of(call["id"]), **answers}, who, status)

    @router.get("/callcentre", response_class=HTMLResponse)
    def console(request: Request, who: Agent) -> Response:
        return console_page(request, who, {})

    def console_page(request: Request, who: Staff, errors: dict[str, str], typed: str = "",
                     status: int = 200) -> Response:
        now = time.time()
        return pages.render(request, "callcentre.html", {
            "calls": calls.calls(start_of_today(now), agent=who.username), "held": calls.bookings(held_only=True),
            "names": names(), "polls": calls.last_polls(), "now": now, "ago": ago, "errors": errors,
            "typed": typed, "service_names": dict(services(lang_of(request)))}, who, status)

    @router.post("/callcentre/calls", response_class=HTMLResponse)
    async def new_call(request: Request, who: Agent) -> Response:
        form = await checked_form(request, who)
        typed = str(form.get("phone") or "").strip()[:30]
        phone = normalise_phone(typed) if typed else None
        if typed and phone is None:
            return console_page(request, who, {"phone": "cc_bad_phone"}, typed, 422)
        return pages.back(f"/callcentre/calls/{calls.start_call(who.username, phone)}")

    @router.get("/callcentre/calls/{call_id}", response_class=HTMLResponse)
    def call_view(request: Request, who: Agent, call_id: Annotated[str, Path(pattern=CALL_ID)],
                  done: str = "") -> Response:
        return call_page(request, who, call_of(call_id, who), done=done)

    @router.get("/callcentre/calls/{call_id}/answers", response_class=HTMLResponse)
    def call_answers(request: Request, who: Agent, call_id: Annotated[str, Path(pattern=CALL_ID)]) -> Response:
        """The answers part of the call page alone, for the page's script to refresh."""
        call_of(call_id, who)
        return pages.render(request, "callcentre_answers.html", answers_ctx(call_id, lang_of(request)), who)

    @router.post("/callcentre/calls/{call_id}/lookup", response_class=HTMLResponse)
    async def lookup(request: Request, who: Agent, call_id: Annotated[str, Path(pattern=CALL_ID)]) -> Response:
        call = call_of(call_id, who)
        form = await checked_form(request, who)
        typed_phone = str(form.get("phone") or "").strip()[:30]
        code = "".join(str(form.get("code") or "").split())[:12]
        where = str(form.get("centre") or "")
        values = {"phone": typed_phone, "code": code, "centre": where}
        phone = normalise_phone(typed_phone) if typed_phone else None
        errs: dict[str, str] = {}
        if typed_phone and phone is None:
            errs["lookup_phone"] = "cc_bad_phone"
        if code and not (code.isdigit() and len(code) in (6, 8)):
            errs["code"] = "cc_bad_code"
        if not typed_phone and not code:
            errs["lookup_phone"] = "cc_phone_or_code"
        known = [c["id"] for c in centres()]
        if where and where not in known:
            errs["centre"] = "cc_bad_centre"
        if errs:
            return call_page(request, who, call, errors=errs, form=values, status=422)
        if phone and not call["phone"]:
            calls.set_phone(call_id, phone)
        calls.ask_lookup(who.username, call_id, [where] if where else known,
                         LookupAsk(phone=phone, code=code or None))
        return pages.back(f"/callcentre/calls/{call_id}", lang=request.query_params.get("lang"))

    @router.post("/callcentre/calls/{call_id}/book", response_class=HTMLResponse)
    async def book(request: Request, who: Agent, call_id: Annotated[str, Path(pattern=CALL_ID)]) -> Response:
        call = call_of(call_id, who)
        form = await checked_form(request, who)
        values = {k: str(form.get(k) or "").strip()[:40] for k in
                  ("book_centre", "book_service", "day", "earliest", "book_phone", "language")}
        errs: dict[str, str] = {}
        phone = normalise_phone(values["book_phone"]) or (call["phone"] if not values["book_phone"] else None)
        if phone is None:
            errs["book_phone"] = "cc_bad_phone"
        if values["book_centre"] not in {c["id"] for c in centres()}:
            errs["book_centre"] = "cc_bad_centre"
        if values["book_service"] not in {s for s, _ in services("en")}:
            errs["book_service"] = "cc_bad_service"
        try:
            day = Date.fromisoformat(values["day"])
            if day < datetime.now(HQ_TZ).date():
                errs["day"] = "cc_past_day"
        except ValueError:
            errs["day"] = "cc_bad_day"
        if errs:
            return call_page(request, who, call, errors=errs, form=values, status=422)
        try:
            ask = BookAsk(service_id=values["book_service"], day=day, earliest=values["earliest"] or "08:00",
                          phone=phone, language=Language(values["language"] if values["language"] in ("en", "sw")
                                                         else "en"))
        except ValidationError:
            return call_page(request, who, call, errors={"earliest": "cc_bad_time"}, form=values, status=422)
        if not call["phone"]:
            calls.set_phone(call_id, phone)  # type: ignore[arg-type]
        calls.ask_booking(who.username, call_id, values["book_centre"], ask)
        done = pages.back(f"/callcentre/calls/{call_id}", lang=request.query_params.get("lang"))
        # kept for this terminal's next booking form (this call's next booking, or the next caller's)
        done.set_cookie(BOOK_CENTRE_COOKIE, values["book_centre"], max_age=12 * 3600, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/callcentre")
        return done

    @router.post("/callcentre/calls/{call_id}/feedback", response_class=HTMLResponse)
    async def feedback(request: Request, who: Agent, call_id: Annotated[str, Path(pattern=CALL_ID)]) -> Response:
        call = call_of(call_id, who)
        form = await checked_form(request, who)
        values = {"fb_centre": str(form.get("fb_centre") or "")[:40], "rating": str(form.get("rating") or ""),
                  "comment": str(form.get("comment") or "")[:500]}
        errs = {}
        if values["fb_centre"] not in {c["id"] for c in centres()}:
            errs["fb_centre"] = "cc_bad_centre"
        if values["rating"] not in {str(r) for r in RATINGS}:
            errs["rating"] = "cc_bad_rating"
        if errs:
            return call_page(request, who, call, errors=errs, form=values, status=422)
        calls.add_feedback(who.username, call_id, values["fb_centre"], int(values["rating"]), values["comment"])
        return pages.back(f"/callcentre/calls/{call_id}", done="feedback", lang=request.query_params.get("lang"))

    @router.post("/callcentre/calls/{call_id}/close", response_class=HTMLResponse)
    async def close(request: Request, who: Agent, call_id: Annotated[str, Path(pattern=CALL_ID)]) -> Response:
        call = call_of(call_id, who)
        form = await checked_form(request, who)
        outcome, note = str(form.get("outcome") or ""), str(form.get("note") or "")[:500]
        if outcome not in OUTCOMES:
            return call_page(request, who, call, errors={"outcome": "cc_bad_outcome"}, form={"note": note},
                             status=422)
        try:
            calls.close_call(who.username, call_id, outcome, note)
        except StoreError:
            return call_page(request, who, call, errors={"outcome": "cc_logged_already"}, status=409)
        return pages.back("/callcentre", lang=request.query_params.get("lang"))

    @router.get("/callcentre/feedback", response_class=HTMLResponse)
    def feedback_page(request: Request, who: Viewer) -> Response:
        since = time.time() - FEEDBACK_DAYS * 86400
        figures = calls.feedback_by_centre(since)
        rows = [{"id": c["id"], "name": c["name"], **figures.get(c["id"], {"count": 0, "mean": None, "unhappy": 0})}
                for c in store.centres()]
        return pages.render(request, "callcentre_feedback.html", {"rows": rows, "days": FEEDBACK_DAYS}, who)

    app.include_router(api)
    app.include_router(router)
    staff.install(app, pages, accounts)
    return calls


def ago(then: float | None, now: float) -> dict[str, Any] | None:
    """How long ago a centre last asked for its inbox: minutes, hours or days (None: never)."""
    if then is None:
        return None
    s = max(0.0, now - then)
    if s < 60:
        return {"key": "cc_ago_now", "n": 0}
    if s < 3600:
        return {"key": "cc_ago_min", "n": int(s // 60)}
    if s < 86400:
        return {"key": "cc_ago_hours", "n": int(s // 3600)}
    return {"key": "cc_ago_days", "n": int(s // 86400)}

