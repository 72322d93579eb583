"""The serial frame codec (docs/design.md §6): pure, no I/O, never raises on bytes from a wire.

A frame is one ASCII line ``$<addr>,<verb>[,<arg>...]*<checksum>\\r\\n`` where the
checksum is the XOR of every byte between ``$`` and ``*``, written as two hex
digits. Counter hardware is cheap and cables are long, so the reader must
resynchronise on the next ``$`` after any noise, and every line it throws away is
counted by reason so a technician can see a bad cable in the bridge's status.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from centre_server.contract import FEEDBACK_BUTTONS

logger = logging.getLogger(__name__)

MAX_LINE = 128  # bytes from "$" to "\n" inclusive; longer lines are dropped as overlong
BROADCAST = 0  # address every device listens to (used only for IDENT)
MAX_ADDRESS = 247  # as on Modbus RS-485 lines: 1..247 are devices

# Verbs, device -> bridge
KEY = "KEY"
RATE = "RATE"
HELLO = "HELLO"
PONG = "PONG"
# Verbs, bridge -> device
SHOW = "SHOW"
BLINK = "BLINK"
BEEP = "BEEP"
PING = "PING"
ACK = "ACK"
NAK = "NAK"
IDENT = "IDENT"  # "send your HELLO again" (pyserial flushes input on open)

DEVICE_VERBS = frozenset({KEY, RATE, HELLO, PONG})
BRIDGE_VERBS = frozenset({SHOW, BLINK, BEEP, PING, ACK, NAK, IDENT})

KEYS = ("NEXT", "RECALL", "NOSHOW", "DONE", "PAUSE", "RESUME")
BUTTONS = tuple(str(b) for b in FEEDBACK_BUTTONS)  # a feedback unit's RATE argument: which button
# A SHOW carries the whole ticket number (prefix of one or two letters, three or more digits):
# never cut, or AR001 would read R001, another service's number.
SHOW_MAX = 12
DEVICE_KINDS = ("keypad", "led", "feedback")

_VERB_RE = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")
_ADDR_RE = re.compile(r"^[0-9]{1,3}$")
_FORBIDDEN_IN_ARG = frozenset("$*,\r\n")


class FrameError(ValueError):
    """A line that is not a valid frame; ``reason`` is the counter it is filed under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    """One decoded frame: who it is for or from, what it says, and its arguments."""

    address: int
    verb: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 255:
            raise ValueError(f"address out of range 0..255: {self.address}")
        if not _VERB_RE.match(self.verb):
            raise ValueError(f"verb must be upper-case letters and digits: {self.verb!r}")
        for arg in self.args:
            if not is_valid_arg(arg):
                raise ValueError(f"argument not allowed in a frame: {arg!r}")

    def arg(self, i: int, default: str = "") -> str:
        return self.args[i] if i < len(self.args) else default


def is_valid_arg(arg: str) -> bool:
    """Printable ASCII without the frame's own punctuation; may be empty (``SHOW,`` blanks)."""
    return all(" " <= ch <= "~" and ch not in _FORBIDDEN_IN_ARG for ch in arg)


def clean_arg(text: str, limit: int = 32) -> str:
    """Make any text safe as one argument: drop what a frame cannot carry, cap its length."""
    return "".join(ch for ch in text if " " <= ch <= "~" and ch not in _FORBIDDEN_IN_ARG)[:limit]


def checksum(body: bytes) -> int:
    """XOR of the bytes between ``$`` and ``*``."""
    value = 0
    for b in body:
        value ^= b
    return value


def encode(frame: Frame) -> bytes:
    """The bytes of one frame, checksum and CR LF included."""
    body = ",".join((str(frame.address), frame.verb, *frame.args)).encode("ascii")
    line = b"$" + body + b"*" + f"{checksum(body):02X}".encode("ascii") + b"\r\n"
    if len(line) > MAX_LINE:
        raise ValueError(f"frame longer than {MAX_LINE} bytes: {line!r}")
    return line


def make(address: int, verb: str, *args: object) -> bytes:
    """Shorthand: ``make(2, "SHOW", "B042")`` -> ``b"$2,SHOW,B042*..\\r\\n"``."""
    return encode(Frame(address, verb, tuple(str(a) for a in args)))


