"""A bridge's 100 MB publish took the server (and its embedded broker) to about 360 MB (issue 16, attack 13)."""

from __future__ import annotations

import time
import uuid

import httpx
import paho.mqtt.client as mqtt

from centre_server.contract import Topics
from tests.security.test_http_limits import rss_mb

T = Topics("demo")
MB = 1024 * 1024


def test_a_100mb_publish_costs_the_server_nothing(serve, centre_dir):
    server = serve()
    port = server.mqtt_port
    before = rss_mb(server.proc.pid)
    b = centre_dir.bundle("bridge-1")
    bridge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bridge-1-{uuid.uuid4().hex[:6]}")
    bridge.username_pw_set(b["mqtt_username"], b["mqtt_password"])
    bridge.connect("127.0.0.1", port)
    bridge.loop_start()
    try:
        deadline = time.monotonic() + 10
        while not bridge.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bridge.is_connected()
        bridge.reconnect_delay_set(60, 120)  # once cut off, stay off: the check below is of this one publish
        bridge.publish(T.cmd_counter("c01"), b"x" * (100 * MB), qos=1)
        deadline = time.monotonic() + 30
        while bridge.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not bridge.is_connected(), "the broker took the 100 MB message"
    finally:
        bridge.loop_stop()
    assert rss_mb(server.proc.pid) - before < 40, "the server's memory grew by the message"
    assert httpx.get(server.url + "/healthz").json()["broker"] == "connected"
    assert "sent a 104857" in server.log_path.read_text()  # the broker says why it hung up
