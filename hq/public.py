"""The public wait page: "Where is the shortest wait for this service near me?" (no login).

``GET /wait`` (a phone-sized page, English and Kiswahili) and ``GET /api/v1/wait``
(the same answer as JSON) pick a service of the national catalogue, then the
centres of a county or town, or the centres near the phone's position; each
centre with its hours today, whether it offers the service today (suspended or
not offered said so), the live wait and how fresh it is. The SMS and USSD
channels (``hq/wait_channels.py``) ask the same question through ``answer``.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from centre_server.contract.errors import Refusal
from hq import live_store
from hq.i18n import STRINGS
from hq.live import age_words, centre_rows, language

logger = logging.getLogger(__name__)

NEAR_KM = 60.0  # "near me": centres within this distance; when none is, the nearest few
NEAREST_FEW = 3
PER_ADDRESS_PER_MINUTE = 240  # the public page and its JSON: enough for a cyber café, not for a scraper loop


@dataclass
class ServiceChoice:
    id: str
    prefix: str
    name: dict[str, str]


@dataclass
class WaitAnswer:
    """Centres for one service and place, best first; ``best`` is the one with the shortest live wait."""

    service: ServiceChoice
    place: str | None
    near: tuple[float, float] | None
    centres: list[dict[str, Any]] = field(default_factory=list)
    widened: bool = False  # nothing within NEAR_KM: the nearest few instead

    @property
    def best(self) -> dict[str, Any] | None:
        """The first open centre whose wait is known; a centre with no figure is never called the shortest."""
        return next((c for c in self.centres if c["status"] == "open" and known_wait(c["figures"])), None)


def known_wait(figures: dict[str, Any] | None) -> bool:
    """A real estimate, or nobody waiting while a counter serves the service: a wait one can promise."""
    if not figures:
        return False
    if figures.get("estimated_wait_s") is not None:
        return True
    return not figures.get("waiting") and bool(figures.get("open_counters"))


def wait_words(t: Any, figures: dict[str, Any]) -> str:
    """Why an open centre has no estimate: nobody serving the service, or not enough served yet to say."""
    waiting = figures.get("waiting") or 0
    if not figures.get("open_counters"):
        return str(t("wait_no_counter", n=waiting))
    return str(t("wait_nobody_waiting")) if not waiting else str(t("wait_no_estimate", n=waiting))


class PerKeyLimit:
    """At most ``rate`` requests per ``per`` seconds for one key (a phone, an address)."""

    def __init__(self, rate: int, per: float) -> None:
        self.rate, self.per = rate, per
        self._hits: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._hits) > 50_000:  # a flood of made-up numbers must not grow memory without end
                self._hits.clear()
            hits = self._hits.setdefault(key, collections.deque())
            while hits and hits[0] <= now - self.per:
                hits.popleft()
            if len(hits) >= self.rate:
                return False
            hits.append(now)
            return True


def services(request: Request) -> list[ServiceChoice]:
    """The national catalogue's services (the newest published version), by name."""
    cat = request.app.state.catalogues.published()
    if cat is None:
        return []
    return sorted((ServiceChoice(s.id, s.prefix, {"en": s.name.en, "sw": s.name.sw}) for s in cat.services),
                  key=lambda s: s.name["en"])


def find_service(choices: list[ServiceChoice], given: str) -> ServiceChoice | None:
    """A service by its id ("birth-cert") or its national ticket letter ("K"), as a citizen types it."""
    g = given.strip()
    for s in choices:
        if s.id == g.lower() or s.prefix == g.upper():
            return s
    return None


def answer(store: Any, service: ServiceChoice, place: str | None = None,
           near: tuple[float, float] | None = None, now: float | None = None) -> WaitAnswer:
    """The centres for ``service`` in ``place`` (a county or town, any case) or near ``near``, best first."""
    now = time.time() if now is None else now
    rows = centre_rows(store, service.id, now)
    out = WaitAnswer(service, place, near)
    key = " ".join(place.split()).casefold() if place else None
    chosen = []
    for c in rows:
        if key and key not in ((c["county"] or "").casefold(), (c["town"] or "").casefold()):
            continue
        if near is not None and c["latitude"] is not None and c["longitude"] is not None:
            c["distance_km"] = round(live_store.distance_km(near[0], near[1], c["latitude"], c["longitude"]), 1)
        else:
            c["distance_km"] = None
        s = c["services"][0] if c["services"] else None
        hours = c["hours"] or {}
        if c["received_at"] is None:
            status = "no_figures"
        elif not hours.get("open_today", True) and not c["other_day"]:
            status = "closed_today"
        elif s is None or not s["offered"]:
            status = "not_offered"
        elif s["suspended"]:
            status = "suspended"
        elif c["stale"]:
            status = "stale"
        elif not s["accepting"]:
            status = "not_accepting"
        else:
            status = "open"
        c["status"] = status
        c["figures"] = s
        chosen.append(c)
    if near is not None:
        located = [c for c in chosen if c["distance_km"] is not None]
        within = [c for c in located if c["distance_km"] <= NEAR_KM]
        if not within:
            out.widened = True
            within = sorted(located, key=lambda c: c["distance_km"])[:NEAREST_FEW]
        chosen = within

    def order(c: dict[str, Any]) -> tuple[Any, ...]:
        est = c["figures"]["estimated_wait_s"] if c["figures"] else None
        return (c["status"] != "open", not known_wait(c["figures"]), est is None, est or 0,
                c["distance_km"] if c["distance_km"] is not None else math.inf, c["name"])

    out.centres = sorted(chosen, key=order)
    return out


