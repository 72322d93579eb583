"""One table of cases against both brokers: a real Mosquitto with the generated files, and the embedded one.

A refused publish is dropped silently, so each case publishes the forbidden
message and then an allowed marker from the same client; once the marker has
reached the server's spy, the forbidden message had its chance and must not
be there (a broker keeps one client's messages in order).
"""

from __future__ import annotations

import pytest

from centre_server.contract import CounterAction, CounterCommand, DeviceStatusPayload, Topics
from provisioning.devices import revoke_device, rotate_device
from tests.conftest import within

T = Topics("demo")


def command(counter_id: str = "c01") -> bytes:
    return CounterCommand(action=CounterAction.call_next, request_id=f"r-{counter_id}",
                          device_id="bridge-1").to_bytes()


def status(device_id: str, kind: str) -> bytes:
    return DeviceStatusPayload(device_id=device_id, kind=kind).to_bytes()


def spy(broker):
    """The server's own user, subscribed to everything of the centre."""
    s = broker.login("server")
    assert s.subscribe(f"{T.base}/#")
    return s


def assert_dropped_then_marker(spy_probe, sender, forbidden_topic: str, payload: bytes,
                               marker_topic: str, marker: bytes) -> None:
    sender.publish(forbidden_topic, payload)
    sender.publish(marker_topic, marker)
    assert within(lambda: marker in spy_probe.received(marker_topic), 10), "the allowed marker never arrived"
    assert within(lambda: spy_probe.received(forbidden_topic), 0.3) == []


def test_display_cannot_publish_a_counter_command(locked_broker):
    s = spy(locked_broker)
    display = locked_broker.login("display-1")
    assert_dropped_then_marker(s, display, T.cmd_counter("c01"), command(),
                               T.device_status("display-1"), status("display-1", "display"))
    # nor feedback, nor the hall state, nor another device's status
    for topic in (T.cmd_feedback("c01"), T.hall_state, T.device_status("kiosk-1")):
        assert_dropped_then_marker(s, display, topic, b"{}", T.device_availability("display-1"), b"online")


def test_bridge_commands_only_its_own_counters(locked_broker):
    s = spy(locked_broker)
    bridge = locked_broker.login("bridge-1")
    assert_dropped_then_marker(s, bridge, T.cmd_counter("c09"), command("c09"),
                               T.cmd_counter("c01"), command("c01"))
    assert_dropped_then_marker(s, bridge, T.counter_state("c01"), b"{}", T.cmd_counter("c03"), command("c03"))
    # feedback only for its own counters: the topic names the counter, the broker checks it
    assert_dropped_then_marker(s, bridge, T.cmd_feedback("c09"), b'{"counter_id":"c09","rating":4}',
                               T.cmd_feedback("c02"), b'{"counter_id":"c02","rating":4}')


def test_kiosk_publishes_only_its_own_availability_and_status(locked_broker):
    s = spy(locked_broker)
    kiosk = locked_broker.login("kiosk-1")
    for topic in (T.cmd_counter("c01"), T.device_status("kiosk-2"), T.server_availability, T.event("ticket_issued")):
        assert_dropped_then_marker(s, kiosk, topic, b"x", T.device_status("kiosk-1"), status("kiosk-1", "kiosk"))


def test_subscriptions_deliver_only_what_the_role_may_read(locked_broker):
    """Mosquitto grants a wide subscription and filters each message; amqtt refuses it. Either way nothing leaks."""
    server = locked_broker.login("server")
    display = locked_broker.login("display-1")
    bridge = locked_broker.login("bridge-1")
    kiosk = locked_broker.login("kiosk-1")
    wide = {
        display: [f"{T.base}/#", T.all_counter_commands],
        bridge: [T.all_counter_states, T.reply("bridge-2")],
        kiosk: [T.all_events],
    }
    for probe, filters in wide.items():
        for topic_filter in filters:
            granted = probe.subscribe(topic_filter)
            if locked_broker.kind == "embedded":
                assert not granted, f"embedded broker granted {topic_filter}"
    assert display.subscribe(T.all_counter_states) and display.subscribe(T.all_events)
    assert bridge.subscribe(T.counter_state("c01")) and bridge.subscribe(T.reply("bridge-1"))
    assert kiosk.subscribe(T.all_service_states) and kiosk.subscribe(T.server_availability)
    forbidden = {display: [T.cmd_counter("c01"), T.reply("bridge-1"), T.device_status("kiosk-1")],
                 bridge: [T.counter_state("c09"), T.reply("bridge-2"), T.event("ticket_called")],
                 kiosk: [T.event("ticket_called"), T.cmd_counter("c01")]}
    for topic in {t for ts in forbidden.values() for t in ts}:
        server.publish(topic, b'{"x":1}')
    for topic in (T.counter_state("c01"), T.service_state("passport"), T.reply("bridge-1")):
        server.publish(topic, b'{"marker":1}')
    assert within(lambda: display.received(T.counter_state("c01")) and bridge.received(T.counter_state("c01"))
                  and bridge.received(T.reply("bridge-1")) and kiosk.received(T.service_state("passport")), 10)
    leaked = within(lambda: [(p, t) for p, ts in forbidden.items() for t in ts if p.received(t)], 0.3)
    assert leaked == []


