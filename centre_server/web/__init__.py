"""The browser side of the centre server: clerk terminal, wait-time board, reports, citizen page.

``mount(app)`` adds the pages, the shipped static files (no CDN: a centre's
LAN may have no internet), the live event stream and a few API additions.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from centre_server.contract import API_PREFIX

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI) -> None:
    """Add the web pages to the centre server's app (called by ``create_app``)."""
    from centre_server.http.routes import manage
    from centre_server.web import live, pages

    hub = live.LiveHub()
    app.state.live_hub = hub
    app.state.start_hooks.append(hub.start)
    app.state.stop_hooks.append(hub.stop)
    live.patch_uvicorn_exit()
    app.include_router(live.router, prefix=API_PREFIX)
    app.include_router(manage.router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")


__all__ = ["mount"]
