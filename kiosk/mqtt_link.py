"""The kiosk's MQTT link: live waits in, printer status out.

Subscribes to the retained ``state/service/+``, ``state/day`` and ``state/catalogue`` (and, through the
device link, ``server/availability``); publishes ``device/{id}/status`` (the
printer's state, kept until it changes and sent again on every reconnect).
Availability, the last will and reconnecting are the device link's. Callbacks run
on paho's thread: the app hands them to the UI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from centre_server.contract import (
    Availability,
    DayStatePayload,
    DeviceBundle,
    DeviceStatusPayload,
    PrinterStatus,
    ServiceStatePayload,
    TopicError,
)
from centre_server.contract.catalogue import CatalogueStatePayload
from centre_server.contract.link import DeviceLink

logger = logging.getLogger(__name__)

KEEPALIVE_S = 15


class KioskLink:
    """One device link for one kiosk; ``start()`` connects in the background."""

    def __init__(
        self,
        bundle: DeviceBundle,
        on_service_state: Callable[[ServiceStatePayload], None] | None = None,
        on_server_availability: Callable[[str], None] | None = None,
        on_connection: Callable[[bool], None] | None = None,
        on_day_state: Callable[[DayStatePayload], None] | None = None,
        on_catalogue: Callable[[CatalogueStatePayload], None] | None = None,
    ) -> None:
        self.bundle = bundle
        self.topics = bundle.topics
        self.on_service_state = on_service_state
        self.on_server_availability = on_server_availability
        self.on_connection = on_connection
        self.on_day_state = on_day_state
        self.on_catalogue = on_catalogue
        self._status: DeviceStatusPayload | None = None
        self._lock = threading.Lock()
        self.link = DeviceLink(
            bundle, [self.topics.all_service_states, self.topics.day_state, self.topics.catalogue_state],
            on_message=self._on_message, on_link=self._on_link, on_server=self._on_server,
            client_id=f"kiosk-{bundle.centre_id}-{bundle.device_id}", keepalive_s=KEEPALIVE_S)
        self.connected = self.link.connected

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        """Say offline ourselves (the will only fires on a crash), then disconnect."""
        self.link.stop()

    # -- publishing -------------------------------------------------------
    def publish_status(self, printer: PrinterStatus, detail: str | None = None) -> None:
        """Retain the printer status; it is re-sent on every reconnect."""
        with self._lock:
            self._status = DeviceStatusPayload(
                device_id=self.bundle.device_id, kind="kiosk", printer=printer, detail=detail,
                updated_at=datetime.now(UTC))
        self._send_status()

    def _send_status(self) -> None:
        with self._lock:
            status = self._status
        if status is not None:
            self.link.publish(self.topics.device_status(self.bundle.device_id), status.to_bytes(), retain=True)

    # -- device link callbacks (paho's thread) ---------------------------------
    def _on_link(self, up: bool) -> None:
        if up:
            self._send_status()
        if self.on_connection:
            self.on_connection(up)

    def _on_server(self, online: bool) -> None:
        if self.on_server_availability:
            value = Availability.online if online else Availability.offline
            self.on_server_availability(value.value)

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        try:
            kind, _ident = self.topics.parse(topic)
        except TopicError:
            logger.debug("ignoring %s", topic)
            return
        try:
            if kind == "service_state":
                if not payload:  # a cleared retained message: the service is gone
                    return
                state = ServiceStatePayload.model_validate_json(payload)
                if self.on_service_state:
                    self.on_service_state(state)
            elif kind == "day_state" and payload and self.on_day_state:
                self.on_day_state(DayStatePayload.model_validate_json(payload))
            elif kind == "catalogue_state" and payload and self.on_catalogue:
                self.on_catalogue(CatalogueStatePayload.model_validate_json(payload))
        except (ValidationError, ValueError) as exc:
            logger.warning("bad payload on %s: %s", topic, exc)
