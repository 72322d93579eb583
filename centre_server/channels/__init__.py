"""Citizen channels beyond the kiosk: remote tickets (web, USSD), SMS, appointments, feedback (issue 10).

``mount(app)`` is called by ``create_app``; it adds the pages, the USSD and SMS
webhooks, the kiosk check-in endpoint, the shipped static files, and a hub
started with the server (SMS outbox worker, release of missed appointments).
This module stays light: ``storage`` imports ``channels.schema`` at start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


def mount(app: Any) -> None:
    """Add the channels to the centre server's app."""
    from fastapi.staticfiles import StaticFiles

    from centre_server.channels import routes
    from centre_server.channels.core import ChannelHub
    from centre_server.channels.settings import ChannelConfigError, load_channel_settings
    from centre_server.config import ConfigError

    try:
        settings = load_channel_settings(app.state.settings.directory)
    except ChannelConfigError as err:
        raise ConfigError(str(err)) from None
    app.state.channel_settings = settings

    def start(app: Any) -> None:
        hub = ChannelHub(app.state.centre, settings, Path(app.state.settings.directory))
        app.state.channels = hub
        hub.start()

    def stop(app: Any) -> None:
        hub = getattr(app.state, "channels", None)
        if hub is not None:
            hub.stop()

    app.state.start_hooks.append(start)
    app.state.stop_hooks.append(stop)
    app.include_router(routes.pages)
    app.include_router(routes.api)
    app.include_router(routes.hooks)
    app.mount("/channels/static", StaticFiles(directory=str(STATIC_DIR)), name="channels-static")


__all__ = ["mount"]
