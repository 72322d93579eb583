"""The devices' one MQTT link against a real Mosquitto: availability, outages said once, handlers that fail."""

from __future__ import annotations

import threading

from centre_server.contract import DeviceBundle, Topics
from centre_server.contract.link import DeviceLink, broker_address
from tests.conftest import wait_until
from tests.kiosk.conftest import Retained


def test_broker_urls_name_the_tls_port():
    assert broker_address("mqtt://10.0.0.2:1883") == ("10.0.0.2", 1883, False)
    assert broker_address("mqtts://broker.example") == ("broker.example", 8883, True)
    assert broker_address("mqtts://broker.example:9883") == ("broker.example", 9883, True)


def _bundle(url: str) -> DeviceBundle:
    return DeviceBundle(centre_id="gpo", centre_name="Huduma Centre GPO", device_id="display-7", kind="display",
                        role="display", token="t", server_url="http://127.0.0.1:1", mqtt_url=url)


def test_link_survives_a_failing_handler_and_says_each_outage_once(mosquitto):
    topics = Topics("gpo")
    watch = Retained(mosquitto.url, topics.device_availability("display-7"), topics.hall_state)
    links: list[bool] = []
    heard: list[bytes] = []
    lock = threading.Lock()

    def on_message(topic: str, payload: bytes, retained: bool) -> None:
        if payload == b"boom":
            raise RuntimeError("a bug in the device")
        with lock:
            heard.append(payload)

    def on_link(up: bool) -> None:
        with lock:
            links.append(up)

    link = DeviceLink(_bundle(mosquitto.url), [topics.hall_state], on_message=on_message, on_link=on_link,
                      reconnect_max_s=1)
    link.start()
    try:
        watch.wait_for(topics.device_availability("display-7"), lambda p: p == b"online")
        watch.client.publish(topics.hall_state, b"boom", qos=1).wait_for_publish(5)
        watch.client.publish(topics.server_availability, b"online", qos=1, retain=True).wait_for_publish(5)
        watch.client.publish(topics.hall_state, b"after", qos=1).wait_for_publish(5)
        wait_until(lambda: b"after" in heard, 10, "a message after the failing one")
        assert link.server_online is True
        mosquitto.stop()
        with watch._lock:
            watch.messages.clear()
        wait_until(lambda: links[-1:] == [False], 10, "the link to go down")
        threading.Event().wait(3)  # three retries a second apart fail meanwhile
        assert links.count(False) == 1, links
        mosquitto.start()
        wait_until(lambda: links[-1:] == [True], 15, "the link to come back")
        assert links == [True, False, True]
        # the broker came back empty (no persistence): the link said online again
        watch.wait_for(topics.device_availability("display-7"), lambda p: p == b"online", timeout=20)
    finally:
        link.stop()
    watch.wait_for(topics.device_availability("display-7"), lambda p: p == b"offline")
    watch.close()
