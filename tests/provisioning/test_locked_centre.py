"""A whole locked-down centre: the real server process, a locked broker, devices with their bundles.

Once with the embedded broker (``huduma-centre serve`` alone) and once with a
real Mosquitto started from ``broker-config``'s files, as the README sets it up.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
import pytest

from centre_server.contract import CounterAction, CounterCommand, Reply, Topics
from tests.conftest import BIN, Centre as FixtureCentre, CentreProcess, free_port, within
from tests.provisioning.conftest import MosquittoBroker, Probe

T = Topics("demo")


@pytest.fixture(params=["embedded", "mosquitto"])
def locked_centre(request, centre, tmp_path):
    """(server process, broker port, broker or None)."""
    creds = json.loads((centre.path / "demo-credentials.json").read_text())
    fixture_centre = FixtureCentre(path=centre.path, credentials=creds)
    broker = None
    if request.param == "mosquitto":
        broker = MosquittoBroker(centre, tmp_path)
        port, args = broker.port, ["--mqtt", f"mqtt://127.0.0.1:{broker.port}"]
    else:
        port = free_port()
        args = ["--mqtt-port", str(port)]
    server = CentreProcess(centre=fixture_centre, port=free_port(), args=args, log_path=tmp_path / "centre.log")
    server.start()
    yield server, port, broker
    server.stop()
    if broker is not None:
        broker.close()


def device(centre, port: int, device_id: str) -> Probe:
    b = centre.bundle(device_id)
    p = Probe(port, b["mqtt_username"], b["mqtt_password"])
    assert p.connect(), f"{device_id} refused: {p.connack}"
    return p


def command(counter_id: str) -> tuple[str, bytes]:
    request_id = uuid.uuid4().hex[:12]
    return request_id, CounterCommand(action=CounterAction.call_next, request_id=request_id,
                                      device_id="bridge-1").to_bytes()


def replies(probe: Probe) -> dict[str, Reply]:
    return {r.request_id: r for r in (Reply.model_validate_json(p) for p in probe.received(T.reply("bridge-1")))}


def test_a_locked_centre_runs_and_revocation_bites(locked_centre, centre):
    server, port, broker = locked_centre
    assert httpx.get(server.url + "/healthz").json()["broker"] == "connected"
    probes = []
    try:
        display = device(centre, port, "display-1")
        probes.append(display)
        assert display.subscribe(T.server_availability) and display.subscribe(T.all_counter_states)
        assert within(lambda: display.received(T.server_availability) == [b"online"], 10)

        bridge = device(centre, port, "bridge-1")
        probes.append(bridge)
        assert bridge.subscribe(T.reply("bridge-1"))
        clerk = server.client(server.login("clerk"))
        assert clerk.post("/api/v1/counters/c01/open", json={}).status_code == 200
        kiosk = server.client(centre.bundle("kiosk-1")["token"])
        service = clerk.get("/api/v1/counters/c01").json()["services"][0]
        ticket = kiosk.post("/api/v1/tickets", json={"service_id": service},
                            headers={"Idempotency-Key": uuid.uuid4().hex}).json()

        # the bridge's keypad on a counter it does not drive: the broker drops it, the server never sees it
        foreign, payload = command("c09")
        bridge.publish(T.cmd_counter("c09"), payload)
        mine, payload = command("c01")
        bridge.publish(T.cmd_counter("c01"), payload)
        assert within(lambda: mine in replies(bridge), 10), "the server never answered the bridge"
        answer = replies(bridge)[mine]
        assert answer.status == "ok" and answer.data and answer.data.get("ticket") == ticket["number"]
        assert within(lambda: foreign in replies(bridge), 0.5) is False
        assert within(lambda: any(json.loads(p).get("ticket") == ticket["number"]
                                  for p in display.received(T.counter_state("c01"))), 10)

        # revoke the bridge with the technician's tool, beside the running centre
        b = centre.bundle("bridge-1")
        out = subprocess.run([str(BIN / "huduma-provision"), "revoke-device", str(centre.path), "bridge-1",
                              "--reason", "stolen"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        if broker is not None:
            assert "reloaded" in out.stderr
            assert within(lambda: not bridge.client.is_connected(), 10), "Mosquitto kept the revoked bridge on"
        again = Probe(port, b["mqtt_username"], b["mqtt_password"])
        probes.append(again)
        assert not again.connect(), "a revoked bridge logged in again"
        r = httpx.get(server.url + "/api/v1/counters", headers={"Authorization": f"Bearer {b['token']}"})
        assert r.status_code == 401
        # everyone else carries on
        assert httpx.get(server.url + "/healthz").json()["broker"] == "connected"
        assert device(centre, port, "kiosk-1")
    finally:
        for p in probes:
            p.close()
