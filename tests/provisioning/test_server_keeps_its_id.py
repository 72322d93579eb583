"""The attack of issue 16 (1) on a whole locked centre: a display's credentials and the server's client id.

Before, on the embedded broker keypads then got 0 of 5 answers (still 0 after 40 s) while /healthz said
"connected"; on Mosquitto the server was kicked off every time.
"""

from __future__ import annotations

import time

import httpx

from tests.conftest import within
from tests.provisioning.conftest import Probe
from tests.provisioning.test_locked_centre import T, command, device, locked_centre, replies  # noqa: F401


def answered(centre, port: int, n: int = 5) -> int:
    """How many of ``n`` keypad commands the server answers (within 10 s)."""
    bridge = device(centre, port, "bridge-1")
    try:
        assert bridge.subscribe(T.reply("bridge-1"))
        sent = []
        for _ in range(n):
            rid, payload = command("c01")
            bridge.publish(T.cmd_counter("c01"), payload)
            sent.append(rid)
        within(lambda: all(r in replies(bridge) for r in sent), 10)
        return sum(r in replies(bridge) for r in sent)
    finally:
        bridge.close()


def test_device_credentials_cannot_silence_the_server(locked_centre, centre):
    server, port, broker = locked_centre
    assert answered(centre, port) == 5
    server_user, _ = centre.server_credentials()
    for attacker in ("display-1", "kiosk-1"):
        for client_id in (f"huduma-centre-{T.centre_id}", server_user):
            user, password = centre.credentials(attacker)
            intruder = Probe(port, user, password, client_id=client_id)
            intruder.connect()  # refused by the embedded broker; Mosquitto gives it its own name instead
            time.sleep(2)  # as the intruder did: hold the id for 2 s, then leave
            intruder.close()
            assert answered(centre, port) == 5, f"{attacker} as {client_id!r} silenced the server"
    assert httpx.get(server.url + "/healthz").json()["broker"] == "connected"
    log = server.log_path.read_text()
    assert "lost the broker" not in log and "no longer delivers" not in log, log[-2000:]
