"""Fixtures for the bridge: a real bridge process, simulated devices on real ptys, an MQTT probe."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from centre_server.contract import Topics, parse_mqtt_url
from firmware_bridge.simulate import Simulator, parse_devices
from tests.conftest import BIN, stop_process, wait_until

FAST_TIMING = {
    "poll_interval_s": 0.5,
    "offline_after_s": 3.0,
    "reply_timeout_s": 5.0,
    "reopen_min_s": 0.2,
    "reopen_max_s": 1.0,
    "status_interval_s": 5.0,
    "blink_s": 3,
}


@dataclass
class Probe:
    """A plain MQTT client that records what it hears (and can publish), for assertions."""

    url: str
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self._acked: set[int] = set()
        self.client.reconnect_delay_set(0.2, 1)
        self.handlers: list[Callable[[str, bytes], None]] = []
        self.subscriptions: list[str] = []

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        for sub in self.subscriptions:  # renewed on every reconnect, as a device does
            client.subscribe(sub, qos=1)
        self._connected.set()

    def subscribe(self, topic: str) -> None:
        """Subscribe and wait for the broker's SUBACK, so nothing published after this is missed."""
        self.subscriptions.append(topic)
        _, mid = self.client.subscribe(topic, qos=1)
        wait_until(lambda: mid in self._acked, what=f"SUBACK for {topic}")

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, *_: Any) -> None:
        self._acked.add(mid)

    def start(self, *subscriptions: str) -> Probe:
        host, port = parse_mqtt_url(self.url)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._connected.wait(10), "probe could not connect to the broker"
        for sub in subscriptions:
            self.subscribe(sub)
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))
        for handler in list(self.handlers):
            handler(msg.topic, msg.payload)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def sync(self, topic: str, payload: bytes) -> None:
        """Publish to a topic we subscribe to and hear it back: our subscriptions are live."""
        wait_until(self.client.is_connected, what="the probe to reconnect")
        count = len(self.on(topic))
        self.publish(topic, payload, retain=True)
        wait_until(lambda: len(self.on(topic)) > count, what="the probe's own message back")

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def last_json(self, topic: str) -> dict | None:
        found = self.on(topic)
        return json.loads(found[-1]) if found and found[-1] else None


@pytest.fixture
def probe_factory() -> Iterator[Callable[..., Probe]]:
    probes: list[Probe] = []

    def make(url: str, *subscriptions: str) -> Probe:
        p = Probe(url).start(*subscriptions)
        probes.append(p)
        return p

    yield make
    for p in probes:
        p.stop()


@dataclass
class BridgeProcess:
    """``huduma-bridge --config FILE`` as a real process."""

    config_path: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    def start(self) -> BridgeProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "huduma-bridge"), "-v", "--config", str(self.config_path),
                                      *self.args], stdout=log, stderr=log)
        return self

    def stop(self) -> int | None:
        stop_process(self.proc, 10)
        return self.proc.returncode if self.proc else None

    @property
    def running(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def bridge_factory(tmp_path: Path) -> Iterator[Callable[..., BridgeProcess]]:
    started: list[BridgeProcess] = []

    def make(bundle: dict, ports: list[dict], *args: str, timing: dict | None = None) -> BridgeProcess:
        cfg = dict(bundle, ports=ports, timing=timing or FAST_TIMING)
        path = tmp_path / f"bridge-{len(started)}.json"
        path.write_text(json.dumps(cfg, indent=2))
        proc = BridgeProcess(path, tmp_path / f"bridge-{len(started)}.log", list(args)).start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Simulator]]:
    sims: list[Simulator] = []

    def make(devices: str = "keypad:1,led:2,feedback:3", link: str | None = None) -> Simulator:
        sim = Simulator(parse_devices(devices), link=link or str(tmp_path / f"sim-{len(sims)}.tty"))
        sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


def status_of(probe: Probe, topics: Topics, device_id: str) -> dict | None:
    return probe.last_json(topics.device_status(device_id))


def device_online(status: dict | None, address: int) -> bool:
    if not status:
        return False
    return any(d["address"] == address and d["online"] for p in status["ports"] for d in p["devices"])


def render_terminal(text: str, path: Path, title: str = "huduma-bridge simulate") -> Path:
    """Save a terminal transcript as a PNG a person can look at (the simulator has no window)."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
    try:
        font = ImageFont.truetype(font_path, 15)
        bold = ImageFont.truetype(font_path.replace(".ttf", "-Bold.ttf"), 15)
    except OSError:
        font = bold = ImageFont.load_default()
    lines: list[str] = []
    for raw in text.replace("\a", "").splitlines():
        lines += textwrap.wrap(raw, 104) or [""]
    width, line_h, pad, bar = 980, 20, 14, 30
    img = Image.new("RGB", (width, bar + 2 * pad + line_h * len(lines)), (24, 26, 30))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, bar), fill=(52, 56, 64))
    for i, colour in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        draw.ellipse((12 + i * 20, 9, 24 + i * 20, 21), fill=colour)
    draw.text((80, 6), title, font=bold, fill=(220, 220, 220))
    for i, line in enumerate(lines):
        colour = (200, 200, 200)
        if line.startswith(("LED", "Ubao")):
            colour = (255, 176, 0)
        elif " ACK " in line:
            colour = (110, 210, 110)
        elif " NAK " in line:
            colour = (240, 100, 90)
        elif line.startswith(">"):
            colour = (120, 190, 255)
        draw.text((pad, bar + pad + i * line_h), line, font=bold if "[" in line else font, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