@pytest.mark.parametrize("username,password", [
    ("intruder", "whatever"),       # unknown user
    (None, None),                   # anonymous
    ("display-1", "wrong-password"),
    ("centre-server", "wrong-password"),
])
def test_unknown_anonymous_and_wrong_passwords_are_refused(locked_broker, username, password):
    probe = locked_broker.probe(username, password)
    assert not probe.connect()
    assert probe.connack is None or probe.connack.is_failure


def test_revoked_device_is_refused_after_reload(locked_broker):
    centre = locked_broker.centre
    s = spy(locked_broker)
    old = centre.credentials("kiosk-2")
    kiosk = locked_broker.login("kiosk-2")
    result = revoke_device(centre.path, "kiosk-2", reason="stolen")
    if locked_broker.kind == "mosquitto":
        assert "reloaded" in result["broker"]
    locked_broker.apply_registry_change()
    probe = locked_broker.probe(*old)
    assert not probe.connect(), "a revoked device logged in"
    if locked_broker.kind == "mosquitto":  # Mosquitto re-checks open connections on reload and hangs up
        assert within(lambda: not kiosk.client.is_connected(), 10), "Mosquitto kept the revoked device on"
    # an old connection the broker kept may no longer publish either
    kiosk.try_publish(T.device_status("kiosk-2"), status("kiosk-2", "kiosk"))
    other = locked_broker.login("kiosk-1")
    other.publish(T.device_status("kiosk-1"), status("kiosk-1", "kiosk"))
    assert within(lambda: s.received(T.device_status("kiosk-1")), 10)
    assert within(lambda: s.received(T.device_status("kiosk-2")), 0.3) == []


def test_rotated_device_needs_its_new_password(locked_broker):
    centre = locked_broker.centre
    s = spy(locked_broker)
    old = centre.credentials("display-1")
    before = locked_broker.login("display-1")  # connected with the password about to be replaced
    fresh = rotate_device(centre.path, "display-1")
    locked_broker.apply_registry_change()
    assert not locked_broker.probe(*old).connect()
    after = locked_broker.probe(fresh["mqtt_username"], fresh["mqtt_password"])
    assert after.connect()
    # the connection made with the old password is cut off (Mosquitto) or can do nothing more (embedded)
    before.try_publish(T.device_availability("display-1"), b"old-password")
    after.publish(T.device_status("display-1"), status("display-1", "display"))
    assert within(lambda: s.received(T.device_status("display-1")), 10)
    assert within(lambda: b"old-password" in s.received(T.device_availability("display-1")), 0.3) is False


def test_a_last_will_outside_the_rules_never_fires(locked_broker):
    """A display may not smuggle a counter command in as its last will; its own availability will works."""
    user, password = locked_broker.centre.credentials("display-1")
    s = spy(locked_broker)
    honest = locked_broker.probe(user, password, will=T.device_availability("display-1"))
    sneaky = locked_broker.probe(user, password, will=T.cmd_counter("c01"))

    def end_abruptly(probe) -> None:  # no DISCONNECT: the will fires now
        probe.client.loop_stop()
        probe.client.socket().close()

    # one at a time: Mosquitto binds the client id to the username, so a second login of display-1
    # would take the first one's place
    assert honest.connect()
    end_abruptly(honest)
    assert within(lambda: s.received(T.device_availability("display-1")), 10), "the honest will never fired"
    if locked_broker.kind == "embedded":
        assert not sneaky.connect()  # the embedded broker refuses the login outright
    else:
        assert sneaky.connect()  # Mosquitto checks the will against the ACL when it would publish it
        end_abruptly(sneaky)
    assert within(lambda: s.received(T.cmd_counter("c01")), 0.5) == []
