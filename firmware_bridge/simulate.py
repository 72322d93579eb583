"""A stand-in for counter hardware: keypads, LED boards and feedback units on a pty.

``huduma-bridge simulate --devices keypad:1,led:2,feedback:3`` opens a pseudo
terminal (or listens on TCP for a ``socket://`` port) and behaves like the
firmware in ``firmware/``: it says HELLO, answers PING with PONG and IDENT with
HELLO, prints what each LED board shows, and turns key presses in the terminal
into KEY and RATE frames. Tests drive the same class from Python.
"""

from __future__ import annotations

import errno
import logging
import os
import pty
import select
import socket
import sys
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from centre_server.contract import FEEDBACK_BUTTONS
from firmware_bridge import frames
from firmware_bridge.frames import Frame, FrameReader

logger = logging.getLogger(__name__)

FIRMWARE = "sim-1.0"

# Terminal keys -> keypad keys, as printed in the help line.
KEYMAP = {"n": "NEXT", "r": "RECALL", "x": "NOSHOW", "d": "DONE", "p": "PAUSE", "u": "RESUME"}

def _buttons(lang: str) -> str:
    """The feedback unit's buttons and what each means on the centre's one satisfaction scale."""
    return "   ".join(f"{b} {s.feeling(lang)}" for b, s in FEEDBACK_BUTTONS.items())


HELP = {
    "en": "keys:   n NEXT   r RECALL   x NO-SHOW   d DONE   p PAUSE   u RESUME   TAB next keypad   q quit\n"
          f"        feedback buttons: {_buttons('en')}",
    "sw": "vitufe: n ANAYEFUATA   r ITA TENA   x HAKUFIKA   d IMEKAMILIKA   p SIMAMISHA   u ENDELEA\n"
          "        TAB kipadi kinachofuata   q ondoka\n"
          f"        vitufe vya maoni: {_buttons('sw')}",
}


# What the simulator prints, in both languages of the centre (``simulate --lang sw``).
MESSAGES = {
    "en": {
        "show": "LED {addr}: [ {text:>6} ]",
        "blank": "LED {addr}: [  blank ]",
        "blink": "LED {addr}: blinking {s}s",
        "beep": "LED {addr}: BEEP",
        "answer": "{kind} {addr}: {verb} {args}",
        "connected": "bridge connected",
        "active": "keypad {addr} active",
        "rate": "> RATE {button} (feedback {addr}): {feeling} = {value} {label}",
        "keypad": "keypad", "feedback": "feedback", "led": "LED",
    },
    "sw": {
        "show": "Ubao {addr}: [ {text:>6} ]",
        "blank": "Ubao {addr}: [   tupu ]",
        "blink": "Ubao {addr}: unamulika sekunde {s}",
        "beep": "Ubao {addr}: MLIO",
        "answer": "{kind} {addr}: {verb} {args}",
        "connected": "daraja limeunganishwa",
        "active": "kipadi {addr} kinatumika",
        "rate": "> TATHMINI {button} (kitufe cha maoni {addr}): {feeling} = {value} {label}",
        "keypad": "kipadi", "feedback": "kitufe cha maoni", "led": "ubao",
    },
}


class SimulatorError(RuntimeError):
    """The simulator cannot start as asked (bad --devices, busy TCP port, ...)."""


@dataclass
class SimDevice:
    """One simulated device and what it currently shows."""

    kind: str
    address: int
    serial_no: str = ""
    shown: str = ""  # LED board: the ticket number on it
    blinks: int = 0
    beeps: int = 0
    acks: list[str] = field(default_factory=list)  # keypad: "ACK,NEXT" / "NAK,EMPTY" as received

    def __post_init__(self) -> None:
        self.serial_no = self.serial_no or f"SIM-{self.kind.upper()}-{self.address:03d}"


def parse_devices(spec: str) -> list[SimDevice]:
    """``keypad:1,led:2,feedback:3`` -> devices; a clear error for anything else."""
    devices: list[SimDevice] = []
    seen: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, addr = part.partition(":")
        if kind not in frames.DEVICE_KINDS or not addr.isdigit():
            raise SimulatorError(f"bad device {part!r}: write kind:address, kind one of "
                                 f"{', '.join(frames.DEVICE_KINDS)}, e.g. keypad:1")
        address = int(addr)
        if not 1 <= address <= frames.MAX_ADDRESS or address in seen:
            raise SimulatorError(f"bad or repeated address in {part!r} (1..{frames.MAX_ADDRESS}, once each)")
        seen.add(address)
        devices.append(SimDevice(kind, address))
    if not devices:
        raise SimulatorError("no devices given: e.g. --devices keypad:1,led:2,feedback:3")
    return devices


