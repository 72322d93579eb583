"""Huduma counter-device protocol for MicroPython (and CPython, where the tests run it).

The firmware's whole protocol logic lives here, free of any hardware import, so the
very code flashed onto a Pico is exercised by the bridge's tests on a pty. It
keeps to the subset of Python that MicroPython 1.20+ offers: no dataclasses, no
typing, no f-string formatting specs beyond the basics.

Frame: $<addr>,<verb>[,<arg>...]*<XOR checksum, 2 hex>\r\n (see firmware_bridge/README.md).
"""

MAX_LINE = 128
BROADCAST = 0
KEYS = ("NEXT", "RECALL", "NOSHOW", "DONE", "PAUSE", "RESUME")
IDENT_SLOT_MS = 15  # a broadcast IDENT is answered after address * slot, so answers never collide
LINK_LOST_MS = 30000  # an LED board not polled this long shows NO_LINK instead of a stale number
NO_LINK = "------"

# The LED board: a 6-digit 7-segment display (TM1637 drives six grids). A ticket number is
# one or two letters and at least three digits (A001, AR001, AR1000): up to six characters
# show whole, right-aligned; anything longer scrolls through the digits, never cut short.
DIGITS = 6
SCROLL_MS = 400  # one step of a scrolling number
SCROLL_GAP = 2  # blank digits between the end of a scrolling number and its start

# 7-segment patterns (bit 0 = segment a ... bit 6 = g). No two letters share a pattern and no
# two digits do, so two services' numbers never look alike; a letter may look like a digit
# (S/5, O/0, Z/2) because a number's letters always come before its digits.
FONT = {
    "0": 0x3F, "1": 0x06, "2": 0x5B, "3": 0x4F, "4": 0x66, "5": 0x6D, "6": 0x7D, "7": 0x07,
    "8": 0x7F, "9": 0x6F, "A": 0x77, "B": 0x7C, "C": 0x39, "D": 0x5E, "E": 0x79, "F": 0x71,
    "G": 0x3D, "H": 0x76, "I": 0x30, "J": 0x1E, "K": 0x75, "L": 0x38, "M": 0x37, "N": 0x54,
    "O": 0x3F, "P": 0x73, "Q": 0x67, "R": 0x50, "S": 0x6D, "T": 0x78, "U": 0x3E, "V": 0x1C,
    "W": 0x2A, "X": 0x49, "Y": 0x6E, "Z": 0x5B, "-": 0x40, " ": 0x00,
}

try:  # MicroPython: millisecond ticks wrap around, so they are compared with ticks_diff
    from time import ticks_add, ticks_diff
except ImportError:  # CPython (tests)
    def ticks_add(ticks, delta):
        return ticks + delta

    def ticks_diff(a, b):
        return a - b


def checksum(body):
    c = 0
    for b in body:
        c ^= b
    return c


def encode(address, verb, *args):
    parts = [str(address), verb]
    for a in args:
        parts.append(str(a))
    body = ",".join(parts).encode()
    return b"$" + body + b"*" + ("%02X" % checksum(body)).encode() + b"\r\n"


def parse(line):
    """One line (no CR LF) -> (address, verb, args) or None when it is not a good frame."""
    if len(line) < 6 or line[0] != 0x24 or line[-3] != 0x2A:
        return None
    for b in line:
        if b < 0x20 or b > 0x7E:
            return None
    body = line[1:-3]
    try:
        given = int(line[-2:].decode(), 16)
    except ValueError:
        return None
    if checksum(body) != given:
        return None
    fields = body.decode().split(",")
    if len(fields) < 2 or not fields[0].isdigit():
        return None
    return int(fields[0]), fields[1], fields[2:]


def display_text(text, digits=DIGITS, step=0):
    """The characters an LED board of ``digits`` digits shows for ``text`` at scroll ``step``.

    Up to ``digits`` characters: the whole text, right-aligned. Longer: a window sliding
    over the text and a short gap, one character per step, so every character is seen.
    """
    text = text.upper()
    if len(text) <= digits:
        return " " * (digits - len(text)) + text
    loop = text + " " * SCROLL_GAP
    start = step % len(loop)
    return (loop + loop)[start:start + digits]


