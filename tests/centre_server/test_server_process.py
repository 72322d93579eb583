"""The centre server as a real process against a real broker: MQTT contract, crashes, embedded broker."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt

from centre_server.contract import CounterCommand, CounterStatePayload, EventPayload, Reply, Topics
from provisioning.devices import add_device
from tests.conftest import BIN, CentreProcess, free_port, wait_until


class Listener:
    """A plain MQTT subscriber recording everything under ``huduma/#``."""

    def __init__(self, port: int, topic: str | list[str] = "huduma/#") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        topics = [topic] if isinstance(topic, str) else topic
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))

    def wait_for(self, pred, timeout: float = 5.0):
        def first() -> tuple | None:
            with self.lock:
                return next((m for m in self.messages if pred(m)), None)

        return wait_until(first, timeout, lambda: f"such a message; saw {[m[0] for m in self.messages][-20:]}",
                          interval=0.02)

    def publish(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_events_retained_state_and_commands_over_mqtt(centre_server, mosquitto):
    topics = Topics("demo")
    sub = Listener(mosquitto.port)
    try:
        sub.wait_for(lambda m: m[0] == topics.server_availability and m[1] == b"online")
        kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
        clerk = centre_server.client(centre_server.login("clerk"))
        t = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).json()
        ev = sub.wait_for(lambda m: m[0] == topics.event("ticket_issued"))
        issued = EventPayload.model_validate_json(ev[1])
        assert issued.number == t["number"] and issued.seq >= 1 and "phone" not in json.loads(ev[1])
        sub.wait_for(lambda m: m[0] == topics.service_state("kra-pin") and json.loads(m[1])["waiting"] == 1)
        assert clerk.post("/api/v1/counters/c12/open").status_code == 200
        # the server answers a keypad only through a registered bridge whose bundle lists the counter
        add_device(centre_server.centre.path, "bridge", "bridge-12", counters=["c12"], qr=False)
        # a keypad's command through the broker, answered on its reply topic
        request_id = uuid.uuid4().hex
        sub.publish(topics.cmd_counter("c12"),
                    CounterCommand(action="call_next", request_id=request_id, device_id="bridge-12").to_bytes())
        reply = Reply.model_validate_json(sub.wait_for(lambda m: m[0] == topics.reply("bridge-12"))[1])
        assert reply.request_id == request_id and reply.status == "ok" and reply.data["ticket"] == t["number"]
        called = sub.wait_for(lambda m: m[0] == topics.event("ticket_called"))
        assert EventPayload.model_validate_json(called[1]).counter_id == "c12"
        # nothing more waits: the keypad gets an error reply, not silence
        sub.publish(topics.cmd_counter("c12"), CounterCommand(action="call_next", request_id="r2",
                                                              device_id="bridge-12").to_bytes())
        err = sub.wait_for(lambda m: m[0] == topics.reply("bridge-12") and b'"r2"' in m[1])
        assert Reply.model_validate_json(err[1]).status == "error"
        # garbage on every topic the server reads is dropped; the server keeps serving
        for payload in (b"", b"{", b"\xff\xfe", b"[]", b'{"action":"explode","request_id":"x"}', b"x" * 100_000):
            sub.publish(topics.cmd_counter("c12"), payload)
            sub.publish(topics.cmd_feedback("c12"), payload)
            sub.publish(topics.device_status("kiosk-1"), payload)
        sub.publish(topics.cmd_feedback("c12"), json.dumps({"counter_id": "c12", "rating": 4}))
        assert centre_server.client().get("/healthz").json()["broker"] == "connected"
        assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).status_code == 201
        time.sleep(0.3)
        db = sqlite3.connect(centre_server.centre.path / "centre.db")
        assert db.execute("SELECT rating FROM tickets WHERE id=?", [t["id"]]).fetchone()[0] == 4
    finally:
        sub.close()
    # a late subscriber draws the truth from retained state alone
    late = Listener(mosquitto.port, f"{topics.base}/state/counter/c12")
    try:
        state = CounterStatePayload.model_validate_json(late.wait_for(lambda m: m[2])[1])
        assert state.ticket == t["number"] and state.state == "open"
    finally:
        late.close()


