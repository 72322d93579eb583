"""Issue 16: a counter command's ``device_id`` is the sender's word; the server acts and answers only
for a registered bridge whose bundle lists the counter (real server process, real Mosquitto)."""

from __future__ import annotations

import uuid

from centre_server.contract import CounterCommand, Reply, Topics
from provisioning.devices import add_device
from tests.centre_server.test_server_process import Listener

T = Topics("demo")


def command(device_id: str | None, action: str = "call_next") -> tuple[str, bytes]:
    request_id = uuid.uuid4().hex
    return request_id, CounterCommand(action=action, request_id=request_id, device_id=device_id).to_bytes()


def test_a_bridge_cannot_route_replies_to_another_device(centre_server, mosquitto):
    centre = centre_server.centre
    add_device(centre.path, "bridge", "bridge-2", counters=["c04"], qr=False)  # beside the demo's bridge-1 (c01-c03)
    sub = Listener(mosquitto.port)
    try:
        sub.wait_for(lambda m: m[0] == T.server_availability and m[1] == b"online")
        kiosk = centre_server.client(centre.bundle("kiosk-1")["token"])
        clerk = centre_server.client(centre_server.login("clerk"))
        assert clerk.post("/api/v1/counters/c01/open", json={"services": ["kra-pin"]}).status_code == 200
        tickets = [kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"},
                              headers={"Idempotency-Key": uuid.uuid4().hex}).json() for _ in range(2)]

        # bridge-1, on its own counter's topic, names bridge-2 (whose bundle is c04), a kiosk, a stranger,
        # nobody, and a malformed command naming bridge-2: none is acted on, none is answered.
        for claimed in ("bridge-2", "kiosk-1", "ghost-9", None):
            _, payload = command(claimed)
            sub.publish(T.cmd_counter("c01"), payload)
        sub.publish(T.cmd_counter("c01"), b'{"action":"explode","request_id":"evil","device_id":"bridge-2"}')
        # then bridge-1 as itself: acted on, answered on its own reply topic
        mine, payload = command("bridge-1")
        sub.publish(T.cmd_counter("c01"), payload)
        reply = Reply.model_validate_json(sub.wait_for(lambda m: m[0] == T.reply("bridge-1"))[1])
        assert reply.request_id == mine and reply.status == "ok"
        # The server handles one publisher's messages in order: by now any answer to the refused ones was sent.
        assert reply.data["ticket"] == tickets[0]["number"], "a refused command moved the queue"
        with sub.lock:
            answered = [t for t, _, _ in sub.messages if t.startswith(f"{T.base}/reply/")]
        assert answered == [T.reply("bridge-1")], answered

        # bridge-2's own counter from bridge-2 is fine; the refusals were logged, not silent.
        manager = centre_server.client(centre_server.login("manager"))  # the clerk holds c01: one counter each
        assert manager.post("/api/v1/counters/c04/open", json={"services": ["kra-pin"]}).status_code == 200
        theirs, payload = command("bridge-2")
        sub.publish(T.cmd_counter("c04"), payload)
        reply = Reply.model_validate_json(sub.wait_for(lambda m: m[0] == T.reply("bridge-2"))[1])
        assert reply.request_id == theirs and reply.status == "ok" and reply.data["ticket"] == tickets[1]["number"]
        log = centre_server.log_path.read_text()
        assert log.count("no bridge of that name drives the counter") == 4, log[-3000:]
        assert "'bridge-2'" in log and "'ghost-9'" in log
    finally:
        sub.close()
