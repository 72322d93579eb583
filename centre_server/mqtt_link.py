"""The server's MQTT link: retained state, events, and counter commands with replies.

On every connect: publish ``online``, subscribe, republish all retained state,
so a broker that restarted empty is whole again at once. The last will says
``offline``; a clean stop says it too.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from centre_server import engine
from centre_server.centre import Centre
from centre_server.contract import (
    QOS,
    Availability,
    CounterAction,
    CounterCommand,
    FeedbackCommand,
    Reply,
    Topics,
    TopicError,
    parse_mqtt_url,
)
from centre_server.engine import Event, QueueError

logger = logging.getLogger(__name__)

MAX_PAYLOAD = 4096  # commands are small; anything bigger is dropped and counted
# A service's retained state (waiting, estimated wait) is published at most this often: at a
# morning rush every ticket changes it, and nobody reads a board faster than this.
SERVICE_STATE_EVERY_S = 0.1


def command_for(action: CounterAction, counter_id: str, outcome: str | None) -> engine.Command:
    match action:
        case CounterAction.call_next:
            return engine.CallNext(counter_id)
        case CounterAction.recall:
            return engine.Recall(counter_id)
        case CounterAction.no_show:
            return engine.MarkNoShow(counter_id)
        case CounterAction.complete:
            return engine.Complete(counter_id, outcome)
        case CounterAction.pause:
            return engine.PauseCounter(counter_id)
        case CounterAction.resume:
            return engine.ResumeCounter(counter_id)
    raise ValueError(action)


class MqttLink:
    def __init__(self, centre: Centre, url: str, username: str = "", password: str = "") -> None:
        self.centre = centre
        self.url = url
        self.topics = Topics(centre.settings.centre_id)
        self.host, self.port = parse_mqtt_url(url)
        self.connected = threading.Event()
        self.dropped: Tally[str] = Tally()  # bad messages, by reason
        self.devices: dict[str, dict[str, Any]] = {}  # device id -> availability, status, seen
        self.device_lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"huduma-centre-{centre.settings.centre_id}",
                        clean_session=True)
        c.enable_logger(logging.getLogger(__name__ + ".paho"))
        if username:
            c.username_pw_set(username, password or None)
        c.will_set(self.topics.server_availability, Availability.offline.value, qos=QOS, retain=True)
        c.reconnect_delay_set(1, 2)  # the broker is on the LAN: come back within 2 s of it
        c.max_queued_messages_set(100_000)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self._dirty_services: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        centre.listeners.append(self.on_events)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._stopping.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name="service-states", daemon=True)
        self._flusher.start()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._flusher is not None:
            self._flusher.join(5)
        self.flush_services()
        if self.connected.is_set():
            info = self.client.publish(self.topics.server_availability, Availability.offline.value,
                                       qos=QOS, retain=True)
            try:
                info.wait_for_publish(3)
            except Exception:
                logger.warning("could not say offline before stopping")
        self.client.disconnect()
        self.client.loop_stop()
        if self.on_events in self.centre.listeners:
            self.centre.listeners.remove(self.on_events)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            logger.error("broker %s refused the server: %s", self.url, reason_code)
            return
        logger.info("connected to broker %s", self.url)
        client.publish(self.topics.server_availability, Availability.online.value, qos=QOS, retain=True)
        client.subscribe([(self.topics.all_counter_commands, QOS), (self.topics.cmd_feedback, QOS),
                          (self.topics.all_device_availability, QOS), (self.topics.all_device_status, QOS)])
        self.republish_all()
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected.clear()
        logger.warning("lost the broker %s (%s); reconnecting", self.url, reason_code)

    # ---------------------------------------------------------------- publishing

    def _publish(self, topic: str, payload: bytes | str, retain: bool) -> None:
        self.client.publish(topic, payload, qos=QOS, retain=retain)

    def republish_all(self) -> None:
        c = self.centre
        self.republish_services()
        for cid in list(c.state.counters):
            self._publish(self.topics.counter_state(cid), c.counter_payload(cid).to_bytes(), True)
        self._publish(self.topics.hall_state, c.hall_payload().to_bytes(), True)
        self.publish_day(force=True)

    def republish_services(self) -> None:
        self._publish_services(list(self.centre.state.services))
        self.publish_day()

    def publish_day(self, force: bool = False) -> None:
        """The retained day state, when it changed (closing time passing, a close, a new day)."""
        day = self.centre.day_payload()
        key = (day.day, day.open, day.reason, day.opens_at)
        if force or key != getattr(self, "_day_key", None):
            self._day_key = key
            self._publish(self.topics.day_state, day.to_bytes(), True)

    def _publish_services(self, services: Iterable[str]) -> None:
        c = self.centre
        for sid in services:
            if sid in c.state.services:
                self._publish(self.topics.service_state(sid), c.service_payload(sid).to_bytes(), True)

    def on_events(self, events: list[Event]) -> None:
        """Listener of Centre: counter and hall state first (retained), then the events.

        Service states are only marked here and published by ``_flush_loop`` within
        SERVICE_STATE_EVERY_S: one publish for all the tickets of a rush, not one each.
        """
        c = self.centre
        services, counters, hall = c.touched(events)
        for cid in counters:
            self._publish(self.topics.counter_state(cid), c.counter_payload(cid).to_bytes(), True)
        if services:
            with self._dirty_lock:
                self._dirty_services |= services
            self._dirty.set()
        if hall:
            self._publish(self.topics.hall_state, c.hall_payload().to_bytes(), True)
        if any(ev.type.value == "day_closed" for ev in events):
            self.publish_day()
        for ev in events:
            self._publish(self.topics.event(ev.type.value), c.event_payload(ev).to_bytes(), False)

    def flush_services(self) -> None:
        """Publish the retained state of every service changed since the last flush."""
        with self._dirty_lock:
            services, self._dirty_services = self._dirty_services, set()
        self._publish_services(services)

    def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            self._dirty.clear()
            try:
                self.flush_services()
            except Exception:  # a state that cannot be published now is published on the next change
                logger.exception("publishing service states failed")
            self._stopping.wait(SERVICE_STATE_EVERY_S)

    # ---------------------------------------------------------------- receiving

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            kind, ident = self.topics.parse(msg.topic)
        except TopicError:
            self.dropped["unknown_topic"] += 1
            return
        if len(msg.payload) > MAX_PAYLOAD:
            self.dropped["oversized"] += 1
            logger.warning("dropped an oversized message (%d bytes) on %s", len(msg.payload), msg.topic)
            return
        try:
            if kind == "cmd_counter":
                self._counter_command(ident or "", msg.payload)
            elif kind == "cmd_feedback":
                self._feedback(msg.payload)
            elif kind in ("device_availability", "device_status"):
                self._device(kind, ident or "", msg.payload)
        except Exception:  # never let one message take the link down
            self.dropped["error"] += 1
            logger.exception("failed to handle a message on %s", msg.topic)

    def _reply(self, device_id: str | None, request_id: str | None, error: str | None = None,
               data: dict[str, Any] | None = None) -> None:
        if not device_id or not request_id:
            return
        try:
            topic = self.topics.reply(device_id)
        except TopicError:
            self.dropped["bad_device_id"] += 1
            return
        reply = Reply(request_id=request_id, status="error" if error else "ok", error=error, data=data)
        self._publish(topic, reply.to_bytes(), False)

    def _counter_command(self, counter_id: str, payload: bytes) -> None:
        try:
            cmd = CounterCommand.model_validate_json(payload)
        except ValidationError as err:
            self.dropped["bad_command"] += 1
            try:
                raw = json.loads(payload)
                device_id = raw.get("device_id") if isinstance(raw, dict) else None
                if isinstance(device_id, str) and self._may_command(device_id, counter_id):
                    self._reply(device_id, raw.get("request_id"), f"bad command: {err.errors()[0]['msg']}")
            except Exception:
                pass
            return
        if not self._may_command(cmd.device_id, counter_id):
            # ``device_id`` is the sender's own word: never act on it, nor answer on another device's
            # reply topic, unless that device is a registered bridge whose bundle lists this counter.
            self.dropped["foreign_command"] += 1
            logger.warning("command %s for counter %s claiming device %r refused: no bridge of that name "
                           "drives the counter", cmd.action.value, counter_id, cmd.device_id)
            return
        try:
            events = self.centre.execute(command_for(cmd.action, counter_id, cmd.outcome))
        except QueueError as err:
            self._reply(cmd.device_id, cmd.request_id, err.message, {"code": err.code})
            return
        data: dict[str, Any] = {"counter_id": counter_id}
        for ev in events:
            if ev.data.get("number"):
                data["ticket"] = ev.data["number"]
        self._reply(cmd.device_id, cmd.request_id, None, data)

    def _feedback(self, payload: bytes) -> None:
        try:
            cmd = FeedbackCommand.model_validate_json(payload)
        except ValidationError as err:
            self.dropped["bad_feedback"] += 1
            try:  # answer, so the unit hears NAK instead of waiting for a timeout
                raw = json.loads(payload)
                self._reply(raw.get("device_id"), raw.get("request_id"),
                            f"bad feedback: {err.errors()[0]['msg']}", {"code": "bad_rating"})
            except Exception:
                pass
            return
        allowed = self._bridge_counters(cmd.device_id)
        if allowed is not None and cmd.counter_id not in allowed:
            # Every bridge may write cmd/feedback: a wrong port map must not rate another bridge's counter.
            self.dropped["foreign_counter"] += 1
            logger.warning("feedback from %s for counter %s refused: not in its bundle (%s)", cmd.device_id,
                           cmd.counter_id, ",".join(allowed))
            self._reply(cmd.device_id, cmd.request_id, f"counter {cmd.counter_id} is not one of this bridge's "
                        f"counters ({', '.join(allowed) or 'none'})", {"code": "not_your_counter"})
            return
        try:
            self.centre.execute(engine.GiveFeedback(rating=cmd.rating, counter_id=cmd.counter_id))
        except QueueError as err:
            self._reply(cmd.device_id, cmd.request_id, err.message, {"code": err.code})
            return
        self._reply(cmd.device_id, cmd.request_id, None, {"counter_id": cmd.counter_id})

    def _may_command(self, device_id: str | None, counter_id: str) -> bool:
        """True when ``device_id`` names a registered, unrevoked bridge whose bundle lists ``counter_id``."""
        allowed = self._bridge_counters(device_id)
        return allowed is not None and counter_id in allowed

    def _bridge_counters(self, device_id: str | None) -> tuple[str, ...] | None:
        """The counters a registered bridge drives (its bundle's); None when the sender is no bridge we know."""
        if not device_id:
            return None
        with self.centre.lock:
            row = self.centre.db.execute("SELECT role, counters FROM devices WHERE id=? AND revoked_at IS NULL",
                                         [device_id]).fetchone()
        if row is None or row[0] != "bridge":
            return None
        try:
            return tuple(json.loads(row[1] or "[]"))
        except ValueError:
            return ()

    def _device(self, kind: str, device_id: str, payload: bytes) -> None:
        with self.device_lock:
            entry = self.devices.setdefault(device_id, {"device_id": device_id})
            entry["seen_at"] = time.time()
            if kind == "device_availability":
                entry["availability"] = payload.decode(errors="replace")[:16]
            else:
                try:
                    status = json.loads(payload)
                    entry["status"] = status if isinstance(status, dict) else {"value": status}
                except ValueError:
                    self.dropped["bad_status"] += 1