def parse(line: bytes) -> Frame:
    """Decode one line (with or without CR LF); raises FrameError with a reason."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    if len(line) + 2 > MAX_LINE:
        raise FrameError("overlong", f"line longer than {MAX_LINE} bytes")
    if not line.startswith(b"$"):
        raise FrameError("malformed", "a frame starts with $")
    if any(b < 0x20 or b > 0x7E for b in line):
        raise FrameError("non_ascii", "control or non-ASCII byte in a frame")
    star = line.rfind(b"*")
    if star < 0 or star != len(line) - 3:
        raise FrameError("malformed", "a frame ends with * and two hex digits")
    body, given = line[1:star], line[star + 1:]
    if not all(c in b"0123456789abcdefABCDEF" for c in given):
        raise FrameError("malformed", f"checksum is not hex: {given!r}")
    expected = int(given.decode("ascii"), 16)
    if checksum(body) != expected:
        raise FrameError("bad_checksum", f"checksum {given.decode()} does not match {checksum(body):02X}")
    text = body.decode("ascii")
    if "$" in text or "*" in text:
        raise FrameError("malformed", "$ or * inside a frame")
    fields = text.split(",")
    if len(fields) < 2:
        raise FrameError("malformed", "a frame needs an address and a verb")
    addr, verb, *args = fields
    if not _ADDR_RE.match(addr) or int(addr) > 255:
        raise FrameError("malformed", f"bad address {addr!r}")
    if not _VERB_RE.match(verb):
        raise FrameError("malformed", f"bad verb {verb!r}")
    return Frame(int(addr), verb, tuple(args))


def validate(frame: Frame) -> str | None:
    """Check a device's frame against the protocol; None when fine, else a reason.

    Only device -> bridge verbs are accepted here: the bridge never listens to its own.
    """
    if frame.address in (BROADCAST,) or frame.address > MAX_ADDRESS:
        return "bad_address"
    match frame.verb:
        case "KEY":
            return None if len(frame.args) == 1 and frame.args[0] in KEYS else "bad_args"
        case "RATE":
            return None if len(frame.args) == 1 and frame.args[0] in BUTTONS else "bad_args"
        case "HELLO":
            ok = len(frame.args) >= 3 and frame.args[0] in DEVICE_KINDS
            return None if ok else "bad_args"
        case "PONG":
            return None
    return "unknown_verb"


@dataclass
class FrameReader:
    """Splits a byte stream into frames, resynchronising on ``$`` after any noise.

    Feed it whatever the port returns; it keeps partial lines between calls.
    Rejects are counted in ``errors`` by reason: ``garbage`` (bytes outside any
    frame, counted per run), ``truncated`` (a new ``$`` before the line ended),
    ``overlong``, ``bad_checksum``, ``malformed``, ``non_ascii``.
    """

    max_line: int = MAX_LINE
    errors: Counter = field(default_factory=Counter)
    frames: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _in_frame: bool = False
    _skipping: bool = False  # inside an overlong line: drop until "\n" or "$"
    _in_garbage: bool = False

    def feed(self, data: bytes) -> list[Frame]:
        out: list[Frame] = []
        for b in data:
            if b == 0x24:  # "$": always a new frame
                if self._in_frame and self._buf:
                    self._reject("truncated")
                self._buf = bytearray(b"$")
                self._in_frame, self._skipping, self._in_garbage = True, False, False
                continue
            if self._skipping:
                if b == 0x0A:
                    self._skipping = False
                continue
            if not self._in_frame:
                if b == 0x0A:  # a line ends: a later run of junk is counted anew
                    self._in_garbage = False
                    continue
                if b in (0x0D, 0x00, 0x20):  # idle-line noise between frames is harmless
                    continue
                if not self._in_garbage:
                    self._reject("garbage")
                    self._in_garbage = True
                continue
            self._buf.append(b)
            if b == 0x0A:
                self._finish(out)
            elif len(self._buf) >= self.max_line:
                self._reject("overlong")
                self._buf = bytearray()
                self._in_frame, self._skipping = False, True
        return out

    def reset(self) -> None:
        """The port closed: whatever was half-read is a truncated frame."""
        if self._in_frame and self._buf:
            self._reject("truncated")
        self._buf = bytearray()
        self._in_frame = self._skipping = self._in_garbage = False

    def _finish(self, out: list[Frame]) -> None:
        line = bytes(self._buf)
        self._buf = bytearray()
        self._in_frame = False
        try:
            out.append(parse(line))
            self.frames += 1
        except FrameError as exc:
            self._reject(exc.reason)
            logger.debug("dropped frame %r: %s", line[:40], exc)

    def _reject(self, reason: str) -> None:
        self.errors[reason] += 1