def test_the_secret_ticket_id_never_leaves_the_server_over_mqtt(centre_server, mosquitto):
    """Issue 16: the secret id (the key to /t/ and /join/ pages) was broadcast in every event."""
    topics = Topics("demo")
    sub = Listener(mosquitto.port)
    try:
        sub.wait_for(lambda m: m[0] == topics.server_availability and m[1] == b"online")
        kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
        clerk = centre_server.client(centre_server.login("clerk"))
        t = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).json()
        assert clerk.post("/api/v1/counters/c12/open").status_code == 200
        assert clerk.post("/api/v1/counters/c12/call-next").status_code == 200
        called = EventPayload.model_validate_json(sub.wait_for(lambda m: m[0] == topics.event("ticket_called"))[1])
        state = sub.wait_for(lambda m: m[0] == topics.counter_state("c12") and b'"ticket":"' in m[1])
        assert called.number == t["number"] and called.ticket_id and called.ticket_id != t["id"]
        # stable: the call and the counter's state name the same public id, so a board sees a new call
        assert CounterStatePayload.model_validate_json(state[1]).ticket_id == called.ticket_id
        time.sleep(0.3)
        with sub.lock:
            leaked = [topic for topic, payload, _ in sub.messages if t["id"].encode() in payload]
        assert not leaked, leaked
    finally:
        sub.close()


def test_a_rush_gets_every_event_and_one_service_state_for_many_tickets(centre_server, mosquitto):
    """Every ticket has its event, in order; the service's retained state is published for a rush
    as a whole (at most every 0.1 s), and its last word is the true count."""
    from concurrent.futures import ThreadPoolExecutor

    topics = Topics("demo")
    sub = Listener(mosquitto.port, [topics.event("ticket_issued"), topics.service_state("helb")])
    try:
        sub.wait_for(lambda m: m[0] == topics.service_state("helb"))  # the retained state, before the rush
        kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
        n = 40
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: kiosk.post("/api/v1/tickets", json={"service_id": "helb"},
                                                       headers={"Idempotency-Key": f"rush-{i}"}).status_code,
                                  range(n)))
        assert codes == [201] * n
        sub.wait_for(lambda m: m[0] == topics.service_state("helb") and json.loads(m[1])["waiting"] == n)
        time.sleep(0.3)  # anything still to come would come now
        with sub.lock:
            events = [json.loads(m[1]) for m in sub.messages if m[0] == topics.event("ticket_issued")]
            states = [json.loads(m[1]) for m in sub.messages if m[0] == topics.service_state("helb")][1:]
        assert len(events) == n and [e["seq"] for e in events] == sorted(e["seq"] for e in events)
        assert states[-1]["waiting"] == n and 1 <= len(states) < n, f"{len(states)} states for {n} tickets"
    finally:
        sub.close()


def test_availability_on_clean_stop_and_on_crash(centre_server, mosquitto):
    topics = Topics("demo")
    centre_server.stop()
    sub = Listener(mosquitto.port, topics.server_availability)
    try:
        sub.wait_for(lambda m: m[1] == b"offline" and m[2])
    finally:
        sub.close()
    centre_server.start()
    sub = Listener(mosquitto.port, topics.server_availability)
    try:
        sub.wait_for(lambda m: m[1] == b"online")
        centre_server.kill9()
        sub.wait_for(lambda m: m[1] == b"offline", timeout=10)  # the last will
    finally:
        sub.close()


