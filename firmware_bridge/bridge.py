"""The bridge: serial devices on one side, the centre's MQTT topics on the other.

Key presses become ``cmd/counter/{id}`` requests (the keypad hears ACK or NAK from
the server's reply), feedback buttons become ``cmd/feedback/{counter}``, and each LED
number board follows the retained ``state/counter/{id}`` of its counter: SHOW the
number, BLINK on a new call, BEEP on a recall, blank when nothing is called.
The bridge never holds queue state of its own; after any restart or reconnect
the retained state is the whole truth.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from centre_server.contract import (
    FEEDBACK_BUTTONS,
    BridgeStatusPayload,
    CounterAction,
    CounterCommand,
    CounterState,
    CounterStatePayload,
    FeedbackCommand,
    Reply,
    TicketState,
    TopicError,
)
from centre_server.contract.link import DeviceLink
from firmware_bridge import frames
from firmware_bridge.config import BridgeConfig
from firmware_bridge.frames import Frame
from firmware_bridge.serial_line import PORT_ERRORS, Device, PortState, SerialLine

logger = logging.getLogger(__name__)

KEY_ACTIONS: dict[str, CounterAction] = {
    "NEXT": CounterAction.call_next,
    "RECALL": CounterAction.recall,
    "NOSHOW": CounterAction.no_show,
    "DONE": CounterAction.complete,
    "PAUSE": CounterAction.pause,
    "RESUME": CounterAction.resume,
}

# What an LED board shows: a ticket while it is called or served, else blank.
SHOWN_TICKET_STATES = frozenset({TicketState.called, TicketState.serving})

STATUS_MAX_BYTES = 3840  # under the server's 4096-byte limit on a device message (mqtt/link.py MAX_PAYLOAD)
UNKNOWN_REPORTED = 16  # unknown devices listed in full in the status; ``unknown_count`` has them all
EXIT_PORTS_LOST = 3  # exit status when --exit-after-ports-down fires (for a supervisor)


def nak_reason(error: str | None) -> str:
    """A server error as a short keypad word: ``nothing_waiting`` -> ``NOTHING_WAITING``."""
    text = (error or "ERROR").split(":", 1)[0].strip()
    word = "".join(ch if ch.isalnum() else "_" for ch in text.upper()).strip("_")
    return frames.clean_arg(word or "ERROR", 24)


@dataclass
class Pending:
    """A key or rating waiting for the server's reply."""

    line: SerialLine
    address: int
    verb: str  # what to ACK: the key (NEXT, ...) or RATE
    deadline: float
    sent_at: float


@dataclass
class BoardState:
    """The last counter state an LED board was driven from."""

    text: str = ""
    ticket_id: str | None = None
    recalls: int = 0


@dataclass(frozen=True)
class BoardStep:
    """What one new counter state means for the counter's LED boards."""

    board: BoardState
    changed: bool  # send SHOW at all
    blink: bool  # a new call or a recall
    beep: bool  # a recall


def board_step(prev: BoardState | None, state: CounterStatePayload) -> BoardStep:
    """Pure: the board after ``state``; a blink for a new ticket, a beep when recalls went up.

    The first state after start-up (``prev`` None) only sets the number: it is
    the retained truth, not a fresh call, so nobody in the hall is startled.
    """
    showing = (
        state.state != CounterState.closed
        and bool(state.ticket)
        and (state.ticket_state is None or state.ticket_state in SHOWN_TICKET_STATES)
    )
    text = frames.clean_arg(state.ticket or "", frames.SHOW_MAX) if showing else ""
    board = BoardState(text=text, ticket_id=state.ticket_id if showing else None,
                       recalls=state.recalls if showing else 0)
    if prev is None:
        return BoardStep(board, changed=True, blink=False, beep=False)
    new_call = bool(text) and board.ticket_id != prev.ticket_id
    recall = bool(text) and board.ticket_id == prev.ticket_id and board.recalls > prev.recalls
    changed = new_call or recall or board.text != prev.text
    return BoardStep(board, changed=changed, blink=new_call or recall, beep=recall)


