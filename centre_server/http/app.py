"""The centre server's web application: API, pages, and the start-up of every part."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from centre_server.alerts import AlertsExtension
from centre_server.catalogue.extension import CatalogueExtension
from centre_server.catalogue.inbox import NationalInboxExtension
from centre_server.channels import ChannelsExtension
from centre_server.config import CentreSettings, load_settings
from centre_server.contract import API_PREFIX, ErrorResponse, Health
from centre_server.contract.errors import Refusal, method_not_allowed
from centre_server.dayclose.extension import DayCloseExtension
from centre_server.dayclose.livefeed import LiveFeedExtension
from centre_server.http.deps import ApiError, mqtt_link
from centre_server.http.routes import centre_routers, part_routers, tickets
from centre_server.http.routes.counters import close_left_counters
from centre_server.mqtt.extension import MqttExtension
from centre_server.mqtt.link import MqttLink
from centre_server.payments.extension import PaymentsExtension
from centre_server.queue import engine
from centre_server.runtime.centre import Centre
from centre_server.runtime.extension import Extension
from centre_server.runtime.ratelimit import Limits, RateLimiter
from centre_server.store import backup as backups
from centre_server.store.accounts import AccessEpoch, PrincipalCache
from centre_server.web import WebExtension

logger = logging.getLogger(__name__)

TICK_SECONDS = 30.0
STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid_request", 429: "too_many_requests"}


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(Refusal(status, code, message).body(), status_code=status, headers=headers)


def _describe_validation(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        if e.get("type") == "json_invalid":  # said plainly, with where: "14: JSON decode error" helped nobody
            at = [x for x in e.get("loc", ()) if isinstance(x, int)]
            parts.append("the body is not valid JSON" + (f" (at character {at[0]})" if at else ""))
            continue
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Every error is ``{"error": {"code", "message"}}``; bad input is never a 500."""

    @app.exception_handler(Refusal)
    async def refused(request: Request, err: Refusal) -> JSONResponse:
        """Every refusal (the queue's rules, the HTTP layer's checks, the channels) in the one shape."""
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 405:  # Allow names the methods of every route of the path, not the first met
            headers = getattr(err, "headers", None) or {}
            refusal = method_not_allowed(request.app.router.routes, request.scope, headers.get("Allow"))
            return JSONResponse(refusal.body(), status_code=405, headers=refusal.headers)
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

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.common = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
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

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CITIZEN_PAGES):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.allow(client)
            if wait > 0:
                response = _error(429, "rate_limited", f"too many requests: try again in {int(wait) + 1} s",
                                  {"Retry-After": str(int(wait) + 1)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyRefused(ApiError, StarletteHTTPException):
    """A request body over the size limit (413) or stalled past the body timeout (408).

    Also an HTTPException: FastAPI lets those through its body parsing, where any other
    error would become a 400 "error parsing the body".
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        ApiError.__init__(self, status, code, message, {"Connection": "close"})  # the rest is never read
        self.status_code, self.detail = status, message


class BodyLimit:
    """Pure ASGI: no request body is read past ``max_bytes``, nor waited for past ``timeout_s``.

    A declared Content-Length over the limit is answered 413 before a byte of the body is
    read; a chunked body is cut off as soon as it passes the limit. Every reader of the
    body (FastAPI's routes, IssueLane, the channels' forms) reads through this ``receive``,
    so no route can be made to hold a 200 MB body in memory. The answer closes the
    connection, so the rest of the body is never read either.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    def _too_large(self) -> BodyRefused:
        return BodyRefused(413, "too_large", f"request body over {self.max_bytes} bytes")

    async def _refuse(self, err: BodyRefused, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(err.status, err.code, err.message, err.headers)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    logger.warning("refused a %s-byte body on %s %s from %s", declared, scope["method"],
                                   scope["path"], (scope.get("client") or ("?",))[0])
                    await self._refuse(self._too_large(), scope, receive, send)
                    return
        received, done, started = 0, False, False
        refused: BodyRefused | None = None

        async def limited_receive() -> Message:
            nonlocal received, done, refused
            if refused is not None:
                raise refused
            if done:  # the body is in: what follows is only the client hanging up (streams wait for it)
                return await receive()
            try:
                async with asyncio.timeout(self.timeout_s):  # a timer, not a task: this is every request's path
                    message = await receive()
            except TimeoutError:
                refused = BodyRefused(408, "body_timeout", f"the request body stalled for {self.timeout_s:g} s")
                raise refused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = self._too_large()
                    raise refused
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                # a reader that caught the refusal and answered on its own ("bad form") still gets the 413
                started = True
                await self._refuse(refused, scope, receive, send)
                return
            if refused is not None:
                return  # the rest of the reader's own answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyRefused as err:
            if started:  # a route answered before reading all its body: nothing more can be said
                logger.info("%s %s: %s after the answer began", scope["method"], scope["path"], err.message)
                return
            await self._refuse(err, scope, receive, send)


def install_security_headers(app: FastAPI) -> None:
    # innermost first: the issue lane runs inside the headers, the body limits and the citizen-page limits
    app.add_middleware(tickets.IssueLane, path=f"{API_PREFIX}/tickets")
    app.add_middleware(CitizenPageLimit, limiter=app.state.limits.citizen_pages)
    http = app.state.settings.http
    app.add_middleware(BodyLimit, max_bytes=http.max_body_bytes, timeout_s=http.body_timeout_s)
    app.add_middleware(SecurityHeaders)


def http_protocol(header_timeout_s: float) -> type:
    """uvicorn's HTTP protocol with a deadline for every request's headers.

    uvicorn times out only a kept-alive connection between requests: a client that
    connects and sends nothing, or sends its headers a byte at a time, holds a
    connection (and a file descriptor) for ever. Here the headers of each request,
    the first included, must be complete within ``header_timeout_s`` of the
    connection (or of the request's first byte), or the connection is closed.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class DeadlineProtocol(HttpToolsProtocol):
        _header_deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if not self.transport.is_closing():
                logger.info("closed a connection from %s: no complete request headers within %g s",
                            (self.client or ("?",))[0], header_timeout_s)
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn narrows it
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._header_deadline is None and not self.pipeline:
                self._arm()  # the next request's headers, or the keep-alive timeout, whichever is first

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return DeadlineProtocol


def uvicorn_options(settings: CentreSettings) -> dict:
    """How ``huduma-centre serve`` runs uvicorn: the [http] limits, and proxies trusted only when named."""
    http, proxies = settings.http, settings.security.trusted_proxies
    return {"http": http_protocol(http.header_timeout_s), "limit_concurrency": http.limit_concurrency,
            "timeout_keep_alive": http.timeout_keep_alive_s,
            # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a script on the
            # server itself could then be any address it likes to the rate limits
            "proxy_headers": bool(proxies), "forwarded_allow_ips": ",".join(proxies) if proxies else None}


async def _ticker(centre: Centre, link: MqttLink | None) -> None:
    """Let the day roll over with nobody acting, close counters whose clerk's session ended, refresh waits on
    the hall boards, take the nightly backup."""
    last_backup_day = ""
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            await centre.submit(engine.Tick())  # through the writer, without blocking the loop
            await asyncio.to_thread(close_left_counters, centre, "session ended")
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


@dataclass(frozen=True)
class ServerParts:
    """The parts started with the server: in the order they start (they stop in reverse), and the
    two that ``create_app`` reads itself, by their own types."""

    in_order: list[Extension]
    mqtt: MqttExtension | None
    channels: ChannelsExtension


def server_parts(settings: CentreSettings, mqtt_url: str | None) -> ServerParts:
    """The parts of one server; no MQTT link without ``mqtt_url``."""
    parts: list[Extension] = []
    parts.append(CatalogueExtension())  # the national catalogue from headquarters, and what runs here (issue 19)
    mqtt = MqttExtension(settings, mqtt_url) if mqtt_url else None
    if mqtt is not None:
        parts.append(mqtt)
    parts.append(DayCloseExtension())  # day close, summaries and the upstream sync (issue 8)
    parts.append(LiveFeedExtension())  # live queue figures to headquarters each minute (issue 22)
    parts.append(WebExtension())  # the staff and citizen pages, and their live stream
    channels = ChannelsExtension(settings)  # web join, booking, SMS, USSD, kiosk check-in (issue 10)
    parts.append(channels)
    parts.append(AlertsExtension(settings, channels, _presence(mqtt)))  # SMS to the managers (issue 21)
    parts.append(NationalInboxExtension(channels))  # the call centre's look-ups and bookings from HQ (issue 22)
    parts.append(PaymentsExtension(settings))  # M-Pesa payment while waiting: Daraja, its callbacks (issue 20)
    return ServerParts(parts, mqtt, channels)


def _presence(mqtt: MqttExtension | None) -> Callable[[], dict[str, dict[str, Any]] | None]:
    """The devices' presence the board shows, copied under the link's lock; None without a broker link."""

    def now() -> dict[str, dict[str, Any]] | None:
        link = mqtt.link if mqtt is not None else None
        if link is None:
            return None
        with link.device_lock:
            return {k: dict(v) for k, v in link.devices.items()}

    return now


def create_app(settings: CentreSettings | Path | str, mqtt_url: str | None = None) -> FastAPI:
    """The app for one centre directory; ``mqtt_url`` None means no broker link (tests of the API alone)."""
    if not isinstance(settings, CentreSettings):
        settings = load_settings(settings)
    parts = server_parts(settings, mqtt_url)
    extensions = parts.in_order

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
        app.state.limits.remember_issued(((t.phone, t.issued_at) for t in centre.state.tickets.values() if t.phone),
                                         centre.clock())
        started: list[Extension] = []
        ticker: asyncio.Task | None = None
        try:
            for part in extensions:
                part.start(centre)
                started.append(part)
                if part.on_committed is not None:
                    centre.listeners.append(part.on_committed)
            ticker = asyncio.create_task(_ticker(centre, parts.mqtt.link if parts.mqtt else None))
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
            for part in reversed(started):
                if part.on_committed is not None and part.on_committed in centre.listeners:
                    centre.listeners.remove(part.on_committed)
                try:
                    part.stop()
                except Exception:
                    logger.exception("stopping %s failed", part.name)
            centre.close()
            epoch.close()

    # FastAPIOffline serves /docs with Swagger UI from the package: the LAN may have no internet.
    app = FastAPIOffline(title="Huduma Centre queue API", version="1", lifespan=lifespan,
                         description="The centre server of a Huduma Centre: tickets, counters, live figures.",
                         responses=COMMON_ERRORS,
                         # no OpenTelemetry collector on a centre's LAN; asking on every request costs
                         telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.settings = settings
    app.state.limits = Limits.for_centre(settings.security, parts.channels.settings.book_per_address_per_hour)
    app.state.extensions = {type(part): part for part in extensions}
    install_security_headers(app)
    install_error_handlers(app)
    for router in centre_routers():
        app.include_router(router)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(request: Request) -> Health:
        link = mqtt_link(request)
        centre: Centre = request.app.state.centre
        return Health(status="ok", centre_id=settings.centre_id,
                      broker=link.state if link else "disconnected",
                      broker_url=link.url if link else "", seq=centre.state.last_seq,
                      catalogue_version=centre.catalogue.version, headquarters=centre.headquarters_health())

    for part in extensions:
        for router in part_routers(part.name):
            app.include_router(router)
        app.router.routes.extend(part.mounts())
    return app
