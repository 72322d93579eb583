"""Faults under steady load: the server killed -9, the broker killed; nothing acknowledged is lost."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt

from centre_server.contract import CounterCommand, Topics
from provisioning.devices import add_device
from tests.conftest import wait_until


class Display:
    """A hall display's view: the retained counter states, kept by a reconnecting MQTT client."""

    def __init__(self, port: int) -> None:
        self.topics = Topics("demo")
        self.counters: dict[str, dict] = {}
        self.server = ""
        self.lock = threading.Lock()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"display-{uuid.uuid4().hex[:6]}")
        c.reconnect_delay_set(0.2, 1)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(
            [(self.topics.all_counter_states, 1), (self.topics.server_availability, 1)])
        c.on_message = self._on_message
        c.connect("127.0.0.1", port, keepalive=5)
        c.loop_start()
        self.client = c

    def _on_message(self, client, userdata, msg) -> None:
        kind, ident = self.topics.parse(msg.topic)
        with self.lock:
            if kind == "counter_state":
                self.counters[ident] = json.loads(msg.payload)
            else:
                self.server = msg.payload.decode()

    def view(self) -> dict[str, tuple]:
        with self.lock:
            return {k: (v["state"], v["ticket"]) for k, v in self.counters.items()}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Keypad:
    """A counter keypad on the broker: NEXT presses, replies counted."""

    def __init__(self, port: int, counter: str) -> None:
        self.topics, self.counter = Topics("demo"), counter
        self.device = f"keypad-{counter}"
        self.replies: list[dict] = []
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.device)
        c.reconnect_delay_set(0.2, 1)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(self.topics.reply(self.device), 1)
        c.on_message = lambda cl, u, m: self.replies.append(json.loads(m.payload))
        c.connect("127.0.0.1", port, keepalive=5)
        c.loop_start()
        self.client = c

    def press_next(self) -> None:
        cmd = CounterCommand(action="call_next", request_id=uuid.uuid4().hex, device_id=self.device)
        self.client.publish(self.topics.cmd_counter(self.counter), cmd.to_bytes(), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_kill9_and_broker_kill_under_load(centre_server, mosquitto):
    server = centre_server
    # one member of staff holds one counter: three counters, three of the demo's staff
    tokens = {cid: server.login(who) for cid, who in (("c12", "clerk"), ("c13", "manager"), ("c24", "admin"))}
    for cid, services in (("c12", ["kra-pin"]), ("c13", ["kra-pin"]), ("c24", ["helb"])):
        with server.client(tokens[cid]) as c:
            assert c.post(f"/api/v1/counters/{cid}/open", json={"services": services}).status_code == 200
    issued: dict[str, str] = {}
    called: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def kiosk(n: int) -> None:
        token = server.centre.bundle(f"kiosk-{1 + n % 2}")["token"]
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=2) as c:
            i = 0
            while not stop.is_set():
                i += 1
                key = f"{n}-{i}"
                for _attempt in range(50):  # a kiosk retries the same confirmation until it is answered
                    try:
                        r = c.post("/api/v1/tickets", json={"service_id": ["kra-pin", "helb"][i % 2]},
                                   headers={"Idempotency-Key": key})
                    except httpx.HTTPError:
                        time.sleep(0.1)
                        continue
                    if r.status_code in (200, 201):
                        with lock:
                            issued[r.json()["id"]] = r.json()["number"]
                    elif r.status_code >= 500:
                        errors.append(r.text)
                    break
                time.sleep(0.02)

    def clerk(counter: str) -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens[counter]}"},
                          timeout=2) as c:
            while not stop.is_set():
                try:
                    r = c.post(f"/api/v1/counters/{counter}/call-next")
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                if r.status_code == 200:
                    with lock:
                        called[r.json()["id"]] = counter
                    try:  # the citizen comes (a call over one only called is refused, finding 11)
                        c.post(f"/api/v1/counters/{counter}/start")
                    except httpx.HTTPError:
                        pass
                elif r.status_code >= 500:
                    errors.append(r.text)
                time.sleep(0.1)

    display = Display(mosquitto.port)
    # the server answers only a registered bridge whose bundle lists the counter
    add_device(centre_server.centre.path, "bridge", "keypad-c24", counters=["c24"], qr=False)
    keypad = Keypad(mosquitto.port, "c24")
    threads = [threading.Thread(target=kiosk, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=clerk, args=(c,)) for c in ("c12", "c13")]
    for th in threads:
        th.start()
    recovery: list[float] = []
    try:
        for _round in range(2):
            time.sleep(1.5)
            for _ in range(5):
                keypad.press_next()
            server.kill9()
            time.sleep(0.3)
            server.start()
            time.sleep(1.0)
        # the broker dies too, and comes back empty (no persistence)
        mosquitto.proc.send_signal(signal.SIGKILL)
        mosquitto.proc.wait()
        time.sleep(0.5)
        mosquitto.start()
        time.sleep(1.0)
        keypad.press_next()
    finally:
        stop.set()
        for th in threads:
            th.join()
    try:
        # the display shows the truth within 5 s, from retained state alone
        def truth() -> dict[str, tuple]:
            rows = server.client(tokens["c12"]).get("/api/v1/counters").json()
            return {r["id"]: (r["state"], r["serving"]["number"] if r["serving"] else None) for r in rows}

        shown_from = time.monotonic()
        wait_until(lambda: display.view() == truth() and display.server == "online", 5.0,
                   "the display to show the truth again")
        recovery.append(time.monotonic() - shown_from)
        assert keypad.replies, "the keypad's presses were never answered"
    finally:
        display.close()
        keypad.close()
    assert not errors, errors[:3]
    assert len(issued) > 30 and len(called) > 5
    db = sqlite3.connect(server.centre.path / "centre.db")
    rows = {r[0]: r[1:] for r in db.execute("SELECT id, number, state, counter_id FROM tickets")}
    for tid, number in issued.items():
        assert rows[tid][0] == number, f"acknowledged ticket {number} lost"
    for tid, counter in called.items():
        assert rows[tid][1] in ("called", "serving", "done") and rows[tid][2] == counter, "an acknowledged call lost"
    per_service = [r[0] for r in db.execute("SELECT service_id || ':' || number FROM tickets")]
    assert len(per_service) == len(set(per_service)), "a number issued twice"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
