"""Headquarters web application: receives centres' daily summaries, shows the national board.

``POST /api/v1/summaries`` (centre token, ``Idempotency-Key``) stores a day once per
key; the board at ``/`` compares centres; ``/export.csv`` gives the figures to a
spreadsheet. Errors are ``{"error": {"code", "message"}}`` like the centre's API.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import date as Date, timedelta
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from centre_server.contract import summary as schema
from centre_server.contract.catalogue import (
    CATALOGUE_EPOCH_HEADER,
    CATALOGUE_PATH,
    CATALOGUE_REPORT_PATH,
    CATALOGUE_VERSION_HEADER,
    Catalogue,
    CentreCatalogueReport,
    catalogue_etag,
)
from centre_server.contract.errors import Refusal, method_not_allowed
from centre_server.contract.summary import Stored, SummaryIn
from hq import admin, board, callcentre, live, public, revenue, upstream_health, wait_channels
from hq.access import centre_of, current_staff, require_role
from hq.auth import Accounts, HqRole
from hq.catalogue import CatalogueStore
from hq.i18n import LANGUAGES, STRINGS
from hq.store import Store

logger = logging.getLogger(__name__)

DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
MAX_VERSION = 10**9  # no catalogue version beyond: the database's INTEGER column holds it, a real one is far below
CENTRE_ID_RE = r"^[a-z0-9][a-z0-9-]{0,39}$"  # as huduma-hq add-centre accepts (never a NUL PostgreSQL refuses)


class HqError(Refusal):
    """A request headquarters' API refuses (who is sending, or what was sent)."""




class CatalogueReceipt(BaseModel):
    """Headquarters' answer to a centre's catalogue report."""

    centre_id: str
    version: int = Field(description="the version the centre said it runs")
    newest: int = Field(description="the newest version headquarters has published (0: none yet)")
    behind: bool = Field(description="the centre runs an older version than the newest")
    published_here: bool = Field(True, description="false: the version is not one this headquarters published "
                                                   "(nothing is published yet, e.g. a rebuilt headquarters); the "
                                                   "report is kept, and the centre takes version 1 once it is")


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: ``*`` or a list of (possibly weak) tags, compared weakly."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def version_of_etag(if_none_match: str | None, epoch: str = "") -> int | None:
    """The version a centre says it runs in its ``If-None-Match`` (``"v3-<epoch>"``, or ``"v3"`` from a centre
    that knows no epoch yet), if it says one of this history (a version of a rebuilt one's means nothing here)."""
    m = re.fullmatch(r'\s*(?:W/)?"v(\d{1,9})(?:-([A-Za-z0-9_]{1,64}))?"\s*', if_none_match or "")
    if m is None or (m.group(2) is not None and m.group(2) != epoch):
        return None
    return int(m.group(1))


class ErrorBody(BaseModel):
    code: str
    message: str
    revision_held: int | None = Field(None, description="with key_reused: the revision headquarters holds")


class ErrorResponse(BaseModel):
    """Every error headquarters answers: ``{"error": {"code", "message"}}``."""

    error: ErrorBody


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route declares (schemathesis checks that no other status is answered)."""
    return {c: {"model": ErrorResponse} for c in codes}


# A calendar date: documented as ``format: date`` so clients (and schemathesis) know what is valid;
# checked by ``_check_date`` so a bad one gets code ``bad_date`` rather than a generic validation error.
DATE_DOC = {"format": "date"}




def _check_date(value: str | None, name: str = "date") -> str | None:
    if value is None:
        return None
    if not re.match(DATE_RE, value):
        raise HqError(422, "bad_date", f"{name} must be YYYY-MM-DD")
    try:
        Date.fromisoformat(value)
    except ValueError:
        raise HqError(422, "bad_date", f"{name} {value!r} is not a calendar date") from None
    return value


async def raw_body(request: Request) -> bytes:
    """The request's bytes (FastAPI has read them already to parse the body parameter)."""
    return await request.body()


