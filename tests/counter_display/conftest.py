"""Fixtures of the display's tests: the real app in its own process, and a plain publisher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from centre_server.contract import QOS, DeviceBundle, Role, parse_mqtt_url
from tests.conftest import start_xvfb, stop_process, wait_until

DRIVER = Path(__file__).with_name("driver.py")
ROOT = Path(__file__).resolve().parents[2]


class Publisher:
    """A test's own MQTT client, standing in for the centre server where there is none."""

    def __init__(self, url: str) -> None:
        host, port = parse_mqtt_url(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, retain: bool = True) -> None:
        self.client.publish(topic, payload, qos=QOS, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Listener:
    """Records every message on some topics (to see what the display itself publishes)."""

    def __init__(self, url: str, topic: str) -> None:
        host, port = parse_mqtt_url(url)
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listen-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe(topic, QOS)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, m.retain))
        self.client.connect(host, port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class DisplayProcess:
    """The display app running in a subprocess under Xvfb (see driver.py)."""

    bundle_path: Path
    out: Path
    mode: str = "hall"
    counter: str | None = None
    audio_dir: Path | None = None
    page_size: int = 8
    layout: str = "near"
    env: dict[str, str] = field(default_factory=dict)  # e.g. DISPLAY and DISPLAY_TEST_SIZE of a screen
    proc: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def start(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "state.json").unlink(missing_ok=True)
        self.log_path = self.out / "display.log"
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
                   KIVY_HOME=str(self.out / "kivy-home"), PYTHONPATH=str(ROOT), **self.env)
        cmd = [sys.executable, str(DRIVER), "--bundle", str(self.bundle_path), "--mode", self.mode,
               "--out", str(self.out), "--page-size", str(self.page_size),
               "--layout", self.layout]
        if self.counter:
            cmd += ["--counter", self.counter]
        if self.audio_dir:
            cmd += ["--audio-dir", str(self.audio_dir)]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, env=env)

    def state(self) -> dict | None:
        self._check_alive()
        try:
            return json.loads((self.out / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"display exited ({self.proc.returncode}): {self.log_path.read_text()[-3000:]}")

    def wait_for(self, predicate: Callable[[dict], object], timeout: float = 30.0, what: str = "state") -> dict:
        """Poll the app's state until ``predicate(state)`` holds; return that state."""
        last: list[dict] = []

        def holds() -> dict | None:
            s = self.state()
            if s is None:
                return None
            last[:] = [s]
            try:
                return s if predicate(s) else None
            except (KeyError, IndexError, TypeError):
                return None

        return wait_until(holds, timeout,
                          lambda: f"{what}; last state: {json.dumps(last[0] if last else None, default=str)[:3000]}")

    def request(self, order: dict) -> None:
        tmp = self.out / f"tmp-{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(order))
        tmp.replace(self.out / f"req-{time.monotonic_ns()}.json")

    def screenshot(self, name: str, dest: Path | None = None) -> Path:
        done = self.out / f"{name}.done"
        done.unlink(missing_ok=True)
        self.request({"screenshot": name})
        wait_until(lambda: done.exists() or self._check_alive(), 15, f"screenshot {name}")
        png = self.out / f"{name}.png"
        if dest is not None:
            dest.write_bytes(png.read_bytes())
            return dest
        return png

    def stop(self, timeout: float = 10.0) -> int:
        """Clean stop through SIGTERM (the way a supervisor stops it)."""
        if self.proc is None:
            return 0
        if not stop_process(self.proc, timeout):
            raise AssertionError(f"display did not stop on SIGTERM: {self.log_path.read_text()[-2000:]}")
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def display_factory(xvfb, tmp_path: Path):
    """Start display processes; each is stopped (killed if it hangs) at the end."""
    started: list[DisplayProcess] = []

    def make(bundle_path: Path, name: str = "display", **kw) -> DisplayProcess:
        d = DisplayProcess(bundle_path=bundle_path, out=tmp_path / name, **kw)
        d.start()
        started.append(d)
        return d

    yield make
    for d in started:
        try:
            d.stop(timeout=5)
        except AssertionError:
            pass
        d.kill()


@pytest.fixture
def display_bundle(mosquitto, tmp_path: Path) -> Path:
    """A display bundle for a centre with no server: the test publishes the retained state."""
    bundle = DeviceBundle(centre_id="test-centre", centre_name="Huduma Centre Test", device_id="display-t",
                          kind="display", role=Role.display, token="t" * 32, server_url="http://127.0.0.1:9",
                          mqtt_url=mosquitto.url)
    path = tmp_path / "display-t.json"
    path.write_text(bundle.model_dump_json())
    return path


@pytest.fixture
def publisher(mosquitto):
    pub = Publisher(mosquitto.url)
    yield pub
    pub.close()


@dataclass
class Screen:
    """A bare X server of one size (no window manager, as signage PCs run)."""

    display: str
    width: int
    height: int
    proc: subprocess.Popen

    def grab(self, dest: Path) -> Path:
        """The whole X screen as the people in the hall see it (not the app's own drawing)."""
        from PIL import ImageGrab

        image = ImageGrab.grab(xdisplay=self.display)
        assert image.size == (self.width, self.height)
        image.save(dest)
        return dest

    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.display, "DISPLAY_TEST_SIZE": "screen"}


@pytest.fixture
def screen_factory():
    """Start Xvfb screens of given sizes (each on its own display number); stopped at the end."""
    started: list[Screen] = []

    def make(width: int, height: int) -> Screen:
        display, proc = start_xvfb(width, height)
        screen = Screen(display, width, height, proc)
        started.append(screen)
        return screen

    yield make
    for screen in started:
        stop_process(screen.proc)
