"""The staff pages' live stream: server-sent events of every committed change.

The hub and the notices are ``centre_server.web.live``; this is the stream itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from centre_server.http.deps import SESSION_COOKIE, CentreDep, ClerkDep, principals
from centre_server.runtime.extension import running
from centre_server.web import WebExtension
from centre_server.web.live import HEARTBEAT_S, RECHECK_SESSION_S, SHUTTING_DOWN, sse

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])


@router.get("/live", include_in_schema=False)  # an event stream, not a JSON operation: see the README
async def live_events(request: Request, principal: ClerkDep, centre: CentreDep) -> StreamingResponse:
    """Server-sent events for staff pages: ``hello`` once, then ``change`` per committed batch.

    ``expired`` is sent (and the stream ends) when the session runs out, is logged out, or its
    user is disabled, whether it was opened with the cookie or a bearer token. The check goes
    through the token cache, which lets go the moment access.epoch moves or a logout forgets
    the session, so checking before every push costs no query.
    """
    hub = running(request, WebExtension).hub
    cache = principals(request)
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() if header else request.cookies.get(SESSION_COOKIE)

    def still_signed_in() -> bool:
        return not token or cache.lookup(centre.reader(), token) is not None

    async def stream() -> AsyncIterator[str]:
        q = hub.subscribe()
        try:
            yield "retry: 2000\n\n"
            yield sse("hello", {"server_time": time.time(), "seq": centre.state.last_seq,
                                "user": principal.name, "role": principal.role.value})
            last_beat = time.monotonic()
            while not SHUTTING_DOWN.is_set():
                try:
                    notices = await asyncio.wait_for(q.get(), timeout=RECHECK_SESSION_S)
                except TimeoutError:
                    notices = None
                if not still_signed_in():
                    yield sse("expired", {})
                    return
                if notices is None:
                    now = time.monotonic()
                    if now - last_beat >= HEARTBEAT_S:
                        last_beat = now
                        yield sse("ping", {"server_time": time.time()})
                    continue
                yield sse("change", {"events": notices, "server_time": time.time()},
                          event_id=notices[-1]["seq"] if notices else None)
        finally:
            hub.unsubscribe(q)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
