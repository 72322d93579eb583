"""The centre server's web application: API, pages, and the start-up of every part."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from centre_server import backup as backups
from centre_server import dayclose, engine
from centre_server.api import auth as auth_api
from centre_server.api import counters, hall, services, stats, tickets
from centre_server.api.deps import ApiError
from centre_server.auth import AccessEpoch, PrincipalCache
from centre_server.centre import Centre
from centre_server.config import CentreSettings, load_settings
from centre_server.contract import API_PREFIX, ErrorResponse, Health
from centre_server.engine import QueueError
from centre_server.mqtt_link import MqttLink
from centre_server.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

TICK_SECONDS = 30.0
STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid_request", 429: "too_many_requests"}


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _describe_validation(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Every error is ``{"error": {"code", "message"}}``; bad input is never a 500."""

    @app.exception_handler(QueueError)
    async def queue_error(request: Request, err: QueueError) -> JSONResponse:
        body: dict = {"code": err.code, "message": err.message}
        body.update({k: v for k, v in err.extra.items() if k in ("opens_at", "book_day")})
        return JSONResponse({"error": body}, status_code=err.status)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return _error(err.status_code, err.code, str(err.detail), getattr(err, "headers", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error(err.status_code, STATUS_CODES.get(err.status_code, "error"), str(err.detail),
                      getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _describe_validation(err))

    @app.exception_handler(sqlite3.OperationalError)
    async def storage_error(request: Request, err: sqlite3.OperationalError) -> JSONResponse:
        # disk full, or the disk failing: nothing was changed (the transaction rolled back)
        full = "full" in str(err).lower()
        logger.error("storage refused a change on %s %s: %s", request.method, request.url.path, err)
        return _error(503, "storage_full" if full else "storage_unavailable",
                      "the centre's disk is full: nothing was changed; free space on the server"
                      if full else "the centre's database could not be written: nothing was changed",
                      {"Retry-After": "10"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "the server failed; the change was not made")


# Every operation may answer these; each is the JSON error shape.
COMMON_ERRORS: dict[int | str, dict] = {
    code: {"model": ErrorResponse, "description": desc} for code, desc in (
        (400, "Bad request"), (401, "No valid token or session"), (403, "The caller's role may not do this"),
        (404, "No such thing"), (409, "The queue's rules refuse it now"), (422, "Invalid input"),
        (429, "Rate limited: see Retry-After"), (503, "Storage full or unavailable: nothing changed"))}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Pages load only what the package ships; inline styles are allowed for Swagger UI and charts.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'self'")


class SecurityHeaders:
    """Pure ASGI middleware (no extra task per request, unlike BaseHTTPMiddleware)."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.common = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message) -> None:  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.common if k not in present]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html") and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP.encode()))
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


CITIZEN_PAGES = ("/t/", "/join", "/book")  # no login: limited per client address instead


class CitizenPageLimit:
    """Pure ASGI: the citizen pages answer 429 to an address that asks too often.

    USSD and SMS callbacks are not limited here: every citizen's request comes from
    the aggregator's one address; the channels cap them per phone number instead.
    """

    def __init__(self, app, limiter: RateLimiter) -> None:  # type: ignore[no-untyped-def]
        self.app, self.limiter = app, limiter

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and scope["path"].startswith(CITIZEN_PAGES):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.allow(client)
            if wait > 0:
                response = _error(429, "rate_limited", f"too many requests: try again in {int(wait) + 1} s",
                                  {"Retry-After": str(int(wait) + 1)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_security_headers(app: FastAPI) -> None:
    # innermost first: the issue lane runs inside the headers and the citizen-page limits
    app.add_middleware(tickets.IssueLane, path=f"{API_PREFIX}/tickets")
    app.add_middleware(CitizenPageLimit, limiter=app.state.limits["citizen_pages"])
    app.add_middleware(SecurityHeaders)


async def _ticker(centre: Centre, link: MqttLink | None) -> None:
    """Let the day roll over with nobody acting, refresh waits on the hall boards, take the nightly backup."""
    last_backup_day = ""
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            await centre.submit(engine.Tick())  # through the writer, without blocking the loop
            if link is not None and link.connected.is_set():
                link.republish_services()
        except Exception:
            logger.exception("tick failed")
        b = centre.settings.backup
        if b.directory:
            local = datetime.now(centre.tz)
            if local.strftime("%H:%M") >= b.time and local.date().isoformat() != last_backup_day:
                last_backup_day = local.date().isoformat()
                try:
                    out = await asyncio.to_thread(backups.nightly, centre.settings.directory, Path(b.directory), b.keep)
                    logger.info("nightly backup written to %s", out)
                except Exception:
                    logger.exception("nightly backup to %s failed", b.directory)


def create_app(settings: CentreSettings | Path | str, mqtt_url: str | None = None) -> FastAPI:
    """The app for one centre directory; ``mqtt_url`` None means no broker link (tests of the API alone)."""
    if not isinstance(settings, CentreSettings):
        settings = load_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        centre = Centre(settings)
        # Everything loaded so far (the code, the menu, the day's tickets) lives until the server stops:
        # out of the collector's sight, a full collection pauses for a few ms instead of ~100 ms.
        gc.collect()
        gc.freeze()
        epoch = AccessEpoch(settings.directory)
        app.state.principals = PrincipalCache(epoch)
        centre.start_writer()  # group commit: one fsync for every command that arrived meanwhile
        app.state.centre = centre
        link = None
        if mqtt_url:
            link = MqttLink(centre, mqtt_url, settings.mqtt.username, settings.mqtt.password)
            link.start()
        app.state.mqtt = link
        ticker = asyncio.create_task(_ticker(centre, link))
        for hook in app.state.start_hooks:
            hook(app)
        try:
            yield
        finally:
            for hook in app.state.stop_hooks:
                with contextlib.suppress(Exception):
                    hook(app)
            ticker.cancel()
            if link is not None:
                link.stop()
            centre.close()
            epoch.close()

    # FastAPIOffline serves /docs with Swagger UI from the package: the LAN may have no internet.
    app = FastAPIOffline(title="Huduma Centre queue API", version="1", lifespan=lifespan,
                         description="The centre server of a Huduma Centre: tickets, counters, live figures.",
                         responses=COMMON_ERRORS,
                         # no OpenTelemetry collector on a centre's LAN; asking on every request costs
                         telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.settings = settings
    sec = settings.security
    app.state.limits = {
        "issue_device": RateLimiter(sec.issue_per_device_per_minute, 60.0),
        "issue_phone": RateLimiter(sec.issue_per_phone_per_hour, 3600.0),
        "login_client": RateLimiter(sec.login_per_minute, 60.0),
        "citizen_client": RateLimiter(sec.citizen_per_minute, 60.0),
        "citizen_pages": RateLimiter(sec.citizen_per_minute, 60.0),
    }
    install_security_headers(app)
    app.state.start_hooks = []
    app.state.stop_hooks = []
    install_error_handlers(app)
    for module in (services, tickets, counters, auth_api, stats, hall):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(services.day_router, prefix=API_PREFIX)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(request: Request) -> Health:
        link: MqttLink | None = request.app.state.mqtt
        centre: Centre = request.app.state.centre
        return Health(status="ok", centre_id=settings.centre_id,
                      broker="connected" if link and link.connected.is_set() else "disconnected",
                      broker_url=link.url if link else "", seq=centre.state.last_seq)

    dayclose.install(app)  # day close, summaries and the upstream sync (issue 8)
    _mount_web(app)
    return app


def _mount_web(app: FastAPI) -> None:
    """The browser pages (clerk terminal, board, citizen page) and the citizen channels (web join, SMS, USSD)."""
    from centre_server.web import mount

    mount(app)
    try:
        from centre_server import channels
    except ModuleNotFoundError as err:
        if err.name != "centre_server.channels":
            raise
        return
    mount_channels = getattr(channels, "mount", None)
    if mount_channels is not None:
        mount_channels(app)