def json_kinds(raw: bytes, kinds: dict[tuple[str, ...], str]) -> None:
    """Check JSON types the documented schema states and pydantic's lax parsing would bend.

    A date-time must be text (not a number of seconds since 1970), an integer a
    number (not ``true``): what the OpenAPI schema says is what is accepted.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        return  # the body parameter has refused it already

    def walk(node: Any, path: tuple[str, ...], where: str, kind: str) -> None:
        if not path:
            if kind == "date-time" and node is not None and not isinstance(node, str):
                raise HqError(422, "invalid_request", f"{where}: a date-time as text (ISO 8601)")
            if kind == "integer" and isinstance(node, bool):
                raise HqError(422, "invalid_request", f"{where}: an integer, not true or false")
            return
        if path[0] == "*":
            for i, item in enumerate(node if isinstance(node, list) else []):
                walk(item, path[1:], f"{where}.{i}", kind)
        elif isinstance(node, dict) and path[0] in node:
            walk(node[path[0]], path[1:], f"{where}.{path[0]}" if where else path[0], kind)

    for p, kind in kinds.items():
        walk(data, p, "", kind)


CentreDep = Annotated[dict, Depends(centre_of)]


def add_catalogue_versions(data: dict[str, Any], catalogues: CatalogueStore) -> dict[str, Any]:
    """Each centre's catalogue version (``catalogue_version``, None until it says) and whether it is behind."""
    newest = catalogues.newest_version()
    reports = catalogues.centre_reports()
    data["catalogue_newest"] = newest or None
    for c in data["centres"]:
        running = reports.get(c["id"], {}).get("running")
        c["catalogue_version"] = running
        c["catalogue_behind"] = running is not None and running < newest
    return data


def _fmt_min(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.0f}"


