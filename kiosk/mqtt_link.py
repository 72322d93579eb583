"""The kiosk's MQTT link: live waits in, availability and printer status out.

Subscribes to the retained ``state/service/+``, ``state/day`` and ``server/availability``;
publishes the retained ``device/{id}/availability`` (also the last will) and
``device/{id}/status`` (the printer's state, kept until it changes). Callbacks
run on paho's thread: the app hands them to the UI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from centre_server.contract import (
    QOS,
    Availability,
    DayStatePayload,
    DeviceBundle,
    DeviceStatusPayload,
    PrinterStatus,
    ServiceStatePayload,
    TopicError,
    parse_mqtt_url,
)

logger = logging.getLogger(__name__)


class KioskLink:
    """One paho client for one kiosk; ``start()`` connects in the background."""

    def __init__(
        self,
        bundle: DeviceBundle,
        on_service_state: Callable[[ServiceStatePayload], None] | None = None,
        on_server_availability: Callable[[str], None] | None = None,
        on_connection: Callable[[bool], None] | None = None,
        on_day_state: Callable[[DayStatePayload], None] | None = None,
    ) -> None:
        self.bundle = bundle
        self.topics = bundle.topics
        self.on_service_state = on_service_state
        self.on_server_availability = on_server_availability
        self.on_connection = on_connection
        self.on_day_state = on_day_state
        self.connected = threading.Event()
        self._status: DeviceStatusPayload | None = None
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"kiosk-{bundle.centre_id}-{bundle.device_id}")
        self.client.enable_logger(logger)
        if bundle.mqtt_username:
            self.client.username_pw_set(bundle.mqtt_username, bundle.mqtt_password)
        self.client.will_set(self.topics.device_availability(bundle.device_id),
                             Availability.offline.value, qos=QOS, retain=True)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def start(self) -> None:
        host, port = parse_mqtt_url(self.bundle.mqtt_url)
        logger.info("connecting to MQTT %s:%d", host, port)
        self.client.connect_async(host, port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        """Say offline ourselves (the will only fires on a crash), then disconnect."""
        if self.connected.is_set():
            info = self.client.publish(self.topics.device_availability(self.bundle.device_id),
                                       Availability.offline.value, qos=QOS, retain=True)
            try:
                info.wait_for_publish(2)
            except (RuntimeError, ValueError) as exc:
                logger.debug("offline not confirmed: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()

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
        if status is None or not self.connected.is_set():
            return
        self.client.publish(self.topics.device_status(self.bundle.device_id), status.to_bytes(),
                            qos=QOS, retain=True)

    # -- paho callbacks (paho's thread) -------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.warning("MQTT connect refused: %s", reason_code)
            return
        logger.info("MQTT connected")
        self.connected.set()
        client.publish(self.topics.device_availability(self.bundle.device_id),
                       Availability.online.value, qos=QOS, retain=True)
        client.subscribe([(self.topics.all_service_states, QOS),
                          (self.topics.day_state, QOS),
                          (self.topics.server_availability, QOS)])
        self._send_status()
        if self.on_connection:
            self.on_connection(True)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [rc for rc in reason_codes if rc.is_failure]
        if refused:  # the broker's ACL said no: live waits will come from HTTP only
            logger.warning("MQTT subscription refused: %s", refused)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        logger.info("MQTT disconnected: %s", reason_code)
        if self.on_connection:
            self.on_connection(False)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            kind, _ident = self.topics.parse(msg.topic)
        except TopicError:
            logger.debug("ignoring %s", msg.topic)
            return
        try:
            if kind == "service_state":
                if not msg.payload:  # a cleared retained message: the service is gone
                    return
                state = ServiceStatePayload.model_validate_json(msg.payload)
                if self.on_service_state:
                    self.on_service_state(state)
            elif kind == "day_state":
                if msg.payload and self.on_day_state:
                    self.on_day_state(DayStatePayload.model_validate_json(msg.payload))
            elif kind == "server_availability" and self.on_server_availability:
                self.on_server_availability(msg.payload.decode(errors="replace").strip())
        except (ValidationError, ValueError) as exc:
            logger.warning("bad payload on %s: %s", msg.topic, exc)