def test_broker_restart_restores_retained_state(centre_server, mosquitto):
    kiosk = centre_server.client(centre_server.centre.bundle("kiosk-1")["token"])
    t = kiosk.post("/api/v1/tickets", json={"service_id": "helb"}).json()
    mosquitto.restart()  # no persistence: it comes back empty
    time.sleep(0.5)
    wait_until(lambda: centre_server.client().get("/healthz").json()["broker"] == "connected", 14.5,  # 15 s in all
               "the server to reconnect", interval=0.1)
    sub = Listener(mosquitto.port, "huduma/demo/state/service/helb")
    try:
        m = sub.wait_for(lambda m: json.loads(m[1])["waiting"] == 1, timeout=15)
        assert m[2], "service state must be retained"
    finally:
        sub.close()
    assert t["number"] == "L001"


def test_kill9_under_load_loses_no_acknowledged_ticket(centre_server):
    """Kiosks issue tickets in a loop while the server is killed -9 three times."""
    token = centre_server.centre.bundle("kiosk-1")["token"]
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def kiosk_loop(n: int) -> None:
        with httpx.Client(base_url=centre_server.url, headers={"Authorization": f"Bearer {token}"},
                          timeout=2) as c:
            i = 0
            while not stop.is_set():
                i += 1
                key = f"k{n}-{i}"
                try:
                    r = c.post("/api/v1/tickets", json={"service_id": ["kra-pin", "helb", "posta"][i % 3]},
                               headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged[r.json()["id"]] = r.json()["number"]

    threads = [threading.Thread(target=kiosk_loop, args=(n,)) for n in range(3)]
    for th in threads:
        th.start()
    try:
        for _ in range(3):
            deadline = time.monotonic() + 10
            start = len(acknowledged)
            while len(acknowledged) < start + 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            centre_server.kill9()
            centre_server.start()
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert len(acknowledged) >= 60
    db = sqlite3.connect(centre_server.centre.path / "centre.db")
    rows = dict(db.execute("SELECT id, number FROM tickets"))
    for tid, number in acknowledged.items():
        assert rows.get(tid) == number, f"acknowledged ticket {number} lost"
    numbers = [r[0] for r in db.execute("SELECT service_id || number FROM tickets")]
    assert len(numbers) == len(set(numbers)), "a number was issued twice"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # no half-done change: the event log and the tickets table tell the same story
    issued = {json.loads(d)["ticket_id"] for (d,) in db.execute("SELECT data FROM events WHERE type='ticket_issued'")}
    assert issued == set(rows)
    seqs = [s for (s,) in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_embedded_broker_when_none_is_named(centre_dir, tmp_path):
    """A demo centre's embedded broker lets anyone watch, read-only (anonymous_read in centre.toml)."""
    port = free_port()
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt-port", str(port)],
                           log_path=tmp_path / "s.log")
    server.start()
    try:
        sub = Listener(port, ["huduma/+/server/availability", "huduma/demo/event/#"])
        try:
            sub.wait_for(lambda m: m[0] == "huduma/demo/server/availability" and m[1] == b"online" and m[2])
            kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
            t = kiosk.post("/api/v1/tickets", json={"service_id": "posta"}).json()
            ev = sub.wait_for(lambda m: m[0] == "huduma/demo/event/ticket_issued")
            assert json.loads(ev[1])["number"] == t["number"]
            # a plain "huduma/#" watcher (an operator's mosquitto_sub) gets state and events, never commands
            wide = Listener(port, "huduma/#")
            try:
                wide.wait_for(lambda m: m[0] == "huduma/demo/state/hall" and m[2])
                clerk_c = server.client(server.login("clerk"))
                assert clerk_c.post("/api/v1/counters/c01/open").status_code == 200
                bundle = centre_dir.bundle("bridge-1")
                bridge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bridge-1")
                bridge.username_pw_set(bundle["mqtt_username"], bundle["mqtt_password"])
                bridge.connect("127.0.0.1", port)
                bridge.loop_start()
                try:
                    bridge.publish("huduma/demo/cmd/counter/c01", CounterCommand(
                        action="pause", request_id="w", device_id="bridge-1").to_bytes(), qos=1).wait_for_publish(5)
                    time.sleep(0.8)
                finally:
                    bridge.loop_stop()
                    bridge.disconnect()
                # the bridge's command went through
                assert clerk_c.get("/api/v1/counters/c01").json()["state"] == "paused"
                assert not [m for m in wide.messages if "/cmd/" in m[0] or "/reply/" in m[0]]
            finally:
                wide.close()
            # read-only: a command from an anonymous client never reaches the server
            clerk = server.client(server.login("clerk"))
            assert clerk.post("/api/v1/counters/c28/open", json={"services": ["posta"]}).status_code == 200
            sub.publish("huduma/demo/cmd/counter/c28", CounterCommand(
                action="call_next", request_id="anon", device_id="anon").to_bytes())
            time.sleep(0.8)
            assert server.client().get(f"/api/v1/tickets/{t['id']}").json()["state"] == "waiting"
        finally:
            sub.close()
        assert server.client().get("/healthz").json()["broker"] == "connected"
    finally:
        server.stop()


def test_taken_broker_port_is_never_a_crash(centre_dir, tmp_path, mosquitto):
    # a port held by something that is not a broker: the demo's embedded broker moves
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt-port", str(busy)],
                           log_path=tmp_path / "a.log")
    try:
        server.start()
        assert "is taken by another program" in (tmp_path / "a.log").read_text()
        assert server.client().get("/healthz").json()["broker"] == "connected"
    finally:
        server.stop()
        blocker.close()


