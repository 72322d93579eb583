"""The embedded broker keeps delivering while many devices subscribe at once (a centre's restart).

amqtt 0.12.1 walked its subscriptions table with awaits inside the loop; a client subscribing meanwhile
raised "dictionary changed size during iteration" in the broadcast task and that message reached nobody
(found by a new user restarting the demo centre). The broker's table now hands its walks a copy.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from centre_server.mqtt.broker import EmbeddedBroker, SubscriptionTable
from tests.conftest import free_port


def test_a_walk_over_the_table_survives_a_subscription_made_during_it():
    table = SubscriptionTable({"a/#": [("s1", 1)]})
    for _topic, subs in table.items():
        table["b/#"] = [("s2", 0)]  # what a client subscribing between two awaits of a broadcast does
        subs.append(("s3", 0))  # the walk's own copy
    for _topic in table:
        table["c/#"] = []
    assert set(table) == {"a/#", "b/#", "c/#"} and table["a/#"] == [("s1", 1)]


def _client(port: int, name: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:6]}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_every_message_reaches_a_listener_while_forty_devices_subscribe(caplog):
    # a topic-checking plugin, as the centre's own broker has: the broadcast awaits it for each subscriber
    plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
               "amqtt.plugins.topic_checking.TopicTabooPlugin": {}}
    broker = EmbeddedBroker("127.0.0.1", free_port(), plugins=plugins)
    broker.start()
    clients: list[mqtt.Client] = []
    try:
        got: list[int] = []
        lock = threading.Lock()
        listener = _client(broker.port, "hall")
        subscribed = threading.Event()
        listener.on_subscribe = lambda *a: subscribed.set()
        listener.on_message = lambda c, u, m: (lock.acquire(), got.append(int(m.payload)), lock.release())
        listener.subscribe("huduma/demo/state/#", qos=1)
        assert subscribed.wait(10)
        publisher = _client(broker.port, "server")
        stop = threading.Event()

        def storm() -> None:  # devices coming back after the restart, each on topics of its own
            i = 0
            while not stop.is_set():
                c = _client(broker.port, f"dev{i}")
                clients.append(c)
                for k in range(5):
                    c.subscribe(f"huduma/demo/cmd/dev{i}/{k}", qos=1)
                i += 1
                time.sleep(0.01)

        with caplog.at_level(logging.ERROR):
            t = threading.Thread(target=storm, daemon=True)
            t.start()
            sent = 400
            for n in range(sent):
                publisher.publish(f"huduma/demo/state/q{n % 7}", str(n), qos=1).wait_for_publish(5)
            stop.set()
            t.join(10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(got) < sent:
                time.sleep(0.05)
        assert "changed size during iteration" not in caplog.text  # it was, twice in two runs, before the fix
        assert sorted(set(got)) == list(range(sent)), f"{sent - len(set(got))} of {sent} never arrived"
        assert len(clients) >= 10  # the storm really ran beside the messages
        publisher.loop_stop()
        listener.loop_stop()
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        broker.stop()
