"""The display's only line to the centre: subscribe to retained state and calls.

The display never publishes anything but its own retained
``device/{id}/availability``: ``online`` on every connect, ``offline`` on a
clean stop, and ``offline`` as its last will when it dies. Messages and link
changes are handed to callbacks on paho's network thread; the app carries them
to the UI thread through a queue, so the model sees them in order.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt

from centre_server.contract import QOS, Availability, DeviceBundle, EventType, parse_mqtt_url

logger = logging.getLogger(__name__)

# A display must show the truth within 2 s of the broker coming back, so it
# retries every second rather than backing off to half a minute.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 1
KEEPALIVE_S = 10

MessageHandler = Callable[[str, bytes, bool], None]
LinkHandler = Callable[[bool], None]


def subscriptions(bundle: DeviceBundle) -> list[str]:
    """Every topic a display listens to: retained state plus the call events."""
    t = bundle.topics
    return [
        t.server_availability,
        t.all_service_states,
        t.all_counter_states,
        t.hall_state,
        t.day_state,
        t.event(EventType.ticket_called),
        t.event(EventType.ticket_recalled),
    ]


class MqttLink:
    """A paho client that keeps the display subscribed and announces its own availability."""

    def __init__(self, bundle: DeviceBundle, on_message: MessageHandler, on_link: LinkHandler) -> None:
        self._stopping = False
        self.bundle = bundle
        self.on_message = on_message
        self.on_link = on_link
        self.host, self.port = parse_mqtt_url(bundle.mqtt_url)
        self.availability_topic = bundle.topics.device_availability(bundle.device_id)
        client_id = f"{bundle.device_id}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        paho_logger = logging.getLogger(__name__ + ".paho")
        paho_logger.addFilter(self._paho_noise)
        self.client.enable_logger(paho_logger)
        if bundle.mqtt_username:
            self.client.username_pw_set(bundle.mqtt_username, bundle.mqtt_password)
        self.client.will_set(self.availability_topic, Availability.offline.value, qos=QOS, retain=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_subscribe = self._on_subscribe
        self.connected = False
        self._said_down = False  # the link's loss was reported once: no repeats every second

    def start(self) -> None:
        """Connect in the background; a broker that is not up yet is retried every second."""
        logger.info("connecting to the broker at %s:%s as %s", self.host, self.port, self.bundle.device_id)
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()

    def stop(self) -> None:
        """Clean stop: say ``offline`` (the will only fires on a crash), then disconnect. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        try:
            if self.connected:
                info = self.client.publish(self.availability_topic, Availability.offline.value, qos=QOS, retain=True)
                info.wait_for_publish(timeout=2)
        except (RuntimeError, ValueError) as exc:
            logger.info("could not publish offline: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()

    def _paho_noise(self, record: logging.LogRecord) -> bool:
        """Keep paho's records except two errors that are not: after a clean stop (paho 2.2 logs
        one once the socket is closed), and "Client is not connected" every second while the
        broker is unreachable (said once already by ``_on_connect_fail``)."""
        if record.levelno < logging.ERROR:
            return True
        if self._stopping:
            return False
        return not (not self.connected and record.getMessage().startswith("Client is not connected"))

    # -- paho callbacks (network thread) -----------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: object,
                    properties: object = None) -> None:
        if getattr(reason_code, "is_failure", False):
            logger.warning("broker refused the display: %s (check the bundle's MQTT credentials)", reason_code)
            self._down()
            return
        self.connected = True
        self._said_down = False
        logger.info("connected to the broker")
        self.on_link(True)
        client.publish(self.availability_topic, Availability.online.value, qos=QOS, retain=True)
        client.subscribe([(topic, QOS) for topic in subscriptions(self.bundle)])

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: object,
                       properties: object = None) -> None:
        was = self.connected
        self.connected = False
        if was:
            if self._stopping:
                logger.info("disconnected from the broker")
            else:
                logger.warning("lost the broker: %s", reason_code)
            self._said_down = False
        self._down()

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        """Not even a TCP connection (the broker is down or not up yet): say so once, keep trying."""
        if not self._said_down:
            logger.warning("cannot reach the broker at %s:%s; retrying every %ss", self.host, self.port,
                           RECONNECT_MAX_S)
        self._down()

    def _down(self) -> None:
        if not self._said_down:
            self._said_down = True
            self.on_link(False)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reason_codes: list,
                      properties: object = None) -> None:
        refused = [str(rc) for rc in reason_codes if getattr(rc, "is_failure", False)]
        if refused:
            logger.error("the broker refused %d of the display's subscriptions (%s): check its ACL",
                         len(refused), ", ".join(refused))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.on_message(msg.topic, bytes(msg.payload), bool(msg.retain))  # paho types it bytes | bytearray
