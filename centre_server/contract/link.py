"""A device's one MQTT link: availability, last will, reconnect, the server's availability.

Every device (kiosk, counter display, firmware bridge) speaks to the centre the
same way: it retains ``device/{id}/availability`` = ``online`` on every connect,
``offline`` on a clean stop, and leaves ``offline`` as its last will for a crash;
it reconnects by itself (backing off up to ``reconnect_max_s``) and subscribes
afresh each time, since the broker may have restarted empty; it follows the
retained ``server/availability``. What each device does with its messages stays
with the device: this link hands them over on paho's network thread.

Devices may import only the contract, so this module needs paho-mqtt and
nothing of the server.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from centre_server.contract import QOS, Availability, DeviceBundle, parse_mqtt_url

logger = logging.getLogger(__name__)
paho_logger = logging.getLogger(__name__ + ".paho")
# paho hands ``on_log`` a plain int; its own table is keyed by the IntEnum of the same values.
PAHO_LOG_LEVELS: dict[int, int] = {int(level): std for level, std in mqtt.LOGGING_LEVEL.items()}

MQTTS_PORT = 8883  # an ``mqtts://`` URL without a port means the TLS port, not 1883
STOP_PUBLISH_TIMEOUT_S = 2.0  # how long a clean stop waits for its ``offline`` to be acknowledged

MessageHandler = Callable[[str, bytes, bool], None]  # topic, payload, retained
LinkHandler = Callable[[bool], None]  # up or down; down is said once per outage
ServerHandler = Callable[[bool], None]  # the server said online (True) or anything else (False)


def broker_address(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:port`` or ``mqtts://host[:port]`` -> (host, port, tls)."""
    tls = url.strip().lower().startswith("mqtts://")
    host, port = parse_mqtt_url(url)
    if tls and urlsplit(url.strip()).port is None:
        port = MQTTS_PORT
    return host, port, tls


