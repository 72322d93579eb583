"""A server cut off from its commands notices and comes back (issue 16, attack 1, the server's side).

On a broker that does not bind client ids to users (here the embedded broker without the centre's
registry, as an older or misconfigured broker would be), a client that takes the server's id leaves the
server's connection open but deaf: no command reaches it, and /healthz used to say "connected". Now
the server's own probes stop coming back, /healthz says "cut_off", and it connects afresh.
"""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest

from centre_server.config import load_settings
from centre_server.contract import CounterAction, CounterCommand, Reply, Topics
from centre_server.mqtt.broker import EmbeddedBroker
from tests.conftest import CentreProcess, free_port
from tests.security.conftest import set_toml

T = Topics("demo")


@pytest.fixture
def open_broker():
    broker = EmbeddedBroker("127.0.0.1", free_port())  # anyone may connect, with any client id
    broker.start()
    yield broker
    broker.stop()


class Keypad:
    def __init__(self, port: int) -> None:
        self.replies: set[str] = set()
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bridge-1-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(T.reply("bridge-1"), qos=1), self.ready.set())
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)
        time.sleep(0.3)  # the subscription is in before the first command

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.replies.add(Reply.model_validate_json(msg.payload).request_id)

    def press(self, n: int, wait: float) -> int:
        """Send ``n`` call-next commands; how many were answered within ``wait`` seconds."""
        sent = [uuid.uuid4().hex[:10] for _ in range(n)]
        for rid in sent:
            cmd = CounterCommand(action=CounterAction.call_next, request_id=rid, device_id="bridge-1")
            self.client.publish(T.cmd_counter("c01"), cmd.to_bytes(), qos=1)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not all(r in self.replies for r in sent):
            time.sleep(0.05)
        with self.lock:
            return sum(r in self.replies for r in sent)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_deaf_link_is_noticed_and_reconnected(centre_dir, open_broker, tmp_path):
    set_toml(centre_dir.path / "centre.toml", "mqtt", "probe_interval_s", "1")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", open_broker.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    keypad = Keypad(open_broker.port)
    try:
        assert keypad.press(5, 10) == 5
        username = load_settings(centre_dir.path).mqtt.username
        for client_id in (f"huduma-centre-{T.centre_id}", username):  # the server's id, before and now
            intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
            intruder.connect("127.0.0.1", open_broker.port)
            intruder.loop_start()
            time.sleep(2)  # hold the id for 2 s, then leave
            intruder.disconnect()
            intruder.loop_stop()
        said: set[str] = set()
        deadline = time.monotonic() + 30
        answered = 0
        while time.monotonic() < deadline and answered < 5:
            said.add(httpx.get(server.url + "/healthz").json()["broker"])
            answered = keypad.press(5, 0.5) if "cut_off" in said else 0
        assert answered == 5, f"the server stayed deaf (healthz said {said})"
        assert "cut_off" in said
        deadline = time.monotonic() + 15  # the next probe that comes back says it is whole again
        while time.monotonic() < deadline and httpx.get(server.url + "/healthz").json()["broker"] != "connected":
            time.sleep(0.1)
        assert httpx.get(server.url + "/healthz").json()["broker"] == "connected"
        assert "no longer delivers the server's own messages" in server.log_path.read_text()
    finally:
        keypad.close()
        server.stop()
