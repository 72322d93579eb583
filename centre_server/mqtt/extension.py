"""The server's MQTT link as a part of the running server: made and connected at start."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.routing import Mount

from centre_server.config import CentreSettings
from centre_server.mqtt.link import MqttLink
from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)


class MqttExtension:
    """The link to the broker (devices' commands in, the centre's state out)."""

    name = "mqtt"
    on_committed = None  # the link listens from its creation: it must publish every batch after it

    def __init__(self, settings: CentreSettings, url: str) -> None:
        self.settings, self.url = settings, url
        self.link: MqttLink | None = None


    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        mqtt = self.settings.mqtt
        self.link = MqttLink(centre, self.url, mqtt.username, mqtt.password, probe_interval_s=mqtt.probe_interval_s)
        self.link.start()

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
