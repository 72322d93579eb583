"""The server's MQTT link: retained state, events, and counter commands with replies.

On every connect: publish ``online``, subscribe, republish all retained state,
so a broker that restarted empty is whole again at once. The last will says
``offline``; a clean stop says it too.

A connection can look alive and still hear nothing: a broker that let another
client take the server's client id (or dropped its subscriptions) keeps
answering pings. So the server publishes a probe to itself every
``probe_interval_s`` on a topic only it may use (``server/probe``); when two in
a row do not come back it calls itself cut off (``/healthz`` says
``"broker": "cut_off"``) and connects afresh.
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

from centre_server.contract import (
    QOS,
    TICKET_EVENT_MODELS,
    Availability,
    CounterAction,
    CounterCommand,
    Event,
    FeedbackCommand,
    Reply,
    TopicError,
    Topics,
    parse_mqtt_url,
)
from centre_server.queue import engine
from centre_server.queue.engine import QueueError
from centre_server.runtime.centre import Centre
from centre_server.store import accounts

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


PROBE_MISSES = 2  # probes in a row that did not come back before the link calls itself cut off


class MqttLink:
    def __init__(self, centre: Centre, url: str, username: str = "", password: str = "",
                 probe_interval_s: float = 10.0) -> None:
        self.centre = centre
        self.url = url
        self.topics = Topics(centre.settings.centre_id)
        self.probe_topic = f"{self.topics.base}/server/probe"  # the ACLs give it to the server alone
        self.probe_interval_s = probe_interval_s
        self.host, self.port = parse_mqtt_url(url)
        self.connected = threading.Event()
        self.cut_off = threading.Event()  # connected, as far as the socket knows, yet hearing nothing
        self.reconnects_forced = 0
        self._probe_heard = threading.Event()
        self._probe_nonce = ""
        self._username, self._password = username, password
        self.dropped: Tally[str] = Tally()  # bad messages, by reason
        self.devices: dict[str, dict[str, Any]] = {}  # device id -> availability, status, seen
        self.device_lock = threading.Lock()
        self.client = self._new_client()
        self._client_lock = threading.Lock()
        self._prober: threading.Thread | None = None
        self._dirty_services: set[str] = set()
        self._day_key: tuple | None = None  # what the last retained state/day said
        self._dirty_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        centre.listeners.append(self.on_events)
        centre.catalogue_listeners.append(self.on_catalogue)
        centre.forecast_listeners.append(self.on_forecast)

    # ---------------------------------------------------------------- lifecycle

    def _new_client(self) -> mqtt.Client:
        # the client id is the server's broker user (brokers bind ids to their users: no device may take it)
        client_id = self._username or f"huduma-centre-{self.centre.settings.centre_id}"
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        c.enable_logger(logging.getLogger(__name__ + ".paho"))
        if self._username:
            c.username_pw_set(self._username, self._password or None)
        c.will_set(self.topics.server_availability, Availability.offline.value, qos=QOS, retain=True)
        c.reconnect_delay_set(1, 2)  # the broker is on the LAN: come back within 2 s of it
        c.max_queued_messages_set(100_000)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._stopping.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name="service-states", daemon=True)
        self._flusher.start()
        if self.probe_interval_s > 0:
            self._prober = threading.Thread(target=self._probe_loop, name="broker-probe", daemon=True)
            self._prober.start()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._flusher is not None:
            self._flusher.join(5)
        if self._prober is not None:
            self._probe_heard.set()  # a probe waiting for its echo stops waiting
            self._prober.join(5)
        self.flush_services()
        if self.connected.is_set():
            info = self.client.publish(self.topics.server_availability, Availability.offline.value,
                                       qos=QOS, retain=True)
            try:
                info.wait_for_publish(3)
            except Exception:
                logger.warning("could not say offline before stopping")
        with self._client_lock:
            # paho's loop thread may run once more after the socket is closed and log "Client is not
            # connected" as an error: on a clean stop that is no news, so its log ends here
            self.client.disable_logger()
            self.client.disconnect()
            self.client.loop_stop()
        if self.on_events in self.centre.listeners:
            self.centre.listeners.remove(self.on_events)
        if self.on_catalogue in self.centre.catalogue_listeners:
            self.centre.catalogue_listeners.remove(self.on_catalogue)
        if self.on_forecast in self.centre.forecast_listeners:
            self.centre.forecast_listeners.remove(self.on_forecast)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            logger.error("broker %s refused the server: %s", self.url, reason_code)
            return
        logger.info("connected to broker %s", self.url)
        client.publish(self.topics.server_availability, Availability.online.value, qos=QOS, retain=True)
        client.subscribe([(self.topics.all_counter_commands, QOS), (self.topics.all_feedback, QOS),
                          (self.topics.all_device_availability, QOS), (self.topics.all_device_status, QOS),
                          (self.probe_topic, QOS)])
        self.republish_all()
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected.clear()
        if self._stopping.is_set():
            logger.info("disconnected from the broker %s", self.url)
            return
        logger.warning("lost the broker %s (%s); reconnecting", self.url, reason_code)

    @property
    def state(self) -> str:
        """What /healthz says of the broker: connected, disconnected, or cut_off (connected, hearing nothing)."""
        if not self.connected.is_set():
            return "disconnected"
        return "cut_off" if self.cut_off.is_set() else "connected"

    def _probe_loop(self) -> None:
        """Publish to ourselves; when PROBE_MISSES probes in a row do not come back, reconnect."""
        misses, n = 0, 0
        while not self._stopping.wait(self.probe_interval_s if misses == 0 else 0):
            if not self.connected.is_set():
                misses = 0
                continue
            n += 1
            self._probe_nonce = f"{id(self):x}-{n}"
            self._probe_heard.clear()
            self.client.publish(self.probe_topic, self._probe_nonce, qos=QOS, retain=False)
            if self._probe_heard.wait(self.probe_interval_s) or self._stopping.is_set():
                if self.cut_off.is_set():
                    logger.warning("the server hears the broker %s again", self.url)
                misses = 0
                self.cut_off.clear()
                continue
            misses += 1
            if misses < PROBE_MISSES or not self.connected.is_set():
                continue
            if not self.cut_off.is_set():
                logger.error("the broker %s no longer delivers the server's own messages (%d probes lost): another "
                             "client may hold its client id; connecting afresh", self.url, misses)
            self.cut_off.set()
            misses = 0
            self._reconnect()

    def _reconnect(self) -> None:
        """Drop the connection that hears nothing and make a new one (same client, same subscriptions)."""
        with self._client_lock:
            if self._stopping.is_set():
                return
            self.reconnects_forced += 1
            self.connected.clear()
            try:
                self.client.disconnect()
            except Exception:
                logger.debug("disconnect before a forced reconnect failed", exc_info=True)
            self.client.loop_stop()
            self.client.connect_async(self.host, self.port, keepalive=30)
            self.client.loop_start()

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
        self.publish_catalogue()

    def publish_catalogue(self) -> None:
        """The catalogue this centre runs, retained: after a sync, or a change of what it offers."""
        self._publish(self.topics.catalogue_state, self.centre.catalogue_payload().model_dump_json(), True)

    def on_catalogue(self) -> None:
        """A new catalogue or offering: every service's names, target and refusal may have changed."""
        if self.connected.is_set():
            self.republish_services()
            self.publish_catalogue()

    def on_forecast(self) -> None:
        """A new wait table: every service's estimate may have moved (also where nobody changed its queue:
        the hall showed 73 min for a service the table said 75 for). All are published with the next flush."""
        with self._dirty_lock:
            self._dirty_services |= set(self.centre.state.services)
        self._dirty.set()

    def republish_services(self) -> None:
        self._publish_services(list(self.centre.state.services))
        self.publish_day()

    def publish_day(self, force: bool = False) -> None:
        """The retained day state, when it changed (closing time passing, a close, a new day)."""
        day = self.centre.day_payload()
        key = (day.day, day.open, day.reason, day.opens_at)
        if force or key != self._day_key:
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
        if any(ev.type.value in ("day_closed", "day_reopened") for ev in events):
            self.publish_day()
        if any(ev.type.value in ("service_suspended", "service_resumed") for ev in events):
            self.flush_services()  # the refusal before the event that tells of it
            self.publish_catalogue()
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
        if msg.topic == self.probe_topic:
            if msg.payload.decode(errors="replace") == self._probe_nonce:
                self._probe_heard.set()
            return
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
                self._feedback(msg.payload, ident or "")
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

    def _counter_command(self, counter_id: str, payload: bytes | bytearray) -> None:
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
            if isinstance(ev.data, TICKET_EVENT_MODELS) and ev.data.number:
                data["ticket"] = ev.data.number
        self._reply(cmd.device_id, cmd.request_id, None, data)

    def _feedback(self, payload: bytes | bytearray, topic_counter: str) -> None:
        try:
            cmd = FeedbackCommand.model_validate_json(payload)
            if cmd.counter_id != topic_counter:  # the topic is what the broker checked: it wins
                self.dropped["foreign_counter"] += 1
                logger.warning("feedback on %s's topic names counter %s: refused", topic_counter, cmd.counter_id)
                return
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
            # The broker lets a bridge write only its own counters' feedback topics; this also catches a
            # wrong port map (or a device_id that names another bridge).
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
            return accounts.bridge_counters(self.centre.db, device_id)

    def _device(self, kind: str, device_id: str, payload: bytes | bytearray) -> None:
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