def fresh_client_id(device_id: str) -> str:
    """A client id that is the device's own (the broker binds ids to users) and new each run."""
    return f"{device_id}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class DeviceLink:
    """One paho client for one device; ``start()`` connects in the background, ``stop()`` says offline.

    ``on_message`` hears every message, the server's availability included (a display
    shows it in order with the rest); ``on_server`` hears only that, as a yes/no;
    ``on_link`` hears the link come up (after ``online`` and the subscriptions went
    out) and go down (once per outage, however many retries fail).
    """

    def __init__(
        self,
        bundle: DeviceBundle,
        subscriptions: Iterable[str],
        on_message: MessageHandler | None = None,
        on_link: LinkHandler | None = None,
        on_server: ServerHandler | None = None,
        *,
        client_id: str | None = None,
        keepalive_s: int = 30,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
    ) -> None:
        self.device_id = bundle.device_id
        self.topics = bundle.topics
        self.host, self.port, self.tls = broker_address(bundle.mqtt_url)
        self.availability_topic = self.topics.device_availability(bundle.device_id)
        topics = list(dict.fromkeys(subscriptions))
        if self.topics.server_availability not in topics:
            topics.append(self.topics.server_availability)
        self.subscriptions = topics
        self.on_message = on_message
        self.on_link = on_link
        self.on_server = on_server
        self.keepalive_s = keepalive_s
        self.reconnect_max_s = reconnect_max_s
        self.connected = threading.Event()
        self.server_online: bool | None = None  # None until the server's retained availability is heard
        self._stopping = False
        self._said_down = False  # the outage was reported once: no repeat on every retry
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or fresh_client_id(bundle.device_id), clean_session=True)
        self.client.on_log = self._on_log
        if bundle.mqtt_username:
            self.client.username_pw_set(bundle.mqtt_username, bundle.mqtt_password)
        if self.tls:
            self.client.tls_set()  # the system's CAs: a centre's broker has a certificate they trust
        self.client.will_set(self.availability_topic, Availability.offline.value, qos=QOS, retain=True)
        self.client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- life cycle ----------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; a broker that is not up yet is retried until it is."""
        logger.info("%s connecting to the broker at %s:%d%s", self.device_id, self.host, self.port,
                    " (TLS)" if self.tls else "")
        self._stopping = False
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        """Clean stop: say ``offline`` (the will only fires on a crash), then disconnect. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        if self.connected.is_set():
            try:
                info = self.client.publish(self.availability_topic, Availability.offline.value, qos=QOS, retain=True)
                info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
            except (RuntimeError, ValueError) as exc:
                logger.info("%s could not confirm offline: %s", self.device_id, exc)
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> bool:
        """Send at the contract's QoS; False when the link is down (nothing is queued for later)."""
        if not self.connected.is_set():
            return False
        return self.client.publish(topic, payload, qos=QOS, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS

    # -- paho callbacks (network thread) ---------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: mqtt.ReasonCode,
                    properties: object = None) -> None:
        if reason_code.is_failure:
            logger.warning("the broker refused %s: %s (check the bundle's MQTT credentials)",
                           self.device_id, reason_code)
            self._down()
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # Device messages are tiny and latency-bound (a key press, a call): no Nagle delay.
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        logger.info("%s connected to the broker", self.device_id)
        self.connected.set()
        self._said_down = False
        client.publish(self.availability_topic, Availability.online.value, qos=QOS, retain=True)
        client.subscribe([(topic, QOS) for topic in self.subscriptions])
        self._tell(self.on_link, True)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        """Not even a TCP connection (the broker is down or not up yet): say so once, keep trying."""
        if not self._said_down:
            logger.warning("%s cannot reach the broker at %s:%d; retrying (at most every %ss)",
                           self.device_id, self.host, self.port, self.reconnect_max_s)
        self._down()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: object,
                       properties: object = None) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            if self._stopping:
                logger.info("%s disconnected from the broker", self.device_id)
            else:
                logger.warning("%s lost the broker (%s); reconnecting", self.device_id, reason_code)
            self._said_down = False
        self._down()

    def _down(self) -> None:
        if not self._said_down:
            self._said_down = True
            self._tell(self.on_link, False)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reason_codes: list[ReasonCode],
                      properties: object = None) -> None:
        refused = [str(rc) for rc in reason_codes if getattr(rc, "is_failure", False)]
        if refused:  # the broker's ACL said no: what those topics carry will not arrive
            logger.error("the broker refused %d of %s's subscriptions (%s): check its ACL",
                         len(refused), self.device_id, ", ".join(refused))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.server_availability:
            online = msg.payload.decode(errors="replace").strip() == Availability.online.value
            if online != self.server_online:
                logger.info("%s hears the centre server %s", self.device_id, "online" if online else "offline")
            self.server_online = online
            self._tell(self.on_server, online)
        self._tell(self.on_message, msg.topic, msg.payload, bool(msg.retain))

    def _tell(self, handler: Callable[..., None] | None, *args: object) -> None:
        """Run a device's handler; a bug in it must not kill paho's network thread."""
        if handler is None:
            return
        try:
            handler(*args)
        except Exception:
            logger.exception("%s: a handler failed", self.device_id)

    def _on_log(self, client: mqtt.Client, userdata: object, level: int, text: str) -> None:
        """paho's own records, less two errors that are not: after a clean stop (paho 2.2 logs one
        once the socket is closed), and "Client is not connected" on every retry while the broker
        is unreachable (said once already by ``_on_connect_fail``)."""
        std_level = PAHO_LOG_LEVELS.get(level, logging.DEBUG)
        if not paho_logger.isEnabledFor(std_level):
            return
        if std_level >= logging.ERROR and (self._stopping or (
                not self.connected.is_set() and text.startswith("Client is not connected"))):
            return
        paho_logger.log(std_level, "%s: %s", self.device_id, text)
