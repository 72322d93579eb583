"""The reference firmware's protocol code (firmware/huduma_frames.py) agrees with the bridge.

The same file is flashed onto the Pico; here it runs under CPython on a real pty
against the real bridge process, with a board object in place of the GPIO pins.
"""

from __future__ import annotations

import importlib.util
import os
import pty
import select
import threading
import time
import tty
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from centre_server.contract import Topics
from firmware_bridge import frames
from tests.conftest import wait_until
from tests.firmware_bridge.conftest import status_of
from tests.firmware_bridge.test_bridge_broker import CENTRE, FakeServer, bundle, counter_state
from tests.firmware_bridge.test_frames import FRAME

FIRMWARE_DIR = Path(frames.__file__).parent / "firmware"
_spec = importlib.util.spec_from_file_location("huduma_frames", FIRMWARE_DIR / "huduma_frames.py")
fw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fw)


@given(FRAME)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # loaded CI machines
def test_firmware_encodes_like_the_bridge(frame: frames.Frame) -> None:
    assert fw.encode(frame.address, frame.verb, *frame.args) == frames.encode(frame)


@given(FRAME)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # loaded CI machines
def test_firmware_parses_what_the_bridge_sends(frame: frames.Frame) -> None:
    lines = fw.LineReader().feed(frames.encode(frame))
    assert [fw.parse(line) for line in lines] == [(frame.address, frame.verb, list(frame.args))]


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_firmware_survives_noise(data: bytes) -> None:
    board = PtyBoard(None)
    dev = fw.Device("led", 2, board)
    dev.on_bytes(data)  # must not raise
    dev.on_bytes(b"\n" + frames.make(2, "SHOW", "Z999"))
    assert board.text == "Z999"


class PtyBoard:
    """Stands in for the Pico's pins: records the display, LEDs and buzzer."""

    def __init__(self, line: PtyLine | None) -> None:
        self.line = line
        self.text = ""
        self.blinks = self.beeps = 0
        self.acks: list[str] = []

    def write(self, data: bytes) -> None:
        if self.line:
            self.line.write(data)

    def now_ms(self) -> int:
        return int(time.monotonic() * 1000)

    def show(self, text: str) -> None:
        self.text = text

    def blink(self, seconds: int) -> None:
        self.blinks += 1

    def beep(self) -> None:
        self.beeps += 1

    def ack(self, verb: str) -> None:
        self.acks.append("ACK," + verb)

    def nak(self, reason: str) -> None:
        self.acks.append("NAK," + reason)


class PtyLine:
    """Several firmware devices on one pty, as on one RS-485 pair."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        link.symlink_to(os.ttyname(self.slave))
        self.link = link
        self.devices: dict[int, object] = {}
        self.boards: dict[int, PtyBoard] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, kind: str, address: int) -> None:
        board = PtyBoard(self)
        self.boards[address] = board
        self.devices[address] = fw.Device(kind, address, board, "pico-test", f"PICO-T{address:03d}")

    def write(self, data: bytes) -> None:
        with self._lock:
            os.write(self.master, data)

    def start(self) -> PtyLine:
        for dev in self.devices.values():
            dev.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
        os.close(self.slave)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.01)
            data = os.read(self.master, 4096) if ready else b""
            for dev in self.devices.values():
                if data:
                    dev.on_bytes(data)
                dev.tick()


def test_firmware_devices_work_with_the_bridge(mosquitto, probe_factory, bridge_factory, tmp_path):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    probe.publish(topics.counter_state("c01"), counter_state("c01", "A001"), retain=True)
    server = FakeServer(probe, topics)
    line = PtyLine(tmp_path / "pico.tty")
    for kind, address in (("keypad", 1), ("led", 2), ("feedback", 3)):
        line.add(kind, address)
    line.start()
    try:
        bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": str(line.link), "devices": [
            {"address": 1, "kind": "keypad", "counter_id": "c01"},
            {"address": 2, "kind": "led", "counter_id": "c01"},
            {"address": 3, "kind": "feedback", "counter_id": "c01"}]}])
        led, keypad, feedback = line.boards[2], line.boards[1], line.boards[3]
        wait_until(lambda: led.text == "A001", what=f"the board to show A001\n{bridge.log()}")
        # The firmware answered the bridge's broadcast IDENT in its slot: the status knows its serial.
        status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and all(
            d["firmware"] == "pico-test" and d["online"] for d in s["ports"][0]["devices"]) and s,
            what="firmware HELLOs in the status")
        assert {d["serial_no"] for d in status["ports"][0]["devices"]} == {"PICO-T001", "PICO-T002", "PICO-T003"}

        line.devices[1].press("NEXT")
        wait_until(lambda: led.text == "A002" and led.blinks == 1 and keypad.acks == ["ACK,NEXT"],
                   what="call through the firmware keypad")
        line.devices[1].press("RECALL")
        wait_until(lambda: led.beeps == 1, what="recall beep")
        line.devices[3].rate(1)  # the very happy face
        wait_until(lambda: feedback.acks == ["ACK,RATE"], what="feedback ack")
        assert server.feedback[0].rating == 4  # Excellent on the centre's scale, not 1 (Poor)
        assert all(dev.bad_frames == 0 for dev in line.devices.values())
    finally:
        line.stop()


def test_firmware_board_shows_no_link_when_the_bridge_goes_quiet() -> None:
    class Clock(PtyBoard):
        ms = 0

        def now_ms(self) -> int:
            return self.ms

    board = Clock(None)
    dev = fw.Device("led", 2, board)
    dev.on_bytes(frames.make(2, "SHOW", "A042"))
    board.ms = fw.LINK_LOST_MS
    dev.tick()
    assert board.text == "A042"
    board.ms = fw.LINK_LOST_MS + 1_000
    dev.tick()
    assert board.text == fw.NO_LINK
    dev.on_bytes(frames.make(2, "PING") + frames.make(2, "SHOW", "A043"))  # the bridge is back
    dev.tick()
    assert board.text == "A043"
