"""The bridge process against a real Mosquitto, with the test playing the centre server.

These pin the bridge's half of the contract (commands out, replies and retained
counter state in) without needing the server; test_bridge_centre.py repeats the
main path against the real server.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from centre_server.contract import (
    Availability,
    CounterCommand,
    CounterState,
    CounterStatePayload,
    FeedbackCommand,
    Reply,
    Satisfaction,
    TicketState,
    Topics,
)
from firmware_bridge import frames
from tests.conftest import wait_until
from tests.firmware_bridge.conftest import device_online, status_of

CENTRE = "test-centre"


def bundle(mqtt_url: str, counters: list[str]) -> dict:
    return {
        "centre_id": CENTRE, "centre_name": "Test Huduma Centre", "device_id": "bridge-t", "kind": "bridge",
        "role": "bridge", "token": "not-used-here", "server_url": "http://127.0.0.1:9",
        "mqtt_url": mqtt_url, "counters": counters,
    }


def counter_state(counter: str, ticket: str | None, ticket_id: str | None = None, recalls: int = 0,
                  state: CounterState = CounterState.open) -> bytes:
    return CounterStatePayload(
        counter_id=counter, name=counter[1:].lstrip("0"), state=state, ticket=ticket,
        ticket_id=ticket_id or (f"t-{ticket}" if ticket else None),
        ticket_state=TicketState.called if ticket else None, recalls=recalls,
        updated_at=datetime.now(UTC),
    ).to_bytes()


class FakeServer:
    """Answers counter commands the way docs/design.md §5 says the server does."""

    def __init__(self, probe, topics: Topics) -> None:
        self.probe, self.topics = probe, topics
        self.commands: list[CounterCommand] = []
        self.feedback: list[FeedbackCommand] = []
        self.queue = ["A002", "A003", "A004"]
        self.serving: dict[str, tuple[str, int]] = {}
        self.reply_delay = 0.0  # a slow server, so a double tap meets a request still in flight
        probe.handlers.append(self.handle)
        probe.subscribe(topics.all_counter_commands)
        probe.subscribe(topics.all_feedback)

    def handle(self, topic: str, payload: bytes) -> None:
        kind, counter = self.topics.parse(topic)
        if kind == "cmd_counter":
            cmd = CounterCommand.model_validate_json(payload)
            self.commands.append(cmd)
            reply = Reply(request_id=cmd.request_id, status="ok")
            state = None
            if cmd.action == "call_next":
                if self.queue:
                    number = self.queue.pop(0)
                    self.serving[counter] = (number, 0)
                    state = counter_state(counter, number)
                else:
                    reply = Reply(request_id=cmd.request_id, status="error", error="nothing_waiting")
            elif cmd.action == "recall" and counter in self.serving:
                number, recalls = self.serving[counter]
                self.serving[counter] = (number, recalls + 1)
                state = counter_state(counter, number, recalls=recalls + 1)
            elif cmd.action == "complete":
                self.serving.pop(counter, None)
                state = counter_state(counter, None)
            if state:
                self.probe.client.publish(self.topics.counter_state(counter), state, qos=1, retain=True)
            if self.reply_delay:
                time.sleep(self.reply_delay)
            self.probe.client.publish(self.topics.reply(cmd.device_id), reply.to_bytes(), qos=1)
        elif kind == "cmd_feedback":
            fb = FeedbackCommand.model_validate_json(payload)
            self.feedback.append(fb)
            self.probe.client.publish(self.topics.reply(fb.device_id),
                                      Reply(request_id=fb.request_id, status="ok").to_bytes(), qos=1)


def test_keys_leds_and_feedback_through_the_broker(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status, topics.all_device_availability)
    probe.publish(topics.server_availability, Availability.online.value, retain=True)
    probe.publish(topics.counter_state("c01"), counter_state("c01", "A001"), retain=True)
    server = FakeServer(probe, topics)
    sim = sim_factory("keypad:1,led:2,feedback:3,keypad:4,led:5")
    bridge = bridge_factory(bundle(mosquitto.url, ["c01", "c02"]), [{
        "url": sim.link, "baudrate": 9600, "devices": [
            {"address": 1, "kind": "keypad", "counter_id": "c01"},
            {"address": 2, "kind": "led", "counter_id": "c01"},
            {"address": 3, "kind": "feedback", "counter_id": "c01"},
            {"address": 4, "kind": "keypad", "counter_id": "c02"},
            {"address": 5, "kind": "led", "counter_id": "c02"},
        ]}])

    # The retained state reaches the board as soon as the bridge is up; c02 has none yet.
    assert sim.wait_for(lambda: sim.led(2).shown == "A001"), bridge.log()
    wait_until(lambda: probe.on(topics.device_availability("bridge-t"))[-1:] == [b"online"], what="online")
    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and device_online(s, 5) and s,
                        what="all devices online in the status")
    assert status["kind"] == "bridge" and status["devices_total"] == 5
    assert sim.led(2).blinks == 0  # the state it started from is not a new call

    sim.press("NEXT", 1)
    assert sim.wait_for(lambda: sim.led(2).shown == "A002"), bridge.log()
    assert sim.wait_for(lambda: sim.led(2).blinks == 1)
    assert sim.wait_for(lambda: "ACK,NEXT" in sim.devices[1].acks)
    cmd = server.commands[-1]
    assert cmd.action == "call_next" and cmd.device_id == "bridge-t" and cmd.request_id
    assert sim.led(5).shown == ""  # the other counter's board is untouched

    sim.press("RECALL", 1)
    assert sim.wait_for(lambda: sim.led(2).beeps == 1), bridge.log()
    assert sim.led(2).shown == "A002"
    # the board may beep before the server's reply reaches the bridge: a key pressed while a
    # request is in flight is refused BUSY (by design), so the clerk's next key waits for the ACK
    assert sim.wait_for(lambda: sim.devices[1].acks[-1:] == ["ACK,RECALL"]), bridge.log()

    sim.press("DONE", 1)
    assert sim.wait_for(lambda: sim.led(2).shown == "" and len(sim.devices[1].acks) == 3), bridge.log()

    # Keypad 4 belongs to c02: its command goes to c02's topic and its own board.
    sim.press("NEXT", 4)
    assert sim.wait_for(lambda: sim.led(5).shown == "A003"), bridge.log()
    assert server.commands[-1].action == "call_next"

    # A double tap: the second NEXT arrives while the first waits for its reply, and is refused.
    calls = sum(1 for c in server.commands if c.action == "call_next")
    server.reply_delay = 0.5
    sim.send_raw(frames.make(1, "KEY", "NEXT") * 2)
    assert sim.wait_for(lambda: "NAK,BUSY" in sim.devices[1].acks), bridge.log()
    server.reply_delay = 0.0
    assert sim.wait_for(lambda: sim.devices[1].acks.count("ACK,NEXT") == 2)
    assert sum(1 for c in server.commands if c.action == "call_next") == calls + 1
    assert sim.wait_for(lambda: sim.led(2).shown == "A004")

    # The server refuses: the keypad hears NAK with the reason.
    server.queue.clear()
    sim.press("NEXT", 1)
    assert sim.wait_for(lambda: "NAK,NOTHING_WAITING" in sim.devices[1].acks), bridge.log()

    # Feedback buttons 1..4 (1 = the very happy face) reach the server on the one scale, 4 = Excellent:
    # the old bridge passed the button through, so a very happy citizen was counted as Poor.
    for button in (1, 2, 3, 4):
        sim.rate(button, 3)
        assert sim.wait_for(lambda: sim.devices[3].acks.count("ACK,RATE") == button), bridge.log()
    assert [(f.counter_id, f.rating) for f in server.feedback] == [
        ("c01", Satisfaction.excellent), ("c01", Satisfaction.good), ("c01", Satisfaction.fair),
        ("c01", Satisfaction.poor)]
    assert [f.rating.label("sw") for f in server.feedback] == ["Bora sana", "Nzuri", "Wastani", "Mbaya"]

    assert bridge.stop() == 0
    wait_until(lambda: probe.on(topics.device_availability("bridge-t"))[-1:] == [b"offline"], what="offline")


def test_unmapped_device_is_reported_not_used(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_status, topics.all_counter_commands)
    sim = sim_factory("keypad:1,keypad:9,led:2")
    bridge_factory(bundle(mosquitto.url, ["c01"]), [{
        "url": sim.link, "devices": [{"address": 1, "kind": "keypad", "counter_id": "c01"},
                                     {"address": 2, "kind": "keypad", "counter_id": "c01"}]}])
    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and s["unknown_devices"] and s,
                        what="the unknown keypad in the status")
    unknown = status["unknown_devices"][0]
    assert unknown["address"] == 9 and unknown["kind"] == "keypad" and unknown["serial_no"] == "SIM-KEYPAD-009"
    # Address 2 is mapped as a keypad but an LED board answers there: flagged for the technician.
    status = wait_until(lambda: (s := status_of(probe, topics, "bridge-t")) and any(
        d["kind_mismatch"] for d in s["ports"][0]["devices"]) and s, what="the kind mismatch")
    assert [d["address"] for d in status["ports"][0]["devices"] if d["kind_mismatch"]] == [2]
    sim.press("NEXT", 9)
    assert sim.wait_for(lambda: "NAK,UNMAPPED" in sim.devices[9].acks)
    assert probe.on(topics.cmd_counter("c01")) == []


def test_no_reply_means_nak_timeout(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_counter_commands)
    sim = sim_factory("keypad:1")
    bridge_factory(bundle(mosquitto.url, ["c01"]),
                   [{"url": sim.link, "devices": [{"address": 1, "kind": "keypad", "counter_id": "c01"}]}],
                   timing={"reply_timeout_s": 1.0, "poll_interval_s": 0.5})
    wait_until(lambda: sim.frames_to(1, "PING"), what="first poll")
    sim.press("PAUSE")
    assert sim.wait_for(lambda: "NAK,TIMEOUT" in sim.devices[1].acks, timeout=10)
    cmd = json.loads(probe.on(topics.cmd_counter("c01"))[0])
    assert cmd["action"] == "pause"


def test_bad_config_is_a_clear_error(tmp_path, mosquitto):
    import subprocess

    from tests.conftest import BIN

    path = tmp_path / "bad.json"
    path.write_text(json.dumps(dict(bundle(mosquitto.url, ["c01"]), ports=[
        {"url": "loop://", "devices": [{"address": 1, "kind": "keypad", "counter_id": "c09"}]}])))
    out = subprocess.run([str(BIN / "huduma-bridge"), "--config", str(path)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1
    assert "c09" in out.stderr and "Traceback" not in out.stderr
    path.write_text("{not json")
    out = subprocess.run([str(BIN / "huduma-bridge"), "--config", str(path)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1 and "not JSON" in out.stderr and "Traceback" not in out.stderr


def test_broker_restart_is_survived(mosquitto, probe_factory, bridge_factory, sim_factory):
    topics = Topics(CENTRE)
    probe = probe_factory(mosquitto.url, topics.all_device_availability, topics.server_availability)
    FakeServer(probe, topics)
    sim = sim_factory("keypad:1,led:2")
    bridge = bridge_factory(bundle(mosquitto.url, ["c01"]), [{"url": sim.link, "devices": [
        {"address": 1, "kind": "keypad", "counter_id": "c01"}, {"address": 2, "kind": "led", "counter_id": "c01"}]}])
    wait_until(lambda: probe.on(topics.device_availability("bridge-t"))[-1:] == [b"online"], what="online")
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A002"), bridge.log()

    mosquitto.stop()
    # With no broker a key is refused at once, not queued to fire minutes later.
    wait_until(lambda: (sim.press("NEXT") or True) and sim.wait_for(
        lambda: "NAK,OFFLINE" in sim.devices[1].acks, timeout=1), what="NAK,OFFLINE while the broker is down")
    count_before = len(probe.on(topics.device_availability("bridge-t")))
    mosquitto.start()

    # Back: the bridge says online again (retained state was lost with the broker) and serves keys. The first
    # message the probe takes after the count may still be the bridge's will, "offline", from the broker that
    # stopped (a busy machine delays the probe's network thread): what counts is an "online" after the count
    # and that it is the last word.
    def said() -> list[bytes]:
        return probe.on(topics.device_availability("bridge-t"))

    wait_until(lambda: b"online" in said()[count_before:] and said()[-1] == b"online", timeout=40,
               what=lambda: f"the bridge to say online again: {said()[count_before:]}")
    probe.sync(topics.server_availability, b"online")  # the test's "server" is listening again too
    sim.press("NEXT")
    assert sim.wait_for(lambda: sim.led(2).shown == "A003"), bridge.log()
    assert bridge.running
