"""End to end: simulated counter hardware on ptys, the bridge process, the real centre server.

A ticket issued at the kiosk's API is called from a keypad, its number appears on
the LED board, a recall beeps, the citizen's rating lands on the ticket, and the
line survives noise and an unplugged cable in between.
"""

from __future__ import annotations

import random
import uuid

from centre_server.contract import Topics
from tests.conftest import wait_until
from tests.firmware_bridge.conftest import device_online, status_of

PORT_DEVICES = [
    {"address": 1, "kind": "keypad", "counter_id": "c01"},
    {"address": 2, "kind": "led", "counter_id": "c01"},
    {"address": 3, "kind": "feedback", "counter_id": "c01"},
]


def issue_ticket(centre_server, centre_dir, service_id: str) -> dict:
    kiosk = centre_dir.bundle("kiosk-1")
    with centre_server.client(kiosk["token"]) as http:
        r = http.post("/api/v1/tickets", json={"service_id": service_id},
                      headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()


def test_keypad_calls_a_ticket_on_the_real_centre(centre_server, centre_dir, mosquitto, probe_factory,
                                                  bridge_factory, sim_factory):
    bundle = dict(centre_dir.bundle("bridge-1"), mqtt_url=mosquitto.url, server_url=centre_server.url)
    assert "c01" in bundle["counters"]
    topics = Topics(bundle["centre_id"])
    probe = probe_factory(mosquitto.url, topics.all_device_status, topics.all_events)

    clerk = centre_server.login("clerk")
    with centre_server.client(clerk) as http:
        r = http.post("/api/v1/counters/c01/open", json={})
        assert r.status_code == 200, r.text
        services = next(c for c in http.get("/api/v1/counters").json() if c["id"] == "c01")["services"]
    first = issue_ticket(centre_server, centre_dir, services[0])
    second = issue_ticket(centre_server, centre_dir, services[0])

    sim = sim_factory("keypad:1,led:2,feedback:3")
    bridge = bridge_factory(bundle, [{"url": sim.link, "baudrate": 19200, "devices": PORT_DEVICES}])
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-1"), 3), what="devices online")

    # NEXT: the server calls the first ticket and the board shows its number, blinking.
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led().shown == first["number"]), bridge.log()
    assert sim.wait_for(lambda: "ACK,NEXT" in sim.devices[1].acks and sim.led().blinks >= 1)
    with centre_server.client() as http:
        ticket = http.get(f"/api/v1/tickets/{first['id']}").json()
    assert ticket["state"] == "called" and ticket["counter_id"] == "c01"

    # RECALL: same number, the board beeps.
    sim.press("RECALL")
    assert sim.wait_for(lambda: sim.led().beeps == 1), bridge.log()
    assert sim.led().shown == first["number"]

    # Noise on the line, then an unplugged cable: the bridge keeps serving.
    noise = random.Random(6).randbytes(100_000)
    for i in range(0, len(noise), 4096):
        sim.send_raw(noise[i:i + 4096])
    sim.send_raw(b"\r\n")
    sim.unplug()
    wait_until(lambda: not device_online(status_of(probe, topics, "bridge-1"), 1), what="devices offline")
    sim.plug()
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-1"), 1), timeout=15, what="devices back")

    # DONE, then the citizen rates the service on the feedback unit.
    sim.press("DONE")
    assert sim.wait_for(lambda: sim.devices[1].acks.count("ACK,DONE") == 1), bridge.log()
    assert sim.wait_for(lambda: sim.led().shown == ""), bridge.log()
    sim.rate(2)  # the "happy" button: Good (3) on the centre's one scale
    assert sim.wait_for(lambda: "ACK,RATE" in sim.devices[3].acks), bridge.log()
    with centre_server.client() as http:
        wait_until(lambda: http.get(f"/api/v1/tickets/{first['id']}").json()["rating"] == 3, what="rating")

    # The next NEXT calls the second ticket; the one after that hears why not.
    nexts = sim.devices[1].acks.count("ACK,NEXT")
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led().shown == second["number"]), bridge.log()
    # the board may change before the keypad's ACK arrives: a key pressed meanwhile would hear BUSY
    assert sim.wait_for(lambda: sim.devices[1].acks.count("ACK,NEXT") == nexts + 1), bridge.log()
    sim.press("DONE")
    assert sim.wait_for(lambda: sim.devices[1].acks.count("ACK,DONE") == 2), bridge.log()
    sim.press("NEXT")
    assert sim.wait_for(lambda: "NAK,NOTHING_WAITING" in sim.devices[1].acks), bridge.log()

    status = status_of(probe, topics, "bridge-1")
    assert sum(status["frame_errors"].values()) > 100 and status["ports"][0]["opened"] == 2
    called = [e for t, e in ((t, p) for t, p, _ in probe.messages) if t == topics.event("ticket_called")]
    assert len(called) >= 2
    assert bridge.running and "Traceback" not in bridge.log()
