"""The README's demo, as a person runs it: `huduma-bridge simulate` in a terminal, `huduma-bridge --demo`.

The simulator runs as a real process on a real terminal (a pty we type into), the
bridge reads the demo centre's bundle, and the centre server is the real one.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from firmware_bridge import config as bridge_config
from firmware_bridge.simulate import SimulatorError, parse_devices
from tests.conftest import BIN, CentreProcess, artifacts_dir, free_port, stop_process, wait_until
from tests.firmware_bridge.conftest import render_terminal


class Terminal:
    """A process on a pty: what it printed so far, and keys typed into it."""

    def __init__(self, args: list[str], cwd: Path | None = None) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     start_new_session=True)
        os.close(slave)
        self.output = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if ready:
                    data = os.read(self.master, 4096)
                    if not data:
                        return
                    self.output += data
            except OSError:
                return
            if self.proc.poll() is not None and not ready:
                return

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace").replace("\r", "")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        stop_process(self.proc, 10)
        self._thread.join(2)
        os.close(self.master)


@pytest.fixture
def demo_centre(centre_dir, tmp_path):
    """`make run` in miniature: the server with its embedded broker (passwords and ACL by role)."""
    mqtt_port = free_port()
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt-port", str(mqtt_port)],
                           log_path=tmp_path / "centre.log")
    server.start()
    # The demo bundles name :1883, where `make run` puts the broker; this one is on a free port.
    bundle_path = centre_dir.path / bridge_config.DEMO_BUNDLE
    bundle = json.loads(bundle_path.read_text())
    bundle_path.write_text(json.dumps(dict(bundle, mqtt_url=f"mqtt://127.0.0.1:{mqtt_port}")))
    yield server
    server.stop()


def test_simulator_and_demo_bridge_on_the_real_centre(centre_dir, demo_centre, tmp_path):
    centre_server = demo_centre

    clerk = centre_server.login("clerk")
    with centre_server.client(clerk) as http:
        assert http.post("/api/v1/counters/c01/open", json={}).status_code == 200
        served = next(c for c in http.get("/api/v1/counters").json() if c["id"] == "c01")["services"]
        prefixes = {s["id"]: s["prefix"] for s in http.get("/api/v1/services").json()}
        service = max(served, key=lambda sid: len(prefixes[sid]))  # a two-letter prefix: AR001, shown whole
    with centre_server.client(centre_dir.bundle("kiosk-1")["token"]) as http:
        r = http.post("/api/v1/tickets", json={"service_id": service}, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
        number = r.json()["number"]

    sim = Terminal([str(BIN / "huduma-bridge"), "simulate", "--demo-dir", str(centre_dir.path)])
    bridge = subprocess.Popen([str(BIN / "huduma-bridge"), "--demo", "--demo-dir", str(centre_dir.path)],
                              stdout=open(tmp_path / "bridge.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "pty: /dev/pts/" in sim.text, what=f"the simulator's pty\n{sim.text}")
        assert (centre_dir.path / bridge_config.DEMO_SIM_LINK).is_symlink()
        assert "n NEXT" in sim.text and "n ANAYEFUATA" in sim.text  # help in English and Kiswahili
        wait_until(lambda: "LED 2: [  blank ]" in sim.text, timeout=15,
                   what=f"the board driven by the bridge\n{sim.text}\n{(tmp_path / 'bridge.log').read_text()}")

        sim.type("n")
        wait_until(lambda: f"LED 2: [ {number:>6} ]" in sim.text and "keypad 1: ACK NEXT" in sim.text,
                   what=f"{number} on the board\n{sim.text}")
        sim.type("r")
        wait_until(lambda: "LED 2: BEEP" in sim.text and "keypad 1: ACK RECALL" in sim.text, what="recall")
        sim.type("d")
        wait_until(lambda: "keypad 1: ACK DONE" in sim.text, what="done")
        sim.type("3")
        wait_until(lambda: "feedback 3: ACK RATE" in sim.text, what="rating")
        assert "> RATE 3 (feedback 3): unhappy = 2 Fair" in sim.text  # the button on the one scale
        sim.type("1")  # a second press: the first rating stands
        wait_until(lambda: "feedback 3: NAK ALREADY_RATED" in sim.text, what="the second rating refused")
        sim.type("n")  # nothing left: the keypad hears why
        wait_until(lambda: "keypad 1: NAK NOTHING_WAITING" in sim.text, what="NAK")
        out = artifacts_dir("firmware_bridge")
        (out / "demo-simulator-terminal.txt").write_text(sim.text)
        render_terminal(sim.text, out / "demo-simulator-terminal.png")
        sim.type("q")
        sim.proc.wait(10)
        assert sim.proc.returncode == 0
        assert not (centre_dir.path / bridge_config.DEMO_SIM_LINK).exists()  # cleaned up on quit
    finally:
        sim.close()
        if bridge.poll() is None:
            bridge.send_signal(signal.SIGTERM)
            assert bridge.wait(10) == 0
    assert "Traceback" not in (tmp_path / "bridge.log").read_text()


def test_simulate_rejects_bad_devices_clearly() -> None:
    with pytest.raises(SimulatorError):
        parse_devices("toaster:1")
    with pytest.raises(SimulatorError):
        parse_devices("keypad:1,led:1")
    out = subprocess.run([str(BIN / "huduma-bridge"), "simulate", "--devices", "keypad:x"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "kind:address" in out.stderr and "Traceback" not in out.stderr


def test_demo_without_a_demo_centre_says_what_to_do(tmp_path: Path) -> None:
    out = subprocess.run([str(BIN / "huduma-bridge"), "--demo", "--demo-dir", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "make run" in out.stderr and "Traceback" not in out.stderr


def test_demo_port_map_gives_each_counter_three_devices() -> None:
    ports = bridge_config.demo_ports(["c01", "c02"], "/tmp/x")
    assert [(d.address, d.kind, d.counter_id) for d in ports[0].devices] == [
        (1, "keypad", "c01"), (2, "led", "c01"), (3, "feedback", "c01"),
        (4, "keypad", "c02"), (5, "led", "c02"), (6, "feedback", "c02")]


def test_config_refuses_what_cannot_work(tmp_path: Path) -> None:
    base = {"centre_id": "demo", "centre_name": "Demo", "device_id": "bridge-1", "kind": "bridge", "role": "bridge",
            "token": "t", "server_url": "http://x", "mqtt_url": "mqtt://127.0.0.1:1", "counters": ["c01"]}
    path = tmp_path / "bridge.json"
    cases = [
        ({"ports": [{"url": "loop://", "devices": [{"address": 1, "kind": "keypad", "counter_id": "c01"},
                                                    {"address": 1, "kind": "led", "counter_id": "c01"}]}]}, "twice"),
        ({"ports": [{"url": "loop://", "devices": [{"address": 300, "kind": "led", "counter_id": "c01"}]}]},
         "address"),
        ({"ports": [{"url": "loop://", "devices": [{"address": 2, "kind": "lamp", "counter_id": "c01"}]}]}, "kind"),
        ({"kind": "kiosk", "role": "kiosk"}, "not a bridge"),
        ({"ports": [{"url": "loop://"}, {"url": "loop://"}]}, "listed twice"),
    ]
    for extra, words in cases:
        path.write_text(json.dumps(dict(base, **extra)))
        with pytest.raises(bridge_config.ConfigError) as info:
            bridge_config.load(path)
        assert words in str(info.value), (extra, str(info.value))
    path.write_text(json.dumps(dict(base, ports=[{"url": "loop://", "devices": [
        {"address": 1, "kind": "keypad", "counter_id": "c01"}]}])))
    assert bridge_config.load(path).ports[0].baudrate == 9600


def test_simulator_speaks_kiswahili(tmp_path: Path) -> None:
    from firmware_bridge import frames
    from firmware_bridge.simulate import Simulator

    seen: list[str] = []
    sim = Simulator(parse_devices("keypad:1,led:2"), link=str(tmp_path / "sw.tty"), on_event=seen.append,
                    lang="sw").start()
    try:
        sim._feed(frames.make(2, "SHOW", "A001") + frames.make(2, "BEEP") + frames.make(1, "ACK", "NEXT"))
        assert seen == ["Ubao 2: [   A001 ]", "Ubao 2: MLIO\a", "kipadi 1: ACK NEXT"]
    finally:
        sim.stop()
