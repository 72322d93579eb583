"""Retained messages obey the read rules too, on both brokers.

Found on a fresh demo centre: kiosk-2 was refused ``cmd/#`` yet received the retained
status of kiosk-1 and bridge-1 (port details included) and every ``state/*``; display-1 was
refused ``huduma/#`` and got the same. amqtt 0.12.1 sends a connecting client the retained
messages of every subscription in the broker (anyone's, the server's ``huduma/demo/#``
included) without asking the topic rules.

Each case subscribes to forbidden filters first, then to an allowed one whose retained
marker arrives after anything the forbidden ones (or the connect) could have brought.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt

from centre_server.contract import Topics
from tests.conftest import within

T = Topics("demo")

# what a running centre keeps retained, as the server publishes it
RETAINED = {
    T.device_status("kiosk-1"): b'{"device_id":"kiosk-1","kind":"kiosk"}',
    T.device_status("bridge-1"): b'{"device_id":"bridge-1","kind":"bridge","port":"/dev/ttyUSB0"}',
    T.device_availability("kiosk-1"): b"online",
    T.counter_state("c01"): b'{"counter_id":"c01"}',
    T.counter_state("c09"): b'{"counter_id":"c09"}',
    T.service_state("passport"): b'{"service_id":"passport"}',
    T.hall_state: b'{"hall":1}',
    T.server_availability: b"online",
    T.reply("bridge-2"): b'{"ok":true}',
    T.event("ticket_called"): b'{"ticket":"A001"}',
}

# (device, forbidden filters it asks for, an allowed filter with a retained marker, the topics it may read)
CASES = {
    "kiosk-2": ([f"{T.base}/cmd/#", f"{T.base}/#", "huduma/#"], T.server_availability,
                {T.counter_state("c01"), T.counter_state("c09"), T.service_state("passport"), T.hall_state,
                 T.server_availability}),
    "display-1": (["huduma/#", f"{T.base}/device/#", f"{T.base}/reply/#"], T.server_availability,
                  {T.counter_state("c01"), T.counter_state("c09"), T.service_state("passport"), T.hall_state,
                   T.server_availability, T.event("ticket_called")}),
    "bridge-1": ([f"{T.base}/state/#", f"{T.base}/reply/#", f"{T.base}/#"], T.server_availability,
                 {T.counter_state("c01"), T.server_availability}),
}


def publish_retained(broker) -> mqtt.Client:
    """The server's user, subscribed the way the server is, with the centre's retained messages in place."""
    server = broker.login("server")
    assert server.subscribe(f"{T.base}/#")  # any wide subscription of anyone's, as the server's own
    for topic, payload in RETAINED.items():
        server.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    assert within(lambda: all(server.received(t) for t in RETAINED), 10)
    return server


def forbidden_received(probe, readable: set[str]) -> list[str]:
    with probe.lock:
        return sorted({t for t, _ in probe.messages if t not in readable})


def test_a_device_gets_no_retained_message_it_may_not_read(locked_broker):
    publish_retained(locked_broker)
    for device_id, (forbidden, allowed, readable) in CASES.items():
        probe = locked_broker.login(device_id)
        for topic_filter in forbidden:
            granted = probe.subscribe(topic_filter)
            if locked_broker.kind == "embedded":
                assert not granted, f"embedded broker granted {device_id} {topic_filter}"
        assert probe.subscribe(allowed)
        assert within(lambda: probe.received(allowed), 10), f"{device_id} never got the retained {allowed}"
        assert within(lambda: forbidden_received(probe, readable), 0.5) == [], device_id


def test_nor_a_live_one_after_a_refused_subscription(locked_broker):
    server = publish_retained(locked_broker)
    probes = {}
    for device_id, (forbidden, allowed, _readable) in CASES.items():
        probe = locked_broker.login(device_id)
        for topic_filter in forbidden:
            probe.subscribe(topic_filter)
        assert probe.subscribe(allowed)
        probes[device_id] = probe
    for topic in RETAINED:
        server.publish(topic, b'{"live":1}')
    server.publish(T.server_availability, b"live-marker")
    assert within(lambda: all(b"live-marker" in p.received(T.server_availability) for p in probes.values()), 10)
    leaked = within(lambda: {d: forbidden_received(p, CASES[d][2]) for d, p in probes.items()
                             if forbidden_received(p, CASES[d][2])}, 0.5)
    assert leaked == {}


def test_a_persistent_session_gets_back_only_what_it_may_read(locked_broker):
    """A device that comes back to its session is sent retained messages for its own subscriptions only."""
    publish_retained(locked_broker)
    username, password = locked_broker.centre.credentials("kiosk-2")
    received: list[str] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kiosk-2-persistent",
                         protocol=mqtt.MQTTv311, clean_session=False)
    client.username_pw_set(username, password)
    client.on_message = lambda c, u, msg: received.append(msg.topic)
    client.connect("127.0.0.1", locked_broker.port, keepalive=30)
    client.loop_start()
    try:
        assert within(client.is_connected, 10)
        client.subscribe([(f"{T.base}/cmd/#", 1), (T.server_availability, 1)])
        assert within(lambda: T.server_availability in received, 10)
        client.disconnect()
        client.loop_stop()
        received.clear()
        client.connect("127.0.0.1", locked_broker.port, keepalive=30)  # back to its session, asking nothing new
        client.loop_start()
        assert within(client.is_connected, 10)
        assert within(lambda: [t for t in received if t not in CASES["kiosk-2"][2]], 1.0) == []
    finally:
        client.disconnect()
        client.loop_stop()