def _fmt_share(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def create_app(store: Store, *, demo: bool = False, timezone: str = board.DEFAULT_TZ) -> FastAPI:
    """The headquarters app over ``store`` (migrated here); the page's own clock shows ``timezone``'s time.

    Times of a centre (when its summary arrived) are shown in that centre's
    time zone (its summary's ``timezone``), never in the server's UTC.
    """
    store.migrate()
    catalogues = CatalogueStore(store)
    catalogues.migrate()
    accounts = Accounts(store)
    accounts.migrate()
    app = FastAPI(title="Huduma headquarters", version="1",
                  description="Receives Huduma Centres' daily summaries and compares centres.",
                  lifespan=board.warming(store))  # the board's common periods computed before a viewer asks
    app.state.store = store
    app.state.catalogues = catalogues
    app.state.accounts = accounts
    templates = Jinja2Templates(directory=str(resources.files("hq") / "templates"))
    templates.env.filters["mins"] = _fmt_min
    templates.env.filters["share"] = _fmt_share
    app.mount("/static", StaticFiles(directory=str(resources.files("hq") / "static")), name="static")
    admin.install(app, catalogues, accounts, templates, demo)
    callcentre.install(app, store, catalogues, accounts, templates, demo)  # the call centre, its inbox, staff
    app.include_router(live.router(templates, centre_of, require_role(HqRole.viewer)))  # live figures (issue 22)
    app.include_router(public.router(templates))  # the public wait page, open to all (issue 22)
    app.include_router(wait_channels.router(demo))  # the same question by SMS and USSD (issue 22)
    app.include_router(revenue.router(store, templates, _check_date),  # revenue per centre and service (issue 20)
                       dependencies=[require_role(HqRole.viewer)])

    @app.exception_handler(Refusal)
    async def refused(request: Request, err: Refusal) -> JSONResponse:
        """Every refusal (the API's HqError, the store's StoreError) in the one error shape."""
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 405:  # Allow names the methods of every route of the path, not the first met
            refusal = method_not_allowed(request.app.router.routes, request.scope,
                                         (getattr(err, "headers", None) or {}).get("Allow"))
            return JSONResponse(refusal.body(), status_code=405, headers=refusal.headers)
        # keep the exception's headers: a 405 must say which methods are allowed (``Allow``, RFC 9110)
        return JSONResponse({"error": {"code": "http_error", "message": str(err.detail)}}, status_code=err.status_code,
                            headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body') or 'body'}: {e.get('msg')}"
                 for e in err.errors()[:5]]
        return JSONResponse({"error": {"code": "invalid_request", "message": "; ".join(parts)}}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"code": "internal", "message": "headquarters failed; nothing was stored"}},
                            status_code=500)

    @app.post("/api/v1/summaries", response_model=Stored, tags=["summaries"], status_code=201,
              responses={200: {"model": Stored, "description": "duplicate or superseded: nothing new stored"},
                         **errors(400, 401, 403, 409, 422)})
    def receive(body: SummaryIn, response: Response, centre: CentreDep,
                idempotency_key: Annotated[str | None, Header()] = None,
                # typed ``int`` (not ``int | None``) so the schema documents an integer header, absent by default
                catalogue_version: Annotated[int, Header(
                    alias=CATALOGUE_VERSION_HEADER, ge=0, le=MAX_VERSION,
                    description="the catalogue version the centre runs (recorded for the uniformity page)")] = None,  # type: ignore[assignment]
                ) -> Stored:
        """Store one revision of a centre's day. Same key twice: stored once. Higher revision: replaces."""
        if body.centre_id != centre["id"]:
            raise HqError(403, "wrong_centre", f"this token belongs to {centre['id']}, not {body.centre_id}")
        expected = f"{body.centre_id}:{body.date}:{body.revision}"
        if body.key != expected:
            raise HqError(422, "bad_key", f"key must be {expected}")
        if idempotency_key is not None and idempotency_key != body.key:
            raise HqError(422, "bad_key", "the Idempotency-Key header and the body's key differ")
        s = body.summary
        _check_date(body.date)
        why = schema.problem(s)
        if why is not None:
            logger.warning("refused %s from %s: %s", body.key, centre["id"], why)
            raise HqError(422, "bad_summary", f"the summary is not a centre's day summary: {why}")
        if s.get("date") != body.date or s.get("centre_id") != body.centre_id:
            raise HqError(422, "bad_summary", "the summary's centre_id and date must match the envelope")
        result = store.put_summary(body.centre_id, body.key, body.date, body.revision, s)
        if catalogue_version is not None:
            catalogues.record_seen(centre["id"], catalogue_version)
        response.status_code = 201 if result.outcome == "stored" else 200
        return Stored(key=body.key, outcome=result.outcome, revision_held=result.revision,
                      deliveries=result.deliveries)

    @app.get(CATALOGUE_PATH, tags=["catalogue"], response_model=Catalogue,
             responses={200: {"description": "the newest published catalogue; headers ETag: \"v<N>-<epoch>\" "
                                             "and X-Catalogue-Epoch (a rebuilt headquarters has a new epoch)"},
                        304: {"description": "If-None-Match names the newest version: the centre has it"},
                        **errors(401, 404, 409)})
    def catalogue(centre: CentreDep, if_none_match: Annotated[str | None, Header()] = None) -> Response:
        """The newest published national catalogue, for a centre to run (conditional: ``If-None-Match``)."""
        epoch = catalogues.epoch()
        running = version_of_etag(if_none_match, epoch)
        if running is not None:
            catalogues.record_seen(centre["id"], running)
        found = catalogues.published_json()
        if found is None:
            raise HqError(404, "no_catalogue", "headquarters has not published a catalogue yet: "
                          "keep running the one you have")
        number, body = found
        etag = catalogue_etag(number, epoch)
        headers = {"ETag": etag, CATALOGUE_EPOCH_HEADER: epoch, "Cache-Control": "no-cache"}
        if if_none_match and etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @app.put(CATALOGUE_REPORT_PATH, tags=["catalogue"], response_model=CatalogueReceipt,
             responses=errors(400, 401, 409, 422))
    def catalogue_report(body: CentreCatalogueReport, centre: CentreDep,
                         raw: Annotated[bytes, Depends(raw_body)]) -> CatalogueReceipt:
        """A centre says which catalogue version it runs and what it offers (replaces its previous report)."""
        json_kinds(raw, {("version",): "integer", ("applied_at",): "date-time",
                         ("offerings", "*", "since"): "date-time"})
        newest = catalogues.newest_version()
        if newest == 0 and body.version <= MAX_VERSION:
            # A new (rebuilt) headquarters that has published nothing yet: what the centre runs and offers is
            # still true and worth showing; refusing it would keep the centre retrying until someone publishes.
            # Its version is of another history: it takes this one's version 1 (a new epoch) once published.
            catalogues.record_report(centre["id"], body)
            return CatalogueReceipt(centre_id=centre["id"], version=body.version, newest=0, behind=False,
                                    published_here=body.version == 0)
        if body.version > newest:
            raise HqError(409, "unknown_version", f"headquarters has published up to version {newest}, "
                          f"not {body.version}")
        catalogues.record_report(centre["id"], body)
        return CatalogueReceipt(centre_id=centre["id"], version=body.version, newest=newest,
                                behind=body.version < newest)

    @app.get("/api/v1/centres", tags=["board"], responses=errors(401, 403),
             dependencies=[require_role(HqRole.viewer)])
    def centres() -> list[dict[str, Any]]:
        """Registered centres (no tokens)."""
        return store.centres()

    @app.get("/api/v1/summaries/{centre_id}/{day}", tags=["summaries"], responses=errors(401, 403, 404, 422),
             dependencies=[require_role(HqRole.viewer)])
    def summary(centre_id: Annotated[str, Path(pattern=CENTRE_ID_RE)],
                day: Annotated[str, Path(json_schema_extra=DATE_DOC)]) -> dict[str, Any]:
        """The revision headquarters holds for a centre's day."""
        _check_date(day)
        found = store.summary(centre_id, day)
        if found is None:
            raise HqError(404, "not_found", f"no summary of {centre_id} for {day}")
        why = schema.problem(found["summary"])
        if why is not None:
            found["problem"] = why  # stored before headquarters checked summaries: shown, never used
        tz = found["summary"].get("timezone") if why is None else None
        found["received_local"] = board.local_time(found["received_at"], tz)
        found["centre_name"] = board.centre_names(store).get(centre_id, centre_id)
        return found

    @app.get("/api/v1/receipts", tags=["summaries"], responses=errors(401, 403, 422),
             dependencies=[require_role(HqRole.viewer)])
    def receipts(centre_id: Annotated[str | None, Query(pattern=CENTRE_ID_RE)] = None) -> list[dict[str, Any]]:
        """Every key received, with how many times it was delivered and what was done with it."""
        return store.receipts(centre_id)

    @app.get("/api/v1/board", tags=["board"], responses=errors(401, 403, 422), response_model=dict[str, Any],
             dependencies=[require_role(HqRole.viewer)])
    def board_api(date: str | None = Query(None, json_schema_extra=DATE_DOC),
                  days: int = Query(14, ge=1, le=92)) -> JSONResponse:
        """The board's figures as JSON (each centre with the catalogue version it runs)."""
        data = add_catalogue_versions(board.board_data(store, _check_date(date), days), catalogues)
        upstream_health.add_upstream_health(data, store)  # when each centre last called in (never kept)
        return JSONResponse(data)  # plain JSON types already: FastAPI's encoder walk cost more than the queries

    @app.get("/export.csv", tags=["board"], response_class=Response,
             responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                              "description": "the summaries as CSV (an attachment)"}, **errors(401, 403, 422)},
             dependencies=[require_role(HqRole.viewer)])
    def export(first: str | None = Query(None, alias="from", json_schema_extra=DATE_DOC),
               last: str | None = Query(None, alias="to", json_schema_extra=DATE_DOC),
               level: str = Query("total", pattern="^(total|services|hours)$")) -> Response:
        """Summaries as CSV: one row per centre and day, per service or per hour."""
        last = _check_date(last, "to") or (store.dates() or [Date.today().isoformat()])[-1]
        first = _check_date(first, "from") or (Date.fromisoformat(last) - timedelta(days=13)).isoformat()
        if first > last:
            raise HqError(422, "bad_range", "'from' is after 'to'")
        name = f"huduma-{level}-{first}-to-{last}.csv"
        return StreamingResponse(board.export_csv(store, first, last, level), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "database": store.describe(), **store.counts(),
                "catalogue_version": catalogues.newest_version()}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[require_role(HqRole.viewer)])
    def page(request: Request, date: str | None = None, days: int = Query(14, ge=1, le=92),
             lang: str | None = None) -> HTMLResponse:
        lang = lang if lang in LANGUAGES else request.cookies.get("hq_lang", "en")
        lang = lang if lang in LANGUAGES else "en"
        data = board.board_data(store, _check_date(date), days)
        add_catalogue_versions(data, catalogues)
        now = time.time()
        upstream_health.add_upstream_health(data, store, now)
        for c in data["centres"]:
            c["spark_arrived"] = board.sparkline(c["arrived_trend"], lo=0)
            c["spark_within"] = board.sparkline(c["within_trend"], lo=0, hi=1)
        chart = board.trend_chart(data["dates"], [n["arrived"] for n in data["national"]],
                                  [n["within_target_share"] for n in data["national"]])
        html = templates.TemplateResponse(request, "board.html", {
            "t": STRINGS.bind(lang), "lang": lang, "other_lang": "sw" if lang == "en" else "en", "d": data,
            "chart": chart, "demo": demo, "now": board.local_time(now, timezone), "staff": current_staff(request),
            "ago": lambda age_s: callcentre.ago(now - age_s, now) if age_s is not None else None,
            "first": data["dates"][0], "last": data["dates"][-1]})
        html.set_cookie("hq_lang", lang, max_age=365 * 86400, samesite="lax")
        return html

    return app