def places(store: Any) -> list[str]:
    """Counties with at least one centre, for the page's list."""
    return sorted({p.county for p in live_store.places(store).values() if p.county})


def _position(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    if not lat and not lon:
        return None
    try:
        la, lo = float(lat or ""), float(lon or "")
    except ValueError:
        raise Refusal(422, "bad_position", "lat and lon are decimal degrees, e.g. lat=-0.30&lon=36.07") from None
    if not (math.isfinite(la) and math.isfinite(lo) and -90 <= la <= 90 and -180 <= lo <= 180):
        raise Refusal(422, "bad_position", "lat is between -90 and 90, lon between -180 and 180")
    return la, lo


def _as_json(ans: WaitAnswer, lang: str) -> dict[str, Any]:
    t = STRINGS.bind(lang)
    return {
        "service": {"id": ans.service.id, "prefix": ans.service.prefix, "name": ans.service.name[lang]},
        "place": ans.place, "near": list(ans.near) if ans.near else None, "widened": ans.widened,
        "best": ans.best["id"] if ans.best else None,
        "centres": [{
            "id": c["id"], "name": c["name"], "county": c["county"], "town": c["town"],
            "distance_km": c["distance_km"], "hours": c["hours"], "status": c["status"],
            "waiting": c["figures"]["waiting"] if c["figures"] else None,
            "estimated_wait_s": c["figures"]["estimated_wait_s"] if c["figures"] else None,
            "reason": (c["figures"]["reason"] or {}).get(lang) if c["figures"] and c["figures"]["reason"] else None,
            "received_at": c["received_at"], "age_s": c["age_s"], "stale": c["stale"],
            "freshness": age_words(t, c["age_s"]),
        } for c in ans.centres],
    }


def router(templates: Any) -> APIRouter:
    """The open routes: ``/wait`` and ``/api/v1/wait``."""
    api = APIRouter()
    limit = PerKeyLimit(PER_ADDRESS_PER_MINUTE, 60.0)

    def not_too_often(request: Request) -> None:
        if not limit.allow(request.client.host if request.client else "unknown"):
            raise Refusal(429, "too_many_requests", "too many questions from this address: try again in a minute",
                          headers={"Retry-After": "60"})

    @api.get("/api/v1/wait", tags=["public"], responses={
        404: {"description": "unknown_service"}, 422: {"description": "bad_position"},
        429: {"description": "too_many_requests"}}, dependencies=[Depends(not_too_often)])
    def wait_json(request: Request, service: str, county: str | None = None, lat: str | None = None,
                  lon: str | None = None, lang: str = "en") -> dict[str, Any]:
        """The shortest live waits for ``service`` (id or ticket letter) in ``county`` (or town), or near
        ``lat``/``lon``: every centre with its status (open, suspended, not_offered, closed_today, stale,
        not_accepting, no_figures), hours today, waiting, estimate and freshness; ``best`` names the first open."""
        lang = lang if lang in ("en", "sw") else "en"
        found = find_service(services(request), service[:40])
        if found is None:
            raise Refusal(404, "unknown_service", f"no service {service[:40]!r} in the national catalogue")
        near = _position(lat, lon)
        place = (county or "").strip()[:60] or None
        return _as_json(answer(request.app.state.store, found, place, near), lang)

    @api.get("/wait", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(not_too_often)])
    def wait_page(request: Request, service: str | None = None, county: str | None = None,
                  lat: str | None = None, lon: str | None = None, lang: str | None = None) -> HTMLResponse:
        """The page: a form (works without scripts), then the answer; "Use my location" fills lat/lon."""
        lang = language(request, lang)
        t = STRINGS.bind(lang)
        choices = services(request)
        chosen = find_service(choices, service[:40]) if service else None
        error = None
        ans = None
        try:
            near = _position(lat, lon)
        except Refusal:
            near, error = None, t("wait_bad_position")
        place = (county or "").strip()[:60] or None
        if service and chosen is None:
            error = t("wait_unknown_service")
        elif chosen is not None and (place or near):
            ans = answer(request.app.state.store, chosen, None if near else place, near)
            for c in ans.centres:
                c["age_words"] = age_words(t, c["age_s"])
        html = templates.TemplateResponse(request, "wait.html", {
            "t": t, "wait_words": wait_words, "lang": lang, "other_lang": "sw" if lang == "en" else "en",
            "services": choices,
            "chosen": chosen, "counties": places(request.app.state.store), "county": place, "near": near,
            "ans": ans, "error": error,
            "other_url": str(request.url.include_query_params(lang="sw" if lang == "en" else "en").replace(
                scheme="", netloc="")).removeprefix("//")})
        html.set_cookie("hq_lang", lang, max_age=365 * 86400, samesite="lax")
        return html

    return api
