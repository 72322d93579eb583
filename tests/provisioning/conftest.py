"""Fixtures for provisioning: a provisioned centre, a locked-down Mosquitto and embedded broker, MQTT probes."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from centre_server.config import load_settings
from centre_server.mqtt.broker import EmbeddedBroker
from provisioning.broker import broker_config
from provisioning.centre import init_centre
from tests.conftest import free_port, need_tool, stop_process, wait_port, within


@dataclass
class Centre:
    path: Path

    def bundle(self, device_id: str) -> dict:
        return json.loads((self.path / "devices" / f"{device_id}.json").read_text())

    def server_credentials(self) -> tuple[str, str]:
        s = load_settings(self.path)
        return s.mqtt.username, s.mqtt.password

    def credentials(self, device_id: str) -> tuple[str, str]:
        b = self.bundle(device_id)
        return b["mqtt_username"], b["mqtt_password"]


@pytest.fixture(scope="session")
def centre_template(tmp_path_factory) -> Path:
    """One demo centre (kiosk-1, kiosk-2, display-1, bridge-1 on c01..c03) made through the library.

    Tests get copies: hashing staff passwords with argon2 is slow on purpose.
    """
    path = tmp_path_factory.mktemp("template") / "centre"
    init_centre(path, demo=True)
    return path


@pytest.fixture
def centre(centre_template: Path, tmp_path: Path) -> Centre:
    """A fresh copy of the demo centre for one test."""
    path = tmp_path / "centre"
    shutil.copytree(centre_template, path)
    return Centre(path)


class Probe:
    """A paho client that records what it receives; connect() reports the broker's answer."""

    def __init__(self, port: int, username: str | None, password: str | None, *, will: str | None = None,
                 client_id: str | None = None) -> None:
        self.port = port
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.connack: mqtt.ReasonCode | None = None
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.granted: dict[int, list] = {}
        # a client id of the user's own (brokers refuse another user's), unless a test asks for one
        client_id = client_id or f"{username + '-' if username else ''}probe-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will, b'{"action":"call_next","request_id":"will"}', qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack = reason_code
        if not reason_code.is_failure:
            self.connected.set()
        self.answered.set()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.granted[mid] = list(reason_codes)

    def connect(self, timeout: float = 10.0) -> bool:
        """True when the broker accepted the login; False when it refused or hung up."""
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        answered = self.answered.wait(timeout)
        if not self.connected.is_set():
            self.client.loop_stop()
            self.client.disconnect()
        return answered and self.connected.is_set()

    def subscribe(self, topic: str, timeout: float = 5.0) -> bool:
        """Subscribe; True when the broker granted it."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert within(lambda: mid in self.granted, timeout), f"no SUBACK for {topic}"
        return not self.granted[mid][0].is_failure

    def publish(self, topic: str, payload: bytes | str, timeout: float = 5.0) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)

    def try_publish(self, topic: str, payload: bytes | str) -> bool:
        """Publish if still connected (a broker may have hung up on a revoked device)."""
        if not self.client.is_connected():
            return False
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(2)
        except (RuntimeError, ValueError):
            return False
        return True

    def received(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class BrokerUnderTest:
    """A broker locked down by the centre's registry: real Mosquitto with generated files, or embedded."""

    kind = ""
    port = 0

    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self.probes: list[Probe] = []

    def probe(self, username: str | None, password: str | None, **kw) -> Probe:
        p = Probe(self.port, username, password, **kw)
        self.probes.append(p)
        return p

    def login(self, device_id: str) -> Probe:
        creds = self.centre.server_credentials() if device_id == "server" else self.centre.credentials(device_id)
        p = self.probe(*creds)
        assert p.connect(), f"{device_id} was refused by the {self.kind} broker: {p.connack}"
        return p

    def apply_registry_change(self) -> None:
        """What it takes for a revoke or rotate to reach the broker."""

    def close(self) -> None:
        for p in self.probes:
            try:
                p.close()
            except Exception:
                pass


class MosquittoBroker(BrokerUnderTest):
    kind = "mosquitto"

    def __init__(self, centre: Centre, workdir: Path) -> None:
        super().__init__(centre)
        exe = need_tool("mosquitto")
        self.port = free_port()
        self.dir = workdir / "mosquitto"
        self.files = broker_config(centre.path, self.dir, port=self.port, bind="127.0.0.1")
        self.log = open(self.dir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([exe, "-c", str(self.files.conf)], stdout=self.log, stderr=self.log)
        wait_port(self.port)
        assert within(lambda: (self.dir / "mosquitto.pid").is_file(), 5)

    def apply_registry_change(self) -> None:
        # revoke/rotate already rewrote the files and sent SIGHUP through the pid file; wait for the reload
        log = self.dir / "mosquitto.log"
        within(lambda: "Reloading config" in log.read_text(errors="replace")
               or "reload" in log.read_text(errors="replace").lower(), 5)

    def log_text(self) -> str:
        return (self.dir / "mosquitto.log").read_text(errors="replace")

    def close(self) -> None:
        super().close()
        stop_process(self.proc, 5)
        self.log.close()


class Embedded(BrokerUnderTest):
    kind = "embedded"

    def __init__(self, centre: Centre) -> None:
        super().__init__(centre)
        self.port = free_port()
        settings = load_settings(centre.path)
        # the server user comes from the registry here (its $7$ hash), like any device
        self.broker = EmbeddedBroker("127.0.0.1", self.port, db_path=settings.db_path, centre_id=settings.centre_id)
        self.broker.start()

    def apply_registry_change(self) -> None:
        """Nothing: the plugins see the database change on their next decision."""

    def close(self) -> None:
        super().close()
        self.broker.stop()


@pytest.fixture(params=["mosquitto", "embedded"])
def locked_broker(request, centre: Centre, tmp_path: Path):
    """The same table of cases runs against both brokers."""
    broker = MosquittoBroker(centre, tmp_path) if request.param == "mosquitto" else Embedded(centre)
    yield broker
    broker.close()