class Bridge:
    """One bridge process: ``start()``, then ``stop()``; the constructor does nothing."""

    def __init__(self, config: BridgeConfig, exit_after_down_s: float | None = None) -> None:
        self.config = config
        self.topics = config.topics
        self.device_id = config.device_id
        self.exit_after_down_s = exit_after_down_s
        self.errors: Counter = Counter()  # bridge-level: unmapped keys, timeouts, bad payloads
        self.counts: Counter = Counter()  # keys, ratings, acks, naks, shows
        self.lines = [
            SerialLine(p, config.timing, on_frame=self._on_frame, on_device=self._on_device,
                       on_port=self._on_port)
            for p in config.ports
        ]
        self.boards: dict[str, BoardState] = {}
        self.pending: dict[str, Pending] = {}
        self.exit_code: int | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._status_dirty = threading.Event()
        self.link: DeviceLink | None = None
        self._status_thread: threading.Thread | None = None
        self._last_status: str | None = None
        self._last_status_at = 0.0

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._stop.clear()
        subs = [self.topics.reply(self.device_id)] + [self.topics.counter_state(c) for c in self.config.counters]
        self.link = DeviceLink(self.config, subs, on_message=self._on_message, on_link=self._on_link)
        logger.info("bridge %s: broker %s:%d, counters %s, %d port(s)", self.device_id, self.link.host,
                    self.link.port, ",".join(self.config.counters), len(self.lines))
        self.link.start()
        for line in self.lines:
            line.start()
        self._status_thread = threading.Thread(target=self._housekeeping, name="bridge status", daemon=True)
        self._status_thread.start()

    def stop(self) -> None:
        """Clean stop: close ports, publish the last status and ``offline``.

        Boards keep their number; the reference firmware shows ``----`` by itself
        when nobody has polled it for 30 s.
        """
        self._stop.set()
        for line in self.lines:
            line.stop()
        if self._status_thread:
            self._status_thread.join(3)
        if self.link is not None:
            if self.link.connected.is_set():
                self._publish_status(force=True)
            self.link.stop()

    def wait(self) -> int:
        """Block until stopped (or all ports lost too long); the process exit status."""
        while not self._stop.wait(0.5):
            pass
        return self.exit_code or 0

    def request_stop(self, code: int = 0) -> None:
        self.exit_code = code
        self._stop.set()

    # ------------------------------------------------------------------ MQTT

    @property
    def mqtt_connected(self) -> bool:
        return bool(self.link and self.link.connected.is_set())

    @property
    def server_online(self) -> bool | None:
        """What the server's retained availability said; None before it was heard."""
        return self.link.server_online if self.link else None

    def _on_link(self, up: bool) -> None:
        self._status_dirty.set()

    def _on_message(self, topic: str, payload: bytes, _retained: bool) -> None:
        try:
            kind, ident = self.topics.parse(topic)
        except TopicError:
            self.errors["bad_topic"] += 1
            return
        try:
            if kind == "counter_state" and ident:
                if payload:
                    self._on_counter_state(CounterStatePayload.model_validate_json(payload))
            elif kind == "reply":
                self._on_reply(Reply.model_validate_json(payload))
        except (ValidationError, ValueError) as exc:
            self.errors["bad_payload"] += 1
            logger.warning("ignored a bad payload on %s: %s", topic, exc)
        except Exception:  # counted here; the link also keeps paho's network thread alive
            self.errors["handler_failed"] += 1
            logger.exception("failed to handle %s", topic)

    def _publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        return self.link is not None and self.link.publish(topic, payload, retain=retain)

    # ------------------------------------------------------------------ devices -> server

    def _on_frame(self, line: SerialLine, dev: Device, frame: Frame) -> None:
        if frame.verb == frames.HELLO:
            self._status_dirty.set()
            return
        if frame.verb not in (frames.KEY, frames.RATE):
            return
        if not dev.configured or dev.counter_id is None:
            self.errors["unmapped_device"] += 1
            logger.warning("%s from address %s on %s ignored: not in the port map", frame.verb,
                           dev.address, line.url)
            line.send(dev.address, frames.NAK, "UNMAPPED")
            return
        expected = "keypad" if frame.verb == frames.KEY else "feedback"
        if dev.kind != expected:
            self.errors["wrong_kind"] += 1
            line.send(dev.address, frames.NAK, "WRONG_KIND")
            return
        verb = frame.args[0] if frame.verb == frames.KEY else frames.RATE
        if not self.mqtt_connected:
            self.counts["nak"] += 1
            line.send(dev.address, frames.NAK, "OFFLINE")
            return
        if self.server_online is False:
            self.counts["nak"] += 1
            line.send(dev.address, frames.NAK, "NO_SERVER")
            return
        with self._lock:
            busy = any(p.line is line and p.address == dev.address for p in self.pending.values())
        if busy:
            # One request in flight per device: a bounced or double-tapped NEXT must not skip a citizen.
            self.counts["nak"] += 1
            self.errors["busy"] += 1
            line.send(dev.address, frames.NAK, "BUSY")
            return
        request_id = f"{self.device_id[:24]}-{uuid.uuid4().hex[:16]}"
        if frame.verb == frames.KEY:
            self.counts["keys"] += 1
            topic = self.topics.cmd_counter(dev.counter_id)
            payload = CounterCommand(action=KEY_ACTIONS[verb], request_id=request_id,
                                     device_id=self.device_id).to_bytes()
        else:
            self.counts["ratings"] += 1
            topic = self.topics.cmd_feedback(dev.counter_id)
            # The unit says which button (1 = the very happy face); the server hears the one scale.
            payload = FeedbackCommand(counter_id=dev.counter_id, rating=FEEDBACK_BUTTONS[int(frame.args[0])],
                                      request_id=request_id, device_id=self.device_id).to_bytes()
        now = time.monotonic()
        with self._lock:
            self.pending[request_id] = Pending(line, dev.address, verb, now + self.config.timing.reply_timeout_s, now)
        if not self._publish(topic, payload):
            with self._lock:
                self.pending.pop(request_id, None)
            self.counts["nak"] += 1
            line.send(dev.address, frames.NAK, "OFFLINE")
            return
        logger.info("%s %s from address %s -> %s", frame.verb, frame.args[0], dev.address, topic)

    def _on_reply(self, reply: Reply) -> None:
        with self._lock:
            pending = self.pending.pop(reply.request_id, None)
        if pending is None:
            return  # an answer to an earlier bridge run, or already timed out
        if reply.status == "ok":
            self.counts["ack"] += 1
            pending.line.send(pending.address, frames.ACK, pending.verb)
        else:
            self.counts["nak"] += 1
            code = (reply.data or {}).get("code")  # the server's machine code, e.g. nothing_waiting
            reason = nak_reason(code if isinstance(code, str) and code else reply.error)
            logger.info("server refused %s from address %s: %s", pending.verb, pending.address, reply.error)
            pending.line.send(pending.address, frames.NAK, reason)

    def _expire_pending(self, now: float) -> None:
        with self._lock:
            expired = [(rid, p) for rid, p in self.pending.items() if p.deadline <= now]
            for rid, _ in expired:
                del self.pending[rid]
        for _, p in expired:
            self.errors["reply_timeout"] += 1
            self.counts["nak"] += 1
            logger.warning("no reply from the server for %s (address %s)", p.verb, p.address)
            p.line.send(p.address, frames.NAK, "TIMEOUT")

    # ------------------------------------------------------------------ server -> LED boards

    def _on_counter_state(self, state: CounterStatePayload) -> None:
        with self._lock:
            prev = self.boards.get(state.counter_id)
            step = board_step(prev, state)
            self.boards[state.counter_id] = step.board
        if not step.changed:
            return
        for line, dev in self._leds(state.counter_id):
            if dev.online:  # an offline board is brought up to date when it answers again
                self._drive(line, dev, step.board, blink=step.blink, beep=step.beep)

    def _leds(self, counter_id: str) -> list[tuple[SerialLine, Device]]:
        return [(line, dev) for line in self.lines for dev in list(line.devices.values())
                if dev.configured and dev.kind == "led" and dev.counter_id == counter_id]

    def _drive(self, line: SerialLine, dev: Device, board: BoardState, blink: bool = False,
               beep: bool = False) -> None:
        line.send(dev.address, frames.SHOW, board.text)
        self.counts["shows"] += 1
        if blink and self.config.timing.blink_s:
            line.send(dev.address, frames.BLINK, self.config.timing.blink_s)
        if beep:
            line.send(dev.address, frames.BEEP)

    def _on_device(self, line: SerialLine, dev: Device) -> None:
        self._status_dirty.set()
        if dev.online and dev.configured and dev.kind == "led" and dev.counter_id:
            # A board that (re)appears shows what the retained state says, without a blink.
            with self._lock:
                board = self.boards.get(dev.counter_id)
            if board is not None:
                self._drive(line, dev, board)

    def _on_port(self, line: SerialLine) -> None:
        logger.info("port %s is %s", line.url, line.state)
        self._status_dirty.set()

    # ------------------------------------------------------------------ status

    def status(self) -> BridgeStatusPayload:
        ports = [line.snapshot() for line in self.lines]
        devices = [d for p in ports for d in p["devices"]]
        configured = [d for d in devices if d["configured"]]
        online = sum(1 for d in configured if d["online"])
        unknown = [{"port": p["url"], **d} for p in ports for d in p.pop("unknown")][:UNKNOWN_REPORTED]
        unknown_count = sum(p["unknown_count"] for p in ports)  # the first few in full; all counted
        frame_errors: Counter = Counter()
        port_errors: Counter = Counter()
        for p in ports:
            for reason, n in p["errors"].items():
                (port_errors if reason in PORT_ERRORS else frame_errors)[reason] += n
        open_ports = sum(1 for p in ports if p["state"] == PortState.open)
        detail = f"{open_ports}/{len(ports)} ports open, {online}/{len(configured)} devices online"
        detail_sw = f"milango {open_ports}/{len(ports)} iko wazi, vifaa {online}/{len(configured)} viko hewani"
        if unknown_count:
            detail += f", {unknown_count} unknown device(s)"
            detail_sw += f", vifaa {unknown_count} visivyojulikana"
        return BridgeStatusPayload(
            device_id=self.device_id,
            kind="bridge",
            detail=detail,
            detail_sw=detail_sw,
            updated_at=datetime.now(UTC),
            counters=list(self.config.counters),
            mqtt="connected" if self.mqtt_connected else "disconnected",
            ports=ports,
            devices_online=online,
            devices_total=len(configured),
            unknown_devices=unknown,
            unknown_count=unknown_count,
            frame_errors=dict(sorted(frame_errors.items())),
            port_errors=dict(sorted(port_errors.items())),
            errors=dict(sorted(self.errors.items())),
            counts=dict(sorted(self.counts.items())),
        )

    def status_bytes(self, status: BridgeStatusPayload) -> bytes:
        """The status as published: unknown devices are listed only as far as the size budget allows.

        The server drops any device message over 4 KB; whatever strangers say on the line, the
        bridge's own health must still get through (``unknown_count`` keeps the full tally).
        """
        data = status.to_bytes()
        while len(data) > STATUS_MAX_BYTES and status.unknown_devices:
            status.unknown_devices = status.unknown_devices[:-1]
            data = status.to_bytes()
        if len(data) > STATUS_MAX_BYTES:
            self.errors["status_oversized"] += 1
            logger.warning("status is %d bytes even without unknown devices: too many devices on one bridge?",
                           len(data))
        return data

    def _publish_status(self, force: bool = False) -> None:
        status = self.status()
        body = status.model_dump(mode="json", exclude={"updated_at"})
        for port in body["ports"]:  # polling moves these every second; not worth a publish alone
            port.pop("frames_in", None)
            port.pop("frames_out", None)
        key = json.dumps(body, sort_keys=True)
        now = time.monotonic()
        if not force and key == self._last_status and now - self._last_status_at < self.config.timing.status_interval_s:
            return
        if self._publish(self.topics.device_status(self.device_id), self.status_bytes(status), retain=True):
            self._last_status, self._last_status_at = key, now

    def _housekeeping(self) -> None:
        """Every half second: expire unanswered keys, publish status when it changed."""
        while not self._stop.wait(0.5):
            now = time.monotonic()
            try:
                self._expire_pending(now)
                if self._status_dirty.is_set() or now - self._last_status_at >= 1.0:
                    self._status_dirty.clear()
                    self._publish_status()
                self._check_ports(now)
            except Exception:
                self.errors["handler_failed"] += 1
                logger.exception("bridge housekeeping failed")

    def _check_ports(self, now: float) -> None:
        if not self.exit_after_down_s or not self.lines:
            return
        if all(line.state != PortState.open and line.down_for >= self.exit_after_down_s for line in self.lines):
            logger.error("every serial port has been down for %.0fs: exiting for the supervisor to restart us",
                         self.exit_after_down_s)
            self.request_stop(EXIT_PORTS_LOST)
