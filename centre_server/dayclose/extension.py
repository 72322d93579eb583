"""Day close as a part of the running server: the closer, the upstream sender and the server lock."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from starlette.routing import Mount

from centre_server.dayclose import upstream
from centre_server.dayclose.closer import DayCloser
from centre_server.dayclose.errors import DayCloseError
from centre_server.dayclose.lock import LOCK_NAME, server_lock
from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)


class DayCloseExtension:
    """Closes the day at closing time, sends summaries to headquarters, and holds the directory's lock."""

    name = "dayclose"
    on_committed = None

    def __init__(self) -> None:
        self.closer: DayCloser | None = None
        self.sender: upstream.Sender | None = None
        self.lock: contextlib.AbstractContextManager[Any] | None = None


    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        lock_cm = server_lock(centre.settings.directory)
        try:
            lock_cm.__enter__()
        except (DayCloseError, OSError) as err:  # a close-day running now, or a read-only directory
            logger.warning("could not take %s (%s): a command-line close-day could race this server",
                           centre.settings.directory / LOCK_NAME, err)
            lock_cm = None
        sender = upstream.Sender.for_settings(centre.settings)
        closer = DayCloser(centre, on_recorded=lambda r: sender.wake())
        self.closer, self.sender, self.lock = closer, sender, lock_cm
        centre.headquarters.add(sender)
        sender.start()
        closer.start()

    def stop(self) -> None:
        for part in (self.closer, self.sender):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        if self.lock is not None:
            self.lock.__exit__(None, None, None)

    def wake_sender(self) -> None:
        """Send what waits for headquarters now (a day was just closed by hand)."""
        if self.sender is not None:
            self.sender.wake()
