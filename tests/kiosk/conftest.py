"""Kiosk fixtures: a kiosk config pointing at the test's centre, and the app driver in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.conftest import artifacts_dir, start_xvfb, stop_process, wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = artifacts_dir("kiosk")


def kiosk_config(centre_server, mosquitto, tmp_path: Path, printer: dict, **kiosk) -> Path:
    """The provisioned kiosk-1 bundle, pointed at this test's server and broker, plus settings."""
    bundle = centre_server.centre.bundle("kiosk-1")
    bundle["server_url"] = centre_server.url
    bundle["mqtt_url"] = mosquitto.url
    bundle["printer"] = printer
    # offer_visits off unless a test asks: the older journeys go from a service straight to priority
    bundle["kiosk"] = {"fullscreen": False, "staff_pin": "2468", "staff_press_s": 1.0,
                       "idle_timeout_s": 60, "offer_visits": False, **kiosk}
    path = tmp_path / "kiosk.json"
    path.write_text(json.dumps(bundle, indent=1))
    return path


@dataclass
class KioskRun:
    """One driver subprocess playing one scenario on the real app."""

    out: Path
    proc: subprocess.Popen

    def wait_mark(self, name: str, timeout: float = 60.0) -> None:
        def reached() -> bool:
            if self.proc.poll() is not None and not (self.out / f"mark-{name}").exists():
                raise AssertionError(f"kiosk exited before {name}: {self.describe()}")
            return (self.out / f"mark-{name}").exists()

        wait_until(reached, timeout, lambda: f"the kiosk to reach {name}: {self.describe()}")

    def go(self, name: str) -> None:
        (self.out / f"go-{name}").write_text("1")

    def result(self, timeout: float = 120.0) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"kiosk driver hung: {self.describe()}") from None
        path = self.out / "result.json"
        assert path.exists(), f"no result from the driver: {self.describe()}"
        result = json.loads(path.read_text())
        assert result["ok"], f"scenario failed: {result.get('error')}\n{result.get('traceback')}\n{self.describe()}"
        return result

    def describe(self) -> str:
        log = self.out / "kiosk.log"
        err = self.out / "stderr.txt"
        tail = log.read_text()[-3000:] if log.exists() else ""
        etail = err.read_text()[-3000:] if err.exists() else ""
        return f"\n--- kiosk.log ---\n{tail}\n--- stderr ---\n{etail}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def run_kiosk(xvfb, tmp_path: Path):
    """Start ``driver.py CONFIG SCENARIO OUT``; screenshots land in tests/artifacts/kiosk/."""
    runs: list[KioskRun] = []

    def start(config: Path, scenario: str, env: dict | None = None) -> KioskRun:
        out = tmp_path / f"run-{scenario}-{len(runs)}"
        out.mkdir()
        home = tmp_path / "kivy-home"
        home.mkdir(exist_ok=True)
        full_env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
                    "KIVY_HOME": str(home), "DISPLAY": xvfb, "KIOSK_DRIVER_TIMEOUT": "150",
                    **(env or {})}
        stderr = open(out / "stderr.txt", "wb")
        proc = subprocess.Popen([sys.executable, str(HERE / "driver.py"), str(config), scenario, str(out)],
                                env=full_env, cwd=ROOT, stdout=stderr, stderr=stderr)
        run = KioskRun(out=out, proc=proc)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()
        for png in run.out.glob("*.png"):  # keep what a person should look at
            png.replace(ARTIFACTS / png.name)


class Retained:
    """Collects messages on some topics from a real broker (retained ones arrive at once)."""

    def __init__(self, url: str, *topics: str) -> None:
        from centre_server.contract import parse_mqtt_url

        host, port = parse_mqtt_url(url)
        self.messages: dict[str, bytes] = {}
        self.history: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages[msg.topic] = msg.payload
            self.history.append((msg.topic, msg.payload))

    def wait_for(self, topic: str, pred, timeout: float = 15.0) -> bytes:
        def matching() -> tuple[bytes] | None:  # a tuple: an empty payload may be the one awaited
            with self._lock:
                payload = self.messages.get(topic)
            return (payload,) if payload is not None and pred(payload) else None

        return wait_until(matching, timeout, lambda: f"{topic}: last payload {self.messages.get(topic)!r}")[0]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def screen_of():
    """A bare X server (no window manager) of a given size, e.g. a portrait 1080x1920 kiosk screen."""
    procs: list[subprocess.Popen] = []

    def start(width: int, height: int) -> str:
        display, proc = start_xvfb(width, height)
        procs.append(proc)
        return display

    yield start
    for proc in procs:
        stop_process(proc)
