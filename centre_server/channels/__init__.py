"""Citizen channels beyond the kiosk: remote tickets (web, USSD), SMS, appointments, feedback (issue 10).

``ChannelsExtension`` is this room as a part of the running server: the pages, the
USSD and SMS webhooks, the kiosk check-in endpoint, the shipped static files, and a
hub started with the server (SMS outbox worker, release of missed appointments).
Its tables are made by the store's migrations (``centre_server/store/migrations/channels.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import Mount

    from centre_server.channels.core import ChannelHub
    from centre_server.channels.settings import ChannelSettings
    from centre_server.config import CentreSettings
    from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


class ChannelsExtension:
    """The channels of one centre: ``[channels]`` read when the app is made, the hub run with the server."""

    name = "channels"
    on_committed = None  # the hub listens from its creation (it is made at start)

    def __init__(self, settings: CentreSettings) -> None:
        from centre_server.channels.gateway import GatewayGuard
        from centre_server.channels.settings import ChannelConfigError, load_channel_settings
        from centre_server.config import ConfigError

        try:
            self.settings: ChannelSettings = load_channel_settings(settings.directory)
        except ChannelConfigError as err:
            raise ConfigError(str(err)) from None
        self.directory = Path(settings.directory)
        s = self.settings
        self.gateway = GatewayGuard(s.gateway_key or s.sms_inbound_key, s.gateway_networks,
                                    s.webhook_per_minute, demo=bool(getattr(settings, "demo", False)))
        self.hub: ChannelHub | None = None


    def mounts(self) -> Sequence[Mount]:
        from fastapi.staticfiles import StaticFiles
        from starlette.routing import Mount

        return (Mount("/channels/static", app=StaticFiles(directory=str(STATIC_DIR)), name="channels-static"),)

    def start(self, centre: Centre) -> None:
        from centre_server.channels.core import ChannelHub

        self.hub = ChannelHub(centre, self.settings, self.directory)
        self.hub.start()

    def stop(self) -> None:
        if self.hub is not None:
            self.hub.stop()

    def running_hub(self) -> ChannelHub:
        """The hub, once the server has started (no route is answered before)."""
        if self.hub is None:
            raise RuntimeError("the channels have not started")
        return self.hub


class CloseMessages:
    """For a close on a stopped server (``huduma-centre close-day DIR``), attached to its centre
    (``closing.close_offline(..., attach=[CloseMessages()])``): the channels' hub, not started, hears the close
    as the running server's hub does, so the citizens still waiting get the same SMS ("closed before your
    number", money owed back) through the same gateway, sent before the close erases their numbers.
    ``told`` says afterwards, per day closed, how many went and how many the gateway did not take."""

    def __init__(self) -> None:
        self.hub: ChannelHub | None = None
        self.told: dict[str, tuple[int, int]] = {}

    def __call__(self, centre: Centre) -> Callable[[], None]:
        from centre_server.channels.core import ChannelHub
        from centre_server.channels.settings import ChannelConfigError, load_channel_settings
        from centre_server.config import ConfigError

        try:
            settings = load_channel_settings(centre.settings.directory)
        except ChannelConfigError as err:
            raise ConfigError(str(err)) from None
        self.hub = ChannelHub(centre, settings, Path(centre.settings.directory))
        return self._let_go

    def _let_go(self) -> None:
        if self.hub is not None:
            self.told = dict(self.hub.told_at_close)
            self.hub.stop()
            self.hub = None


__all__ = ["ChannelsExtension", "CloseMessages"]
