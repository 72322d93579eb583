"""The reference firmware's main.py running under CPython, with its pins simulated.

``machine`` is replaced by pins that record what the sketch drives; the TM1637 display
chip is emulated at the wire level (start/stop conditions, bits clocked LSB first,
the data, address and display-control commands), so a test reads the segments the
real chip would light, not what the sketch meant to show. The UART is a pty.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import select
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_bridge import frames

FIRMWARE_DIR = Path(frames.__file__).parent / "firmware"
_counter = itertools.count()


def load_frames() -> types.ModuleType:
    """firmware/huduma_frames.py as its own module (the file flashed onto the Pico)."""
    spec = importlib.util.spec_from_file_location(f"huduma_frames_{next(_counter)}",
                                                  FIRMWARE_DIR / "huduma_frames.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Clock:
    """MicroPython's tick functions; real time unless a test sets ``manual_ms``."""

    def __init__(self) -> None:
        self.manual_ms: int | None = None
        self.stop = threading.Event()

    def ticks_ms(self) -> int:
        return self.manual_ms if self.manual_ms is not None else int(time.monotonic() * 1000)

    def sleep_ms(self, ms: int) -> None:
        if self.stop.is_set():
            raise FirmwareStopped
        time.sleep(ms / 1000)


class FirmwareStopped(BaseException):
    """Raised from time.sleep_ms to end the sketch's endless main loop."""


class TM1637Chip:
    """What a TM1637 latches from its CLK and DIO lines: six grids of segments and on/off."""

    def __init__(self) -> None:
        self.grids = [0] * 6
        self.on = False
        self.clk = self.dio = 1
        self.dio_output = True
        self.active = False
        self.bits: list[int] = []
        self.byte_index = 0
        self.address: int | None = None
        self.writes = 0  # display refreshes (display-control commands)

    def line(self, pin: int, value: int) -> None:
        if pin == 5:  # DIO
            if self.clk and self.dio_output and value != self.dio:
                if value == 0:  # start condition
                    self.active, self.bits, self.byte_index, self.address = True, [], 0, None
                else:  # stop condition
                    self.active = False
            self.dio = value
        elif pin == 4:  # CLK
            rising = value and not self.clk
            self.clk = value
            if rising and self.active:
                if len(self.bits) < 8:
                    self.bits.append(self.dio)
                    if len(self.bits) == 8:
                        self._byte(sum(b << i for i, b in enumerate(self.bits)))
                else:  # the ninth clock: the chip's ACK
                    self.bits = []

    def _byte(self, b: int) -> None:
        first = self.byte_index == 0
        self.byte_index += 1
        if first and b & 0xC0 == 0xC0:
            self.address = b & 0x0F
        elif first and b & 0xF0 == 0x80:
            self.on = bool(b & 0x08)
            self.writes += 1
        elif not first and self.address is not None:
            if self.address < len(self.grids):
                self.grids[self.address] = b
            self.address += 1

    def digits(self, grids: tuple[int, ...] | None = None) -> list[int]:
        """The segments of each digit left to right, as a person sees them (dark when off)."""
        order = grids or tuple(range(len(self.grids)))
        return [self.grids[g] if self.on else 0 for g in order]


def machine_module(chip: TM1637Chip, uart_write: Callable[[bytes], None],
                   uart_read: Callable[[], bytes | None], serial: bytes) -> types.ModuleType:
    """A ``machine`` module whose pins 4/5 drive ``chip`` and whose UART is the given line."""
    m = types.ModuleType("machine")

    class Pin:
        OUT, IN, PULL_UP = 1, 0, 2

        def __init__(self, n: int, mode: int = 1, pull: int | None = None, value: int | None = None) -> None:
            self.n, self.mode, self.value = n, mode, 1 if pull == Pin.PULL_UP else 0
            if value is not None:
                self(value)

        def init(self, mode: int) -> None:
            self.mode = mode
            if self.n == 5:
                chip.dio_output = mode == Pin.OUT

        def __call__(self, v: int | None = None) -> int:
            if v is None:
                return self.value
            self.value = 1 if v else 0
            if self.n in (4, 5):
                chip.line(self.n, self.value)
            return self.value

    class UART:
        def __init__(self, *_: Any, **__: Any) -> None:
            pass

        def write(self, data: bytes) -> None:
            uart_write(bytes(data))

        def txdone(self) -> bool:
            return True

        def read(self) -> bytes | None:
            return uart_read()

    m.Pin, m.UART = Pin, UART
    m.unique_id = lambda: serial
    return m


