"""Live figures at headquarters: the centres' snapshots in, the national live board out.

``POST /api/v1/live`` (centre token) takes a centre's ``LiveSnapshot``; ``GET /live``
(role viewer) and ``GET /api/v1/live/centres`` show the latest per centre and service,
each with how fresh it is (stale after ``live_store.STALE_AFTER_S``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from centre_server.contract.errors import Refusal
from centre_server.contract.live import LIVE_PATH, MAX_LIVE_BYTES, LiveReceipt, LiveSnapshot
from hq import live_store
from hq.access import current_staff
from hq.i18n import LANGUAGES, STRINGS

logger = logging.getLogger(__name__)


def age_words(t: Any, age_s: float | None) -> str:
    """How old figures are, in the reader's language ("2 min ago", "no live figures")."""
    if age_s is None:
        return str(t("live_never"))
    if age_s < 90:
        return str(t("live_age_now"))
    if age_s < 90 * 60:
        return str(t("live_age_min", n=int(age_s // 60)))
    return str(t("live_age_h", n=int(age_s // 3600)))


def centre_rows(store: Any, service_id: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """Every centre's latest figures with ``age_s`` and ``stale`` (old, or of another day than the centre's today)."""
    now = time.time() if now is None else now
    rows = live_store.latest(store, service_id)
    for c in rows:
        c["age_s"] = None if c["received_at"] is None else max(0.0, now - c["received_at"])
        today = None
        if c["timezone"]:
            try:
                from zoneinfo import ZoneInfo

                today = datetime.fromtimestamp(now, ZoneInfo(c["timezone"])).date().isoformat()
            except Exception:  # a zone this server lacks: judge by age alone
                today = c["day"]
        c["stale"] = c["age_s"] is None or c["age_s"] > live_store.STALE_AFTER_S or c["day"] != today
        c["other_day"] = c["day"] is not None and today is not None and c["day"] != today
    return rows


def language(request: Request, lang: str | None) -> str:
    lang = lang if lang in LANGUAGES else request.cookies.get("hq_lang", "en")
    return lang if lang in LANGUAGES else "en"


def router(templates: Any, centre_of: Callable[..., dict[str, Any]], viewer: Any = None) -> APIRouter:
    """The live routes. ``centre_of`` is the app's centre-token dependency; ``viewer`` the dependency
    that requires the viewer role on the board (if any)."""
    api = APIRouter()
    board_deps = [viewer] if viewer is not None else []  # e.g. hq.access.require_role(HqRole.viewer)

    @api.post(LIVE_PATH, tags=["live"], response_model=LiveReceipt, status_code=201,
              responses={200: {"model": LiveReceipt, "description": "stale: a newer snapshot is held"},
                         **{c: {"description": "{\"error\": {\"code\", \"message\"}}"}
                            for c in (401, 403, 409, 413, 422)}})
    async def ingest(request: Request, centre: dict = Depends(centre_of)) -> Response:  # noqa: B008
        """A centre's live snapshot (``centre_server/contract/live.py``, ``LiveSnapshot``).

        ``POST /api/v1/live`` with ``Authorization: Bearer <centre token>`` and a JSON body
        ``{"centre_id", "taken_at" (ISO 8601 with offset), "day", "timezone", "catalogue_version",
        "hours": {"open_today", "opens", "closes"}, "services": [{"service_id", "prefix", "offered",
        "suspended", "reason", "accepting", "waiting", "in_hall", "on_the_way", "estimated_wait_s", "open_counters",
        "service_level", "measured", "issued_today"}]}`` (strict: no other keys, numbers as numbers).
        Answers 201 ``{"centre_id", "outcome": "stored", "services", "received_at"}``; 200 with outcome
        ``stale`` when a snapshot taken later is held (nothing changes); 401 without a good token,
        403 ``wrong_centre``, 413 ``too_large`` over 256 KB, 422 ``bad_snapshot`` with the first reason.
        """
        if int(request.headers.get("content-length") or 0) > MAX_LIVE_BYTES:
            raise Refusal(413, "too_large", f"a snapshot is at most {MAX_LIVE_BYTES} bytes")
        raw = await request.body()
        if len(raw) > MAX_LIVE_BYTES:
            raise Refusal(413, "too_large", f"a snapshot is at most {MAX_LIVE_BYTES} bytes")
        try:
            snap = LiveSnapshot.model_validate_json(raw)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "body"
            raise Refusal(422, "bad_snapshot", f"{where}: {first.get('msg')} ({err.error_count()} error(s))") \
                from None
        if snap.centre_id != centre["id"]:
            raise Refusal(403, "wrong_centre", f"this token belongs to {centre['id']}, not {snap.centre_id}")
        ids = [s.service_id for s in snap.services]
        if len(set(ids)) != len(ids):
            raise Refusal(422, "bad_snapshot", "services: a service is listed twice")
        now = time.time()
        # in the thread pool, as the token check was: the event loop keeps reading other centres' requests
        outcome = await run_in_threadpool(live_store.put_snapshot, request.app.state.store, snap, now)
        receipt = LiveReceipt(centre_id=snap.centre_id, outcome=outcome, services=len(snap.services),
                              received_at=datetime.fromtimestamp(now, UTC))
        return JSONResponse(receipt.model_dump(mode="json"), status_code=201 if outcome == "stored" else 200)

    @api.get("/api/v1/live/centres", tags=["live"], dependencies=board_deps,
             responses={c: {"description": "{\"error\": {\"code\", \"message\"}}: login_needed, role_needed"}
                        for c in (401, 403)})
    def live_json(request: Request) -> dict[str, Any]:
        """Every centre's latest live figures per service, with their age and whether they are stale."""
        return {"stale_after_s": live_store.STALE_AFTER_S, "centres": centre_rows(request.app.state.store)}

    @api.get("/live", response_class=HTMLResponse, include_in_schema=False, dependencies=board_deps)
    def live_board(request: Request, lang: str | None = None) -> HTMLResponse:
        """The national live board: each centre's queues now, per service."""
        lang = language(request, lang)
        t = STRINGS.bind(lang)
        store = request.app.state.store
        cat = request.app.state.catalogues.published()
        names = {s.id: s.name.get(lang) for s in cat.services} if cat else {}
        rows = centre_rows(store)
        for c in rows:
            c["age_words"] = age_words(t, c["age_s"])
            for s in c["services"]:
                s["name"] = names.get(s["service_id"], s["service_id"])
                # in the hall, as the centre's own board counts (a centre from before ``in_hall``: its queue)
                s["hall"] = s["waiting"] if s.get("in_hall") is None else s["in_hall"]
                # nobody waiting, nobody served today, nothing unusual: one line for all of them
                s["quiet"] = (not s["waiting"] and not s["issued_today"] and s["offered"] and not s["suspended"]
                              and s["accepting"])
        totals = {"centres": len(rows), "reporting": sum(1 for c in rows if not c["stale"]),
                  "waiting": sum(s["hall"] for c in rows if not c["stale"] for s in c["services"])}
        html = templates.TemplateResponse(request, "live_board.html", {
            "t": t, "lang": lang, "other_lang": "sw" if lang == "en" else "en", "centres": rows,
            "totals": totals, "staff": current_staff(request)})
        html.set_cookie("hq_lang", lang, max_age=365 * 86400, samesite="lax")
        return html

    return api
