"""Live updates for the clerk terminal and the board: server-sent events.

The centre calls its listeners with every committed batch of events, on
whichever thread executed the command (FastAPI's threadpool, paho's thread).
The hub hands each batch to the event loop with ``call_soon_threadsafe`` and
fans it out to one asyncio queue per open page. Pages receive small notices
(type, seq, ids) and re-read what they show from the API, so the stream never
carries more than a logged-in member of staff may read anyway.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from centre_server.contract import Event
from centre_server.runtime.centre import public_ticket_id

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 500  # a page this far behind is told to reload its figures instead
HEARTBEAT_S = 15.0
RECHECK_SESSION_S = 1.0  # and before every push: a logout or disable-staff ends the stream within this
NOTICE_KEYS = ("ticket_id", "number", "service_id", "counter_id", "counter_name", "from_service_id",
               "to_service_id")

# Set when the server is asked to stop, so open streams end and uvicorn can exit.
SHUTTING_DOWN = threading.Event()

class LiveHub:
    """Fans the centre's events out to every open page."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue] = set()

    def start(self) -> None:
        """Runs inside the app's lifespan, on the event loop's thread (the loop every page waits on)."""
        SHUTTING_DOWN.clear()
        self.loop = asyncio.get_running_loop()

    def stop(self) -> None:
        SHUTTING_DOWN.set()

    def on_events(self, events: list[Event]) -> None:
        """A centre listener: any thread. Never blocks, never raises into the centre."""
        loop = self.loop
        if loop is None or loop.is_closed() or not events or not self.queues:
            return  # no page open: nothing to build, and no need to wake the event loop
        notices = [notice(ev) for ev in events]
        try:
            loop.call_soon_threadsafe(self._fan_out, notices)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _fan_out(self, notices: list[dict[str, Any]]) -> None:
        for q in list(self.queues):
            if q.qsize() >= QUEUE_LIMIT:
                continue  # the page catches up on its next "reset"
            q.put_nowait(notices)

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.queues.discard(q)


def notice(ev: Event) -> dict[str, Any]:
    """What a page needs to know of one event: no phone numbers, no idempotency keys, and the
    ticket's public id, as on MQTT (the secret id is the key to the citizen's page)."""
    out: dict[str, Any] = {"type": ev.type.value, "seq": ev.seq}
    data = ev.data.to_data()
    for key in NOTICE_KEYS:
        if data.get(key) is not None:
            out[key] = data[key]
    if out.get("ticket_id"):
        out["ticket_id"] = public_ticket_id(out["ticket_id"])
    if ev.type.value == "payment_updated":  # the clerk's terminal shows it without asking again (issue 20)
        out.update(payment_state=data.get("state"), receipt=data.get("receipt"), amount_ksh=data.get("amount_ksh"))
    return out


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def patch_uvicorn_exit() -> None:
    """Let open streams end when uvicorn is asked to stop.

    uvicorn waits for every running response before it shuts the app down, and
    an event stream never ends by itself; so a stop signal also sets
    SHUTTING_DOWN, which every stream polls once a second.
    """
    try:
        from uvicorn.server import Server
    except ImportError:
        return
    original = Server.handle_exit
    if getattr(original, "_huduma_live", False):
        return

    def handle_exit(self, sig, frame):
        SHUTTING_DOWN.set()
        return original(self, sig, frame)

    # uvicorn has no hook for its shutdown signal: wrap its handler, marked so it is wrapped once
    handle_exit._huduma_live = True  # type: ignore[attr-defined]  # a mark on the function: patched once
    Server.handle_exit = handle_exit  # type: ignore[method-assign]  # uvicorn has no hook for this