class Simulator:
    """Simulated devices sharing one line: a pty (optionally symlinked) or a TCP socket.

    ``link`` is ``None`` (a pty, path printed), a filesystem path (a pty whose path
    is kept as a symlink there, so a bridge config can name a fixed path across
    unplug/replug), or ``socket://HOST:PORT`` (listen; the bridge connects with
    the same URL).
    """

    def __init__(self, devices: list[SimDevice], link: str | None = None,
                 on_event: Callable[[str], None] | None = None, lang: str = "en") -> None:
        self.devices = {d.address: d for d in devices}
        self.msg = MESSAGES.get(lang, MESSAGES["en"])
        self.link = link
        self.on_event = on_event or (lambda text: None)
        self.received: list[Frame] = []
        self.reader = FrameReader()
        self.path: str | None = None  # the pty's /dev/pts/N
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tcp = bool(link and link.startswith("socket://"))

    # ------------------------------------------------------------------ plug

    def start(self) -> Simulator:
        self._stop.clear()
        self.plug()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()
        return self

    def plug(self) -> None:
        """Power the devices up on a new line (a new pty at the same link)."""
        if self._tcp:
            u = urlparse(self.link or "")
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((u.hostname or "127.0.0.1", u.port or 7000))
            except OSError as exc:
                sock.close()
                raise SimulatorError(f"cannot listen on {self.link}: {exc}") from None
            sock.listen(1)
            sock.settimeout(0.1)
            self._listener = sock
            return
        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass as on a UART
        tty.setraw(master)
        # Keep our own slave descriptor open so the master never sees EIO between bridge opens.
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self.link:
            link = Path(self.link)
            tmp = link.with_name(link.name + f".{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.path)
            os.replace(tmp, link)
        for dev in self.devices.values():
            self._hello(dev)

    def unplug(self) -> None:
        """Pull the cable: the bridge's port fails; the link path points nowhere."""
        with self._write_lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None
            for s in (self._conn, self._listener):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            self._conn = self._listener = None
        self.reader.reset()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        self.unplug()
        if self.link and not self._tcp:
            link = Path(self.link)
            if link.is_symlink() and os.readlink(link) == self.path:
                link.unlink()

    # ------------------------------------------------------------------ device side

    def press(self, key: str, address: int | None = None) -> None:
        """A clerk presses a key on a keypad (the first one unless an address is given)."""
        dev = self._device("keypad", address)
        self.send_raw(frames.make(dev.address, frames.KEY, key))

    def rate(self, button: int, address: int | None = None) -> None:
        """A citizen presses feedback button 1..4 (1 = very happy: ``contract.FEEDBACK_BUTTONS``)."""
        dev = self._device("feedback", address)
        self.send_raw(frames.make(dev.address, frames.RATE, button))

    def send_raw(self, data: bytes) -> None:
        """Bytes onto the line as they are (frames, or noise for tests)."""
        with self._write_lock:
            if self._master is not None:
                view = memoryview(data)
                while view:
                    try:
                        n = os.write(self._master, view)
                    except BlockingIOError:
                        time.sleep(0.001)
                        continue
                    except OSError as exc:
                        logger.debug("pty write failed: %s", exc)
                        return
                    view = view[n:]
            elif self._conn is not None:
                try:
                    self._conn.sendall(data)
                except OSError as exc:
                    logger.debug("socket write failed: %s", exc)

    def led(self, address: int | None = None) -> SimDevice:
        return self._device("led", address)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until something the bridge sent makes ``predicate`` true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def frames_to(self, address: int, verb: str | None = None) -> list[Frame]:
        with self._cond:
            return [f for f in self.received if f.address == address and (verb is None or f.verb == verb)]

    def _device(self, kind: str, address: int | None) -> SimDevice:
        for dev in self.devices.values():
            if dev.kind == kind and (address is None or dev.address == address):
                return dev
        raise SimulatorError(f"no simulated {kind}" + (f" at address {address}" if address else ""))

    def _hello(self, dev: SimDevice) -> None:
        self.send_raw(frames.make(dev.address, frames.HELLO, dev.kind, FIRMWARE, dev.serial_no))

    # ------------------------------------------------------------------ the line

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._tcp:
                self._run_tcp_once()
                continue
            fd = self._master
            if fd is None:
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(fd, 4096)
            except OSError as exc:  # closed under us by unplug(), or the bridge hung up
                if exc.errno not in (errno.EIO, errno.EBADF):
                    logger.debug("pty read: %s", exc)
                self._stop.wait(0.05)
                continue
            except ValueError:  # fd closed between the check and select
                continue
            self._feed(data)

    def _run_tcp_once(self) -> None:
        listener = self._listener
        if listener is None:
            self._stop.wait(0.05)
            return
        try:
            conn, _ = listener.accept()
        except (TimeoutError, OSError):
            return
        conn.settimeout(0.1)
        self._conn = conn
        self.on_event(self.msg["connected"])
        for dev in self.devices.values():
            self._hello(dev)
        while not self._stop.is_set() and self._conn is conn:
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            self._feed(data)
        if self._conn is conn:
            self._conn = None
        try:
            conn.close()
        except OSError:
            pass

    def _feed(self, data: bytes) -> None:
        for frame in self.reader.feed(data):
            self._answer(frame)

    def _answer(self, frame: Frame) -> None:
        targets = list(self.devices.values()) if frame.address == frames.BROADCAST else (
            [self.devices[frame.address]] if frame.address in self.devices else [])
        for dev in targets:
            if frame.verb == frames.PING:
                self.send_raw(frames.make(dev.address, frames.PONG))
            elif frame.verb == frames.IDENT:
                self._hello(dev)
            elif frame.verb == frames.SHOW and dev.kind == "led":
                dev.shown = frame.arg(0)
                self.on_event(self.msg["show" if dev.shown else "blank"].format(addr=dev.address, text=dev.shown))
            elif frame.verb == frames.BLINK and dev.kind == "led":
                dev.blinks += 1
                self.on_event(self.msg["blink"].format(addr=dev.address, s=frame.arg(0)))
            elif frame.verb == frames.BEEP:
                dev.beeps += 1
                self.on_event(self.msg["beep"].format(addr=dev.address) + "\a")
            elif frame.verb in (frames.ACK, frames.NAK):
                dev.acks.append(",".join((frame.verb, *frame.args)))
                self.on_event(self.msg["answer"].format(kind=self.msg[dev.kind], addr=dev.address, verb=frame.verb,
                                                        args=" ".join(frame.args)))
        with self._cond:
            self.received.append(frame)
            self._cond.notify_all()


# ---------------------------------------------------------------------- terminal


def run_interactive(sim: Simulator, lang: str = "en", port_file: Path | None = None) -> None:
    """Let a person press keys; prints what the LED boards show. Returns on q or Ctrl-C."""
    keypads = [d for d in sim.devices.values() if d.kind == "keypad"]
    feedbacks = [d for d in sim.devices.values() if d.kind == "feedback"]
    active = 0

    print(HELP["en"])
    print(HELP["sw"])
    if keypads:
        print(sim.msg["active"].format(addr=keypads[0].address))
    interactive = sys.stdin.isatty()
    old = None
    if interactive:
        import termios

        old = termios.tcgetattr(sys.stdin.fileno())
        tty.setcbreak(sys.stdin.fileno())
    try:
        while True:
            if not interactive:
                time.sleep(3600)
                continue
            ch = sys.stdin.read(1)
            if ch in ("q", "\x04", ""):
                return
            if ch == "\t" and keypads:
                active = (active + 1) % len(keypads)
                print(sim.msg["active"].format(addr=keypads[active].address))
            elif ch in KEYMAP and keypads:
                print(f"> KEY {KEYMAP[ch]} (keypad {keypads[active].address})")
                sim.press(KEYMAP[ch], keypads[active].address)
            elif ch.isdigit() and int(ch) in FEEDBACK_BUTTONS and feedbacks:
                unit = feedbacks[min(active, len(feedbacks) - 1)]
                score = FEEDBACK_BUTTONS[int(ch)]
                print(sim.msg["rate"].format(button=ch, addr=unit.address, feeling=score.feeling(lang),
                                             value=score.value, label=score.label(lang)))
                sim.rate(int(ch), unit.address)
    except KeyboardInterrupt:
        return
    finally:
        if old is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, old)