class Pico:
    """One Pico running firmware/main.py as KIND at ADDRESS, on a pty or on nothing."""

    def __init__(self, kind: str, address: int, master_fd: int | None = None,
                 grids: tuple[int, ...] | None = None, digits: int | None = None) -> None:
        self.chip = TM1637Chip()
        self.clock = Clock()
        self.master_fd = master_fd
        self.grids = grids
        self.frames = load_frames()
        config = types.ModuleType("config")
        config.KIND, config.ADDRESS, config.BAUD = kind, address, 9600
        if grids is not None:
            config.GRIDS = grids
        if digits is not None:
            config.DIGITS = digits
        clock = self.clock
        fake_time = types.ModuleType("time")
        fake_time.ticks_ms = clock.ticks_ms
        fake_time.ticks_add = lambda t, d: t + d
        fake_time.ticks_diff = lambda a, b: a - b
        fake_time.sleep_us = lambda us: None
        fake_time.sleep_ms = clock.sleep_ms
        fake = {"machine": machine_module(self.chip, self._write, self._read, bytes([0xE6, 0x61, address, 0x42])),
                "config": config, "huduma_frames": self.frames, "time": fake_time}
        saved = {name: sys.modules.get(name) for name in fake}
        spec = importlib.util.spec_from_file_location(f"pico_main_{next(_counter)}", FIRMWARE_DIR / "main.py")
        self.main = importlib.util.module_from_spec(spec)
        self.clock.stop.set()  # a sketch that starts its endless loop on import stops at its first sleep
        try:
            sys.modules.update(fake)
            spec.loader.exec_module(self.main)  # module name is not __main__: main() does not run
        except FirmwareStopped:
            raise AssertionError("firmware/main.py ran its main loop on import") from None
        finally:
            self.clock.stop.clear()
            for name, mod in saved.items():
                if mod is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = mod
        self._thread: threading.Thread | None = None

    def _write(self, data: bytes) -> None:
        if self.master_fd is not None:
            os.write(self.master_fd, data)

    def _read(self) -> bytes | None:
        if self.master_fd is None:
            return None
        ready, _, _ = select.select([self.master_fd], [], [], 0)
        return os.read(self.master_fd, 4096) if ready else None

    def digits(self) -> list[int]:
        return self.chip.digits(self.grids)

    def start(self) -> Pico:
        """Run the sketch's own main() (its endless loop) in a thread."""
        def run() -> None:
            try:
                self.main.main()
            except FirmwareStopped:
                pass

        self._thread = threading.Thread(target=run, name="pico", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.clock.stop.set()
        if self._thread:
            self._thread.join(3)


def glyphs(frames_mod: types.ModuleType) -> dict[int, set[str]]:
    """Segments -> the characters they can be read as, from the firmware's font."""
    out: dict[int, set[str]] = {}
    for ch, segs in frames_mod.FONT.items():
        out.setdefault(segs, set()).add(ch)
    return out


def reads_as(segments: list[int], text: str, frames_mod: types.ModuleType) -> bool:
    """Whether a person reading these digits reads exactly ``text`` (right-aligned, blanks before)."""
    read = glyphs(frames_mod)
    want = text.rjust(len(segments))
    return len(text) <= len(segments) and all(ch in read.get(s, set()) for s, ch in zip(segments, want))
