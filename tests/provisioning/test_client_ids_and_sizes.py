"""Client ids bound to credentials, and packet size limits, on both brokers (issue 16, attacks 1 and 13).

The same cases against a real Mosquitto started from ``broker-config``'s files and the embedded broker.
"""

from __future__ import annotations

import json
import time

from centre_server.contract import CounterAction, CounterCommand, Topics
from tests.conftest import within

T = Topics("demo")
MB = 1024 * 1024


def keypad(request_id: str) -> bytes:
    return CounterCommand(action=CounterAction.call_next, request_id=request_id, device_id="bridge-1").to_bytes()


def test_no_device_can_take_the_servers_client_id(locked_broker):
    """A display's or kiosk's credentials with the server's client id used to kick the server off
    (Mosquitto) or silently take its subscriptions (embedded). Now the server keeps hearing commands."""
    server_user, _ = locked_broker.centre.server_credentials()
    server = locked_broker.login("server")
    assert server.subscribe(T.all_counter_commands)
    bridge = locked_broker.login("bridge-1")
    for attacker in ("display-1", "kiosk-1"):
        for client_id in (server_user, f"huduma-centre-{T.centre_id}", server.client._client_id.decode()):
            user, password = locked_broker.centre.credentials(attacker)
            intruder = locked_broker.probe(user, password, client_id=client_id)
            accepted = intruder.connect()
            # embedded: refused outright; Mosquitto: accepted under the attacker's own name instead
            assert accepted == (locked_broker.kind == "mosquitto"), (attacker, client_id, intruder.connack)
            time.sleep(2)  # the attack holds the id for 2 s, then leaves
            intruder.close()
            assert server.client.is_connected(), f"{attacker} as {client_id!r} cut the server off"
            rid = f"{attacker}-{len(server.messages)}"
            bridge.publish(T.cmd_counter("c01"), keypad(rid))
            assert within(lambda: any(rid.encode() in p for p in server.received(T.cmd_counter("c01"))), 10), \
                f"after {attacker} used {client_id!r} the server no longer hears commands"


def test_a_wrong_password_with_the_servers_id_leaves_the_server_alone(locked_broker):
    """amqtt dropped the session of a CONNECT's client id before checking its password."""
    server_user, _ = locked_broker.centre.server_credentials()
    server = locked_broker.login("server")
    assert server.subscribe(T.all_counter_commands)
    server_id = server.client._client_id.decode()
    assert not locked_broker.probe(server_user, "wrong", client_id=server_id).connect()
    assert not locked_broker.probe(None, None, client_id=server_id).connect()
    bridge = locked_broker.login("bridge-1")
    bridge.publish(T.cmd_counter("c01"), keypad("after-bad-login"))
    assert within(lambda: server.received(T.cmd_counter("c01")), 10)


def test_a_100mb_publish_disconnects_its_sender_unread(locked_broker):
    """A bridge's 100 MB publish used to be taken and passed on to the server. Now the broker hangs up on
    the bridge; the server hears nothing of it and the broker serves on."""
    server = locked_broker.login("server")
    assert server.subscribe(T.all_counter_commands)
    bridge = locked_broker.login("bridge-1")
    info = bridge.client.publish(T.cmd_counter("c01"), b"x" * (100 * MB), qos=1)
    assert within(lambda: not bridge.client.is_connected(), 30), "the broker took a 100 MB message"
    assert within(lambda: server.received(T.cmd_counter("c01")), 1) == []
    assert not info.is_published()
    # the broker is well: a normal-sized command still gets through, and the limit is the configured one
    ok = locked_broker.login("bridge-1")
    ok.publish(T.cmd_counter("c01"), keypad("small"))
    assert within(lambda: server.received(T.cmd_counter("c01")), 10)
    big = locked_broker.login("bridge-1")
    big.client.publish(T.cmd_counter("c02"), json.dumps({"pad": "y" * 300_000}).encode(), qos=1)
    assert within(lambda: not big.client.is_connected(), 10), "a packet over 256 KiB got in"
