"""Every service's whole ticket number on every LED board (issue 15, item 3).

The old firmware kept the last four characters, so AR001 (ID replacement) read
R001 and SB001 (business permit) read B001: another service's number. These
tests walk every prefix of the demo menu through the real bridge to a board on a
pty, the simulator's and the reference firmware's main.py with its TM1637 chip
emulated at the pin level, and read what a citizen would read.
"""

from __future__ import annotations

import os
import pty
import tty
from pathlib import Path

from centre_server.contract import Topics
from centre_server.menu import builtin_menu
from tests.conftest import wait_until
from tests.firmware_bridge.conftest import device_online, status_of
from tests.firmware_bridge.pico import Pico, glyphs, load_frames, reads_as
from tests.firmware_bridge.test_bridge_broker import CENTRE, bundle, counter_state

fw = load_frames()


def menu_numbers() -> list[str]:
    """The first ticket of every demo service, and the longest number a day reaches."""
    prefixes = [s.prefix for s in builtin_menu()]
    assert any(len(p) == 2 for p in prefixes)
    return [f"{p}001" for p in prefixes] + [f"{max(prefixes, key=len)}1000"]


def test_every_menu_prefix_shows_whole_on_the_boards(mosquitto, probe_factory, bridge_factory, sim_factory,
                                                     tmp_path: Path) -> None:
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    sim = sim_factory("led:2")
    master, slave = pty.openpty()
    tty.setraw(slave)
    link = tmp_path / "pico.tty"
    link.symlink_to(os.ttyname(slave))
    pico = Pico("led", 2, master).start()
    try:
        bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [
            {"url": sim.link, "devices": [{"address": 2, "kind": "led", "counter_id": "c01"}]},
            {"url": str(link), "devices": [{"address": 2, "kind": "led", "counter_id": "c01"}]}])
        wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and s["devices_online"] == 2,
                   what=f"both boards online\n{bridge.log()}")
        for i, number in enumerate(menu_numbers()):
            probe.publish(topics.counter_state("c01"), counter_state("c01", number, ticket_id=f"t{i}"), retain=True)
            assert sim.wait_for(lambda: sim.led().shown == number), (number, sim.led().shown, bridge.log())
            wait_until(lambda: reads_as(pico.digits(), number, pico.frames),
                       what=f"the Pico board to read {number}, it reads {pico.digits()}")
    finally:
        pico.stop()
        os.close(master)
        os.close(slave)
    assert device_online(status_of(probe, topics, "bridge-t"), 2)


def test_no_two_services_look_alike_on_a_board() -> None:
    read = glyphs(fw)
    letters = [fw.FONT[c] for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    digits = [fw.FONT[c] for c in "0123456789"]
    assert len(set(letters)) == 26 and len(set(digits)) == 10  # letters come first, so any prefix is told apart
    shown = {tuple(fw.segments(n)): n for n in menu_numbers()}
    assert len(shown) == len(menu_numbers())
    assert all(ch in read[s] for n in menu_numbers() for s, ch in zip(fw.segments(n), n.rjust(fw.DIGITS)))


def test_a_number_longer_than_the_board_scrolls_through_every_character() -> None:
    pico = Pico("led", 2)
    pico.clock.manual_ms = 1_000
    device = pico.frames.Device("led", 2, pico.main.Board())
    device.on_bytes(pico.frames.encode(2, "SHOW", "AR12345"))  # 7 characters on a 6-digit board
    seen = []
    for step in range(len("AR12345") + fw.SCROLL_GAP):
        pico.clock.manual_ms = 1_000 + step * fw.SCROLL_MS
        device.hw.tick()
        seen.append(pico.digits())
    windows = ["".join(sorted(glyphs(fw)[s])[0] if s else " " for s in d) for d in seen]
    assert windows[0] == "AR1234" and windows[1] == "R12345"
    assert {ch for w in windows for ch in w} >= set("AR12345")


def test_an_old_four_digit_board_scrolls_instead_of_cutting() -> None:
    # A board still fitted with a 4-digit module (config DIGITS = 4) must not read R001 for AR001.
    pico = Pico("led", 2, grids=(0, 1, 2, 3), digits=4)
    pico.clock.manual_ms = 0
    device = pico.frames.Device("led", 2, pico.main.Board())
    device.on_bytes(pico.frames.encode(2, "SHOW", "AR001"))
    windows = []
    for step in range(len("AR001") + fw.SCROLL_GAP):
        pico.clock.manual_ms = step * fw.SCROLL_MS
        device.hw.tick()
        windows.append(pico.digits())
    assert windows[0] == [fw.FONT[c] for c in "AR00"] and windows[1] == [fw.FONT[c] for c in "R001"]
    assert windows[4] == [fw.FONT[c] for c in "1  A"]  # the gap shows where the number starts again
    device.on_bytes(pico.frames.encode(2, "SHOW", "A001"))  # four characters stand still
    assert pico.digits() == [fw.FONT[c] for c in "A001"]


def test_six_digit_module_with_scrambled_grids_reads_left_to_right() -> None:
    pico = Pico("led", 2, grids=(2, 1, 0, 5, 4, 3))  # the common 6-digit module's wiring
    device = pico.frames.Device("led", 2, pico.main.Board())
    device.on_bytes(pico.frames.encode(2, "SHOW", "SB001"))
    assert reads_as(pico.digits(), "SB001", pico.frames)
    assert not reads_as(pico.chip.digits(), "SB001", pico.frames)  # in grid order it would be garbled
