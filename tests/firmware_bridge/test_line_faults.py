"""Cables come out, adapters vanish, lines pick up noise: the bridge keeps serving."""

from __future__ import annotations

import random

from centre_server.contract import Topics
from tests.conftest import free_port, wait_until
from tests.firmware_bridge.conftest import device_online, status_of
from tests.firmware_bridge.test_bridge_broker import CENTRE, FakeServer, bundle, counter_state

DEVICES = [{"address": 1, "kind": "keypad", "counter_id": "c01"},
           {"address": 2, "kind": "led", "counter_id": "c01"}]


def port_state(status: dict | None) -> str | None:
    return status["ports"][0]["state"] if status else None


def test_unplug_and_replug_a_pty(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    probe.publish(topics.counter_state("c01"), counter_state("c01", "A001"), retain=True)
    FakeServer(probe, topics)
    sim = sim_factory("keypad:1,led:2")
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": sim.link, "devices": DEVICES}])
    assert sim.wait_for(lambda: sim.led(2).shown == "A001"), bridge.log()
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-t"), 2), what="LED board online")

    sim.unplug()
    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and port_state(s) == "down" and s,
                        what="port reported down")
    assert not device_online(status, 1) and not device_online(status, 2)
    assert status["ports"][0]["errors"].get("disconnects", 0) >= 1
    # While the line is dead the counter moves on; the board must catch up on replug.
    probe.publish(topics.counter_state("c01"), counter_state("c01", "A007"), retain=True)

    sim.plug()  # a new pty behind the same path, as a USB adapter that re-enumerates
    assert sim.wait_for(lambda: sim.led(2).shown == "A007", timeout=15), bridge.log()
    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and device_online(s, 1) and s,
                        what="devices online again")
    assert status["ports"][0]["state"] == "open" and status["ports"][0]["opened"] == 2
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A002"), bridge.log()
    assert bridge.running


def test_socket_url_reconnects(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    FakeServer(probe, topics)
    link = f"socket://127.0.0.1:{free_port()}"
    sim = sim_factory("keypad:1,led:2", link=link)
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": link, "devices": DEVICES}])
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-t"), 2), what="devices online over TCP")
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A002"), bridge.log()

    sim.unplug()
    wait_until(lambda: port_state(status_of(probe, topics, "bridge-t")) == "down", what="port down")
    sim.plug()
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-t"), 1), timeout=15, what="back online")
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A003"), bridge.log()


def test_a_port_that_never_opens_is_not_fatal(mosquitto, probe_factory, bridge_factory, sim_factory, tmp_path):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    FakeServer(probe, topics)
    sim = sim_factory("keypad:1,led:2")
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [
        {"url": str(tmp_path / "ttyUSB-missing"), "devices": []},
        {"url": "loop://", "devices": []},  # hears its own PINGs and IDENTs back: counted as echo
        {"url": sim.link, "devices": DEVICES},
    ])
    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and device_online(s, 2)
                        and s["frame_errors"].get("echo") and s, what="the good ports serving")
    ports = {p["url"]: p for p in status["ports"]}
    assert ports[str(tmp_path / "ttyUSB-missing")]["state"] == "down"
    assert ports[str(tmp_path / "ttyUSB-missing")]["errors"]["open_failed"] >= 1
    assert ports["loop://"]["state"] == "open" and ports["loop://"]["errors"]["echo"] >= 1
    assert status["port_errors"]["open_failed"] >= 1
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A002"), bridge.log()


def test_every_port_lost_exits_for_the_supervisor(mosquitto, bridge_factory, tmp_path):
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": str(tmp_path / "gone"), "devices": []}],
                            "--exit-after-ports-down", "1.5")
    wait_until(lambda: not bridge.running, timeout=15, what="the bridge to give up")
    assert bridge.proc.returncode == 3
    assert "every serial port has been down" in bridge.log()


def test_hundred_thousand_random_bytes(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status)
    FakeServer(probe, topics)
    sim = sim_factory("keypad:1,led:2")
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": sim.link, "devices": DEVICES}])
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-t"), 2), what="devices online")

    rng = random.Random(20261122)
    noise = rng.randbytes(100_000)
    for i in range(0, len(noise), 4096):
        sim.send_raw(noise[i:i + 4096])
    sim.send_raw(b"\r\n")
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A002", timeout=15), bridge.log()
    assert bridge.running

    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and sum(s["frame_errors"].values()) > 100
                        and s, what="the noise counted in the status")
    errors = status["frame_errors"]
    assert errors.get("garbage", 0) > 0 and errors.get("truncated", 0) + errors.get("malformed", 0) > 0
    assert device_online(status, 1) and device_online(status, 2)
    assert "Traceback" not in bridge.log()