def test_a_demo_centre_never_attaches_to_a_strangers_broker(centre_dir, tmp_path, mosquitto):
    """With [mqtt] url empty the first version used whatever broker listened on the port (no ACLs)."""
    config = centre_dir.path / "centre.toml"
    config.write_text(config.read_text().replace("embedded_port = 1883", f"embedded_port = {mosquitto.port}"))
    server = CentreProcess(centre=centre_dir, port=free_port(), args=[], log_path=tmp_path / "b.log")
    try:
        server.start()
        log = (tmp_path / "b.log").read_text()
        assert "is taken by an MQTT broker that is not this centre's" in log
        health = server.client().get("/healthz").json()
        moved = int(health["broker_url"].rsplit(":", 1)[1])
        assert moved != mosquitto.port and health["broker"] == "connected"
        # the devices follow: every bundle and centre.toml name the new port
        for bundle in (centre_dir.path / "devices").glob("*.json"):
            assert json.loads(bundle.read_text())["mqtt_url"].endswith(f":{moved}"), bundle.name
        assert f"embedded_port = {moved}" in config.read_text()
    finally:
        server.stop()


def test_a_demo_served_on_another_port_points_its_links_and_devices_there(centre_dir, tmp_path):
    """`serve --port 8010` left ticket QR codes, SMS links and bundles pointing at :8000."""
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt-port", str(free_port())],
                           log_path=tmp_path / "c.log")
    try:
        server.start()
        assert f"now serves on port {server.port}" in (tmp_path / "c.log").read_text()
        kiosk = json.loads((centre_dir.path / "devices" / "kiosk-1.json").read_text())
        assert kiosk["server_url"] == server.url
        t = server.client(kiosk["token"]).post("/api/v1/tickets", json={"service_id": "kra-pin"}).json()
        assert t["status_url"].startswith(server.url + "/t/")
    finally:
        server.stop()


def test_a_production_centre_stops_when_its_broker_port_is_taken(centre_dir, tmp_path, mosquitto):
    config = centre_dir.path / "centre.toml"
    config.write_text(config.read_text().replace("demo = true", "demo = false"))
    r = subprocess.run([str(BIN / "huduma-centre"), "serve", str(centre_dir.path), "--port", str(free_port()),
                        "--mqtt-port", str(mosquitto.port)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert f"port {mosquitto.port}" in r.stderr and "not this centre's" in r.stderr
    assert "embedded_port" in r.stderr and "[mqtt] url" in r.stderr  # the fix, named


def test_serve_refuses_a_missing_centre_cleanly(tmp_path):
    r = subprocess.run([str(BIN / "huduma-centre"), "serve", str(tmp_path / "nowhere")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "huduma-provision init" in r.stderr and "Traceback" not in r.stderr
