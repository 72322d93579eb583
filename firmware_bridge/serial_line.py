"""One serial line and the devices on it: open, read, poll, and survive unplugging.

Each line has one thread that owns the port: it opens it with
``serial.serial_for_url`` (so ``/dev/ttyUSB0``, ``rfc2217://``, ``socket://`` and
``loop://`` all work), reads frames, polls every known device with ``PING`` in
turn (one at a time, so answers never collide on a shared RS-485 pair), and when
the port fails it closes it, marks its devices offline and tries again with
backoff until the cable is back. Nothing a device sends can stop this thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import serial

from firmware_bridge import frames
from firmware_bridge.config import PortEntry, Timing
from firmware_bridge.frames import Frame, FrameReader

logger = logging.getLogger(__name__)

# Unknown addresses (not in the port map) are reported, never used; a line full of them
# (a miswired bus, or someone saying HELLO from every address) must not crowd out the real
# devices nor swell the status. Only the first few are kept and polled, one at a time.
UNKNOWN_KEEP = 16  # unknown addresses remembered per line (reported with their HELLO details)
UNKNOWN_TEXT_MAX = 24  # firmware and serial number of an unknown device, as reported
UNKNOWN_BACKOFF_CYCLES = 5  # an unknown address is polled at most once per this many poll cycles


# Counted in a line's ``errors`` next to the frame rejects, but about the port, not the bytes.
PORT_ERRORS = frozenset({"open_failed", "disconnects", "dropped_writes", "write_failed", "handler_failed",
                         "internal"})


class PortState(StrEnum):
    starting = "starting"
    open = "open"
    down = "down"  # failed or unplugged; being retried
    stopped = "stopped"


@dataclass
class Device:
    """What the bridge knows of one address on a line."""

    address: int
    kind: str | None  # from the port map, else from HELLO
    counter_id: str | None  # None: not in the port map, reported and never used
    configured: bool
    online: bool = False
    last_seen: float | None = None  # monotonic
    hello_kind: str | None = None
    firmware: str | None = None
    serial_no: str | None = None
    mismatch: bool = False  # said HELLO as a different kind than the map says

    def snapshot(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "counter_id": self.counter_id,
            "configured": self.configured,
            "online": self.online,
            "firmware": self.firmware,
            "serial_no": self.serial_no,
            "kind_mismatch": self.mismatch,
        }

    def brief(self) -> dict[str, Any]:
        """An unknown device in the status: what a technician needs to find it, short strings only."""
        return {
            "address": self.address,
            "kind": self.kind,
            "online": self.online,
            "firmware": (self.firmware or "")[:UNKNOWN_TEXT_MAX] or None,
            "serial_no": (self.serial_no or "")[:UNKNOWN_TEXT_MAX] or None,
        }


FrameHandler = Callable[["SerialLine", Device, Frame], None]
DeviceHandler = Callable[["SerialLine", Device], None]
PortHandler = Callable[["SerialLine"], None]


def _noop(*_: object) -> None:
    return None


@dataclass
class SerialLine:
    """One configured port; ``start()`` runs it in a thread, ``send()`` is thread-safe."""

    entry: PortEntry
    timing: Timing
    on_frame: FrameHandler = _noop  # KEY and RATE (and HELLO) from any device
    on_device: DeviceHandler = _noop  # a device went online or offline
    on_port: PortHandler = _noop  # the port opened or went down
    state: PortState = PortState.starting
    last_error: str | None = None
    errors: Counter = field(default_factory=Counter)
    frames_in: int = 0
    frames_out: int = 0
    opened_count: int = 0
    devices: dict[int, Device] = field(default_factory=dict)
    unknown_seen: set[int] = field(default_factory=set)  # every unknown address heard (at most 247)

    def __post_init__(self) -> None:
        self.reader = FrameReader(errors=self.errors)
        for d in self.entry.devices:
            self.devices[d.address] = Device(d.address, d.kind, d.counter_id, configured=True)
        self._port: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._lock = threading.RLock()  # guards devices and counters against the status reader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = time.monotonic()
        self._poll_order: list[int] = []
        self._poll_index = 0
        self._next_poll = 0.0
        self._next_ident = 0.0
        self._unknown_index = 0
        self._unknown_due: dict[int, float] = {}  # address -> when it may be polled again

    @property
    def url(self) -> str:
        return self.entry.url

    @property
    def down_for(self) -> float:
        """Seconds since the port last worked (0 while open)."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"serial {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        port = self._port
        if port is not None:
            try:
                port.cancel_read()
            except Exception:  # not every backend can cancel; the read timeout ends it anyway
                pass
        if self._thread is not None:
            self._thread.join(5)
        self.state = PortState.stopped

    # ------------------------------------------------------------------ sending

    def send(self, address: int, verb: str, *args: object) -> bool:
        """Write one frame; False (and counted) when the port is down."""
        try:
            data = frames.make(address, verb, *args)
        except ValueError as exc:
            logger.error("refusing to send %s to %s on %s: %s", verb, address, self.url, exc)
            return False
        with self._write_lock:
            port = self._port
            if port is None:
                self.errors["dropped_writes"] += 1
                return False
            try:
                port.write(data)
                self.frames_out += 1
                return True
            except (serial.SerialException, OSError, ValueError) as exc:
                self.errors["write_failed"] += 1
                logger.debug("write to %s failed: %s", self.url, exc)
                return False

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        backoff = self.timing.reopen_min_s
        warned = False
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.url, baudrate=self.entry.baudrate, timeout=0.05,
                                             write_timeout=2)
            except Exception as exc:  # SerialException, OSError, ValueError (bad URL), socket errors...
                self.last_error = str(exc)
                self.errors["open_failed"] += 1
                self._set_state(PortState.down)
                if not warned:
                    logger.warning("cannot open %s (%s); retrying with backoff", self.url, exc)
                    warned = True
                else:
                    logger.debug("still cannot open %s: %s", self.url, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.timing.reopen_max_s)
                continue
            warned = False
            backoff = self.timing.reopen_min_s
            with self._write_lock:
                self._port = port
            self.opened_count += 1
            self._down_since = None
            self.last_error = None
            logger.info("opened %s at %d baud", self.url, self.entry.baudrate)
            self._set_state(PortState.open)
            self._next_ident = 0.0
            self._next_poll = 0.0
            try:
                self._serve(port)
            except (serial.SerialException, OSError, ValueError, TypeError) as exc:
                # pyserial raises TypeError from some backends when the port vanishes mid-read
                self.last_error = str(exc)
                self.errors["disconnects"] += 1
                logger.warning("lost %s: %s; will reopen when it is back", self.url, exc)
            except Exception as exc:  # a bug must cost one reopen, never the port for good
                self.last_error = f"internal error: {exc}"
                self.errors["internal"] += 1
                logger.exception("unexpected failure on %s; reopening", self.url)
            finally:
                with self._write_lock:
                    self._port = None
                try:
                    port.close()
                except Exception:  # closing a vanished port may fail; it is gone either way
                    pass
                self.reader.reset()
                self._down_since = time.monotonic()
                self._all_offline()
                if not self._stop.is_set():
                    self._set_state(PortState.down)
                    self._stop.wait(self.timing.reopen_min_s)

    def _serve(self, port: serial.Serial) -> None:
        while not self._stop.is_set():
            waiting = port.in_waiting
            data = port.read(min(max(waiting, 1), 4096))
            if data:
                for frame in self.reader.feed(data):
                    self._handle(frame)
            self._tick(time.monotonic())

    def _tick(self, now: float) -> None:
        if now >= self._next_ident:
            self.send(frames.BROADCAST, frames.IDENT)
            self._next_ident = now + self.timing.ident_interval_s
        if now >= self._next_poll:
            # Only the port map sets the pace: each configured device is polled once per poll
            # interval, plus one slot a cycle for a kept unknown address (when one is due), however
            # many strangers talk on the line.
            with self._lock:
                order = sorted(a for a, d in self.devices.items() if d.configured)
                strangers = any(not d.configured for d in self.devices.values())
            slots = len(order) + (1 if strangers else 0)
            if slots:
                self._poll_index %= slots
                address = order[self._poll_index] if self._poll_index < len(order) else self._next_unknown(now)
                if address is not None:
                    self.send(address, frames.PING)
                self._poll_index += 1
                self._next_poll = now + self.timing.poll_interval_s / slots
            else:
                self._next_poll = now + self.timing.poll_interval_s
        changed: list[Device] = []
        with self._lock:
            for dev in self.devices.values():
                if dev.online and (dev.last_seen is None or now - dev.last_seen > self.timing.offline_after_s):
                    dev.online = False
                    changed.append(dev)
        for dev in changed:
            logger.log(logging.WARNING if dev.configured else logging.DEBUG,
                       "device %s (%s) on %s stopped answering", dev.address, dev.kind, self.url)
            self._safe(self.on_device, self, dev)

    def _next_unknown(self, now: float) -> int | None:
        """The next kept unknown address due for a poll, round-robin; None when none is due."""
        with self._lock:
            unknown = sorted(a for a, d in self.devices.items() if not d.configured)
        for i in range(len(unknown)):
            address = unknown[(self._unknown_index + i) % len(unknown)]
            if self._unknown_due.get(address, 0.0) <= now:
                self._unknown_index = (self._unknown_index + i + 1) % len(unknown)
                self._unknown_due[address] = now + self.timing.poll_interval_s * UNKNOWN_BACKOFF_CYCLES
                return address
        return None

    def _handle(self, frame: Frame) -> None:
        if frame.verb in frames.BRIDGE_VERBS:
            # Our own frames: a loop-back, or an RS-485 adapter that echoes what it sends.
            self.errors["echo"] += 1
            return
        reason = frames.validate(frame)
        if reason:
            self.errors[reason] += 1
            logger.debug("dropped %s from %s on %s: %s", frame.verb, frame.address, self.url, reason)
            return
        self.frames_in += 1
        came_online = False
        with self._lock:
            dev = self.devices.get(frame.address)
            if dev is None:
                first = frame.address not in self.unknown_seen
                self.unknown_seen.add(frame.address)
                kept = sum(1 for d in self.devices.values() if not d.configured)
                if kept >= UNKNOWN_KEEP:
                    # Counted, not kept: no poll, no answer, no status entry, one log line at the cap.
                    self.errors["unknown_dropped"] += 1
                    if first and len(self.unknown_seen) == UNKNOWN_KEEP + 1:
                        logger.warning("more than %d unknown addresses on %s: the rest are only counted",
                                       UNKNOWN_KEEP, self.url)
                    return
                dev = Device(frame.address, None, None, configured=False)
                self.devices[frame.address] = dev
                logger.warning("device at address %s on %s is not in the port map: reported, not used",
                               frame.address, self.url)
            dev.last_seen = time.monotonic()
            if not dev.online:
                dev.online = came_online = True
            if frame.verb == frames.HELLO:
                dev.hello_kind, dev.firmware, dev.serial_no = frame.args[0], frame.args[1], frame.args[2]
                if dev.kind is None:
                    dev.kind = dev.hello_kind
                dev.mismatch = dev.configured and dev.kind != dev.hello_kind
                if dev.mismatch:
                    logger.warning("address %s on %s says it is a %s but the map says %s",
                                   dev.address, self.url, dev.hello_kind, dev.kind)
        if came_online:
            logger.log(logging.INFO if dev.configured else logging.DEBUG, "device %s (%s) on %s is online",
                       dev.address, dev.kind, self.url)
            self._safe(self.on_device, self, dev)
        if frame.verb != frames.PONG:
            self._safe(self.on_frame, self, dev, frame)

    def _all_offline(self) -> None:
        changed = []
        with self._lock:
            for dev in self.devices.values():
                if dev.online:
                    dev.online = False
                    changed.append(dev)
        for dev in changed:
            self._safe(self.on_device, self, dev)

    def _set_state(self, state: PortState) -> None:
        if state != self.state:
            self.state = state
            self._safe(self.on_port, self)

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        """A bug in a handler is logged; it never takes the port's thread down."""
        try:
            fn(*args)
        except Exception:
            self.errors["handler_failed"] += 1
            logger.exception("handler %s failed on %s", getattr(fn, "__name__", fn), self.url)

    # ------------------------------------------------------------------ status

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "url": self.url,
                "state": str(self.state),
                "baudrate": self.entry.baudrate,
                "last_error": self.last_error,
                "opened": self.opened_count,
                "frames_in": self.frames_in,
                "frames_out": self.frames_out,
                "errors": dict(sorted(self.errors.items())),
                "devices": [d.snapshot() for _, d in sorted(self.devices.items()) if d.configured],
                "unknown": [d.brief() for _, d in sorted(self.devices.items()) if not d.configured],
                "unknown_count": len(self.unknown_seen),
            }
