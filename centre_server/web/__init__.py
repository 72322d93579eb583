"""The browser side of the centre server: clerk terminal, wait-time board, reports, citizen page.

``WebExtension`` is this room as a part of the running server: the pages, the
shipped static files (no CDN: a centre's LAN may have no internet), the live
event stream and a few API additions the pages use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

if TYPE_CHECKING:
    from centre_server.runtime.centre import Centre
    from centre_server.web.live import LiveHub

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


class WebExtension:
    """The staff and citizen pages, and the hub that tells open pages of every committed change."""

    name = "web"

    def __init__(self) -> None:
        from centre_server.web import live

        self.hub: LiveHub = live.LiveHub()
        self.on_committed = self.hub.on_events  # any thread; never blocks, never raises
        live.patch_uvicorn_exit()


    def mounts(self) -> Sequence[Mount]:
        return (Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),)

    def start(self, centre: Centre) -> None:
        self.hub.start()

    def stop(self) -> None:
        self.hub.stop()


__all__ = ["WebExtension"]