def segments(text, digits=DIGITS, step=0):
    """The 7-segment patterns for ``display_text``; characters without a glyph stay dark."""
    return [FONT.get(ch, 0) for ch in display_text(text, digits, step)]


class LineReader:
    """Bytes in, whole lines out; a '$' always starts over, long lines are dropped."""

    def __init__(self):
        self.buf = bytearray()
        self.active = False
        self.dropped = 0

    def feed(self, data):
        lines = []
        for b in data:
            if b == 0x24:
                if self.active and len(self.buf) > 1:
                    self.dropped += 1
                self.buf = bytearray(b"$")
                self.active = True
            elif not self.active:
                continue
            elif b == 0x0A:
                line = bytes(self.buf)
                if line.endswith(b"\r"):
                    line = line[:-1]
                lines.append(line)
                self.buf = bytearray()
                self.active = False
            else:
                self.buf.append(b)
                if len(self.buf) >= MAX_LINE:
                    self.buf = bytearray()
                    self.active = False
                    self.dropped += 1
        return lines


class Device:
    """One keypad, LED board or feedback unit at one bus address.

    ``hw`` is the board: it must offer write(bytes), now_ms(), and the outputs this
    kind has: show(text) and blink(seconds) for an LED board, beep() for any device
    with a buzzer, ack(verb) / nak(reason) for keypads and feedback units.
    """

    def __init__(self, kind, address, hw, firmware="pico-1.1", serial_no="PICO-0000"):
        self.kind = kind
        self.address = address
        self.hw = hw
        self.firmware = firmware
        self.serial_no = serial_no
        self.reader = LineReader()
        self.hello_at = None
        self.bad_frames = 0
        self.heard_at = hw.now_ms()  # last frame addressed to us
        self.link_lost = False

    def start(self):
        self.send_hello()

    def send_hello(self):
        self.hw.write(encode(self.address, "HELLO", self.kind, self.firmware, self.serial_no))

    def press(self, key):
        if self.kind == "keypad" and key in KEYS:
            self.hw.write(encode(self.address, "KEY", key))

    def rate(self, rating):
        if self.kind == "feedback" and 1 <= rating <= 4:
            self.hw.write(encode(self.address, "RATE", rating))

    def on_bytes(self, data):
        for line in self.reader.feed(data):
            frame = parse(line)
            if frame is None:
                self.bad_frames += 1
                continue
            self.handle(frame[0], frame[1], frame[2])

    def tick(self):
        """Call often from the main loop: sends a HELLO that waits for its slot."""
        now = self.hw.now_ms()
        if self.hello_at is not None and ticks_diff(now, self.hello_at) >= 0:
            self.hello_at = None
            self.send_hello()
        if self.kind == "led" and not self.link_lost and ticks_diff(now, self.heard_at) > LINK_LOST_MS:
            # The bridge is gone (cable, power, crash): a stale number would send citizens to the wrong desk.
            self.link_lost = True
            self.hw.show(NO_LINK)

    def handle(self, address, verb, args):
        if address == BROADCAST:
            if verb == "IDENT":
                self.hello_at = ticks_add(self.hw.now_ms(), self.address * IDENT_SLOT_MS)
            return
        if address != self.address:
            return  # for another device on the shared line
        self.heard_at = self.hw.now_ms()
        self.link_lost = False
        arg = args[0] if args else ""
        if verb == "PING":
            self.hw.write(encode(self.address, "PONG"))
        elif verb == "IDENT":
            self.send_hello()
        elif verb == "SHOW" and self.kind == "led":
            self.hw.show(arg)
        elif verb == "BLINK" and self.kind == "led":
            self.hw.blink(int(arg) if arg.isdigit() else 3)
        elif verb == "BEEP":
            self.hw.beep()
        elif verb == "ACK":
            self.hw.ack(arg)
        elif verb == "NAK":
            self.hw.nak(arg)

