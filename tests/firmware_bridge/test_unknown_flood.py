"""Issue 16 item 10: 244 strangers saying HELLO on the line must not crowd out the real devices."""

from __future__ import annotations

import threading

from centre_server.contract import Topics
from centre_server.mqtt.link import MAX_PAYLOAD  # the server drops any device message bigger than this
from firmware_bridge import frames
from tests.conftest import wait_until
from tests.firmware_bridge.conftest import device_online, status_of
from tests.firmware_bridge.test_bridge_broker import CENTRE, FakeServer, bundle, counter_state

DEVICES = [{"address": 1, "kind": "keypad", "counter_id": "c01"},
           {"address": 2, "kind": "led", "counter_id": "c01"},
           {"address": 3, "kind": "feedback", "counter_id": "c01"}]
REAL = (1, 2, 3)
STRANGERS = range(4, frames.MAX_ADDRESS + 1)  # 244 addresses
UNKNOWN_KEEP = 16  # what the bridge keeps (and lists, as far as the size allows)


def pings(sim, addresses) -> int:
    return sum(len(sim.frames_to(a, frames.PING)) for a in addresses)


def test_hello_flood_from_244_unknown_addresses(mosquitto, probe_factory, bridge_factory, sim_factory):
    assert len(STRANGERS) == 244
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    probe.publish(topics.counter_state("c01"), counter_state("c01", "A001"), retain=True)
    FakeServer(probe, topics)
    sim = sim_factory("keypad:1,led:2,feedback:3")
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": sim.link, "devices": DEVICES}])
    wait_until(lambda: all(device_online(status_of(probe, topics, "bridge-t"), a) for a in REAL),
               what="the real devices online")

    stop = threading.Event()

    def flood() -> None:  # the intruder: every stranger says HELLO, again and again
        while not stop.is_set():
            for address in STRANGERS:
                # as long as a frame allows, to swell whatever the bridge keeps of them
                sim.send_raw(frames.make(address, frames.HELLO, "keypad", "F" * 45, f"S{address:03d}" + "X" * 41))
            stop.wait(0.2)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        wait_until(lambda: len((status_of(probe, topics, "bridge-t") or {}).get("unknown_devices", [])) >= 8,
                   timeout=20, what="the strangers heard")
        before = {a: len(sim.frames_to(a, frames.PING)) for a in REAL}
        strangers_before = pings(sim, STRANGERS)
        # Twelve polls of the keypad: the strangers had all that time to crowd it out.
        wait_until(lambda: len(sim.frames_to(1, frames.PING)) >= before[1] + 12, timeout=30,
                   what="the keypad polled at its normal rate during the flood")
        polled = {a: len(sim.frames_to(a, frames.PING)) - before[a] for a in REAL}
        stranger_pings = pings(sim, STRANGERS) - strangers_before
        status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and s.get("unknown_count") == 244
                            and s, timeout=20, what="all 244 strangers counted")
        sizes = [len(p) for p in probe.on(topics.device_status("bridge-t"))]
        sim.press("NEXT")
        assert sim.wait_for(lambda: sim.led(2).shown == "A002"), bridge.log()
    finally:
        stop.set()
        flooder.join(5)

    # Every real device is polled once a cycle, as without the flood; the strangers share one slot a cycle.
    assert min(polled.values()) >= 11, polled
    assert stranger_pings <= polled[1] + 1, (stranger_pings, polled)
    polled_strangers = {f.address for f in sim.received if f.verb == frames.PING and f.address in STRANGERS}
    assert len(polled_strangers) <= UNKNOWN_KEEP
    assert all(device_online(status, a) for a in REAL), status
    log = bridge.log()
    assert not any(f"device {a} " in line and "stopped answering" in line for line in log.splitlines()
                   for a in REAL), log[-3000:]
    # Reported once, bounded: the first 16 in full, the rest counted.
    assert status["unknown_count"] == 244
    listed = status["unknown_devices"]
    assert 8 <= len(listed) <= 16, len(listed)
    assert {d["address"] for d in listed} <= set(STRANGERS)
    assert all(len(d["serial_no"]) <= 24 and len(d["firmware"]) <= 24 for d in listed)
    assert status["devices_total"] == 3 and status["devices_online"] == 3
    assert "244 unknown device(s)" in status["detail"] and "vifaa 244 visivyojulikana" in status["detail_sw"]
    assert status["frame_errors"].get("unknown_dropped", 0) > 0
    assert max(sizes) <= MAX_PAYLOAD, max(sizes)  # so the server keeps hearing the bridge's health
    assert log.count("is not in the port map") == UNKNOWN_KEEP
    assert log.count("unknown addresses on") == 1
    assert bridge.running and "Traceback" not in log
