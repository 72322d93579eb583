"""Huduma counter device firmware for a Raspberry Pi Pico (MicroPython 1.20+).

One sketch for all three kinds; set KIND and ADDRESS in config.py (copied next
to this file) or edit the defaults below. Wiring is in README.md of this
folder. The protocol itself is huduma_frames.py, the same file the bridge's
tests run on a pty.

  keypad   : 6 push buttons to GND on GP10..GP15 (NEXT RECALL NOSHOW DONE PAUSE RESUME),
             green LED on GP16 (ACK), red LED on GP17 (NAK), buzzer on GP18
  led      : TM1637 6-digit display, CLK GP4, DIO GP5; buzzer on GP18 (the whole ticket
             number, AR001 or AR1000, fits; see huduma_frames.display_text)
  feedback : 4 push buttons to GND on GP10..GP13 (buttons 1..4, 1 = the very happy face;
             the bridge turns a button into the centre's satisfaction scale),
             "thank you" LED on GP16, buzzer on GP18
  line     : UART0 TX GP0 -> DI, RX GP1 <- RO of a MAX3485 (3.3 V); DE and /RE tied to GP2
"""

import time

import huduma_frames
from machine import UART, Pin, unique_id

try:
    import config  # config.py on the board: KIND = "keypad", ADDRESS = 1, BAUD = 9600
except ImportError:
    config = None

KIND = getattr(config, "KIND", "keypad")
ADDRESS = getattr(config, "ADDRESS", 1)
BAUD = getattr(config, "BAUD", 9600)
DIGITS = getattr(config, "DIGITS", huduma_frames.DIGITS)
# Which TM1637 grid drives each digit, left to right. Most modules wire them in order; the
# common 6-digit "RobotDyn" module needs GRIDS = (2, 1, 0, 5, 4, 3) in config.py.
GRIDS = tuple(getattr(config, "GRIDS", range(DIGITS)))
FIRMWARE = "pico-1.1"
DEBOUNCE_MS = 30


class TM1637:
    """Bit-banged driver for a TM1637 display module of up to six digits."""

    def __init__(self, clk, dio, grids, brightness=7):
        self.clk = Pin(clk, Pin.OUT, value=1)
        self.dio = Pin(dio, Pin.OUT, value=1)
        self.grids = grids  # grids[i]: the chip's grid (address) behind digit i, left to right
        self.brightness = brightness

    def _start(self):
        self.dio(0)
        time.sleep_us(5)
        self.clk(0)

    def _stop(self):
        self.clk(0)
        self.dio(0)
        time.sleep_us(5)
        self.clk(1)
        time.sleep_us(5)
        self.dio(1)

    def _byte(self, b):
        for _ in range(8):
            self.clk(0)
            self.dio(b & 1)
            b >>= 1
            time.sleep_us(5)
            self.clk(1)
            time.sleep_us(5)
        self.clk(0)  # the chip's ACK bit
        self.dio.init(Pin.IN)
        time.sleep_us(5)
        self.clk(1)
        time.sleep_us(5)
        self.clk(0)
        self.dio.init(Pin.OUT)

    def segments(self, segs, on=True):
        data = [0] * (max(self.grids) + 1)
        for i, grid in enumerate(self.grids):
            data[grid] = segs[i] if i < len(segs) else 0
        self._start()
        self._byte(0x40)  # auto-increment address
        self._stop()
        self._start()
        self._byte(0xC0)
        for s in data:
            self._byte(s)
        self._stop()
        self._start()
        self._byte((0x88 | self.brightness) if on else 0x80)
        self._stop()


class Board:
    """The hardware a Device drives: the RS-485 line, display, LEDs and buzzer."""

    def __init__(self):
        self.uart = UART(0, baudrate=BAUD, tx=Pin(0), rx=Pin(1), timeout=0)
        self.de = Pin(2, Pin.OUT, value=0)  # 0 = listen, 1 = talk
        self.buzzer = Pin(18, Pin.OUT, value=0)
        self.green = Pin(16, Pin.OUT, value=0)
        self.red = Pin(17, Pin.OUT, value=0)
        self.display = TM1637(4, 5, GRIDS) if KIND == "led" else None
        self.text = ""
        self.step = 0  # scroll position of a number longer than the display
        self.shown_at = 0
        self.blink_until = 0
        self.off_at = {}  # pin -> ticks_ms when to switch it off

    # the interface huduma_frames.Device uses
    def write(self, data):
        self.de(1)
        self.uart.write(data)
        while not self.uart.txdone():
            pass
        self.de(0)

    def now_ms(self):
        return time.ticks_ms()

    def show(self, text):
        self.text = text
        self.step = 0
        self.shown_at = time.ticks_ms()
        self._draw(True)

    def blink(self, seconds):
        self.blink_until = time.ticks_add(time.ticks_ms(), seconds * 1000)

    def beep(self):
        self._pulse(self.buzzer, 300)

    def ack(self, verb):
        self._pulse(self.green, 800)
        self._pulse(self.buzzer, 60)

    def nak(self, reason):
        self._pulse(self.red, 1500)
        self._pulse(self.buzzer, 400)

    # housekeeping
    def _pulse(self, pin, ms):
        pin(1)
        self.off_at[pin] = time.ticks_add(time.ticks_ms(), ms)

    def _draw(self, on):
        if self.display is None:
            return
        # The whole number: six digits hold any two-letter prefix; a longer text scrolls.
        self.display.segments(huduma_frames.segments(self.text, DIGITS, self.step), on)

    def tick(self):
        now = time.ticks_ms()
        for pin, at in list(self.off_at.items()):
            if time.ticks_diff(now, at) >= 0:
                pin(0)
                del self.off_at[pin]
        if self.display is None:
            return
        step = time.ticks_diff(now, self.shown_at) // huduma_frames.SCROLL_MS
        scroll = len(self.text) > DIGITS and step != self.step
        if scroll:
            self.step = step
        if self.blink_until:
            if time.ticks_diff(now, self.blink_until) >= 0:
                self.blink_until = 0
                self._draw(True)
            else:
                self._draw((now // 400) % 2 == 0)
        elif scroll:
            self._draw(True)


class Buttons:
    """Active-low buttons with a debounce; yields each press once."""

    def __init__(self, pins):
        self.pins = [Pin(p, Pin.IN, Pin.PULL_UP) for p in pins]
        self.state = [1] * len(pins)
        self.changed = [0] * len(pins)

    def pressed(self):
        now = time.ticks_ms()
        out = []
        for i, pin in enumerate(self.pins):
            v = pin()
            if v != self.state[i] and time.ticks_diff(now, self.changed[i]) > DEBOUNCE_MS:
                self.state[i], self.changed[i] = v, now
                if v == 0:
                    out.append(i)
        return out


def main():
    board = Board()
    serial_no = "PICO-" + "".join("%02X" % b for b in unique_id()[-4:])
    device = huduma_frames.Device(KIND, ADDRESS, board, FIRMWARE, serial_no)
    buttons = None
    if KIND == "keypad":
        buttons = Buttons([10, 11, 12, 13, 14, 15])
    elif KIND == "feedback":
        buttons = Buttons([10, 11, 12, 13])
    device.start()
    while True:
        data = board.uart.read()
        if data:
            device.on_bytes(data)
        if buttons is not None:
            for i in buttons.pressed():
                if KIND == "keypad":
                    device.press(huduma_frames.KEYS[i])
                else:
                    device.rate(i + 1)
        device.tick()
        board.tick()
        time.sleep_ms(2)


if __name__ == "__main__":  # MicroPython runs main.py as __main__; tests import it
    main()
