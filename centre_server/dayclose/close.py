"""Day close in the centre server: ``install()`` wires the closer, the upstream sender and the server lock.

The parts live beside it: ``summary`` (what a day's summary is), ``records``
(revisions and the outbox), ``retention`` (phone erasure), ``lock`` (the
server lock), ``closing`` (closing a day through a Centre), ``closer`` (the
server's thread) and ``upstream`` (the outbox sender).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from centre_server.dayclose.closer import DayCloser
from centre_server.dayclose.errors import DayCloseError
from centre_server.dayclose.lock import LOCK_NAME, server_lock

logger = logging.getLogger(__name__)


def install(app: Any) -> None:
    """Wire day close and the upstream sender into the centre server's app (start/stop hooks, API)."""
    from centre_server.dayclose import upstream
    from centre_server.contract import API_PREFIX
    from centre_server.http.routes.day import router

    app.include_router(router, prefix=API_PREFIX)

    def start(app: Any) -> None:
        centre = app.state.centre
        lock_cm = server_lock(centre.settings.directory)
        try:
            lock_cm.__enter__()
        except (DayCloseError, OSError) as err:  # a close-day running now, or a read-only directory
            logger.warning("could not take %s (%s): a command-line close-day could race this server",
                           centre.settings.directory / LOCK_NAME, err)
            lock_cm = None
        sender = upstream.Sender.for_settings(centre.settings)
        closer = DayCloser(centre, on_recorded=lambda r: sender.wake())
        app.state.day_closer = closer
        app.state.upstream = sender
        app.state.server_lock = lock_cm
        sender.start()
        closer.start()

    def stop(app: Any) -> None:
        for name in ("day_closer", "upstream"):
            part = getattr(app.state, name, None)
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        lock_cm = getattr(app.state, "server_lock", None)
        if lock_cm is not None:
            lock_cm.__exit__(None, None, None)

    app.state.start_hooks.append(start)
    app.state.stop_hooks.append(stop)
