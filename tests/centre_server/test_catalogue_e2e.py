"""The catalogue end to end: a real centre process on a real broker (and, below, a real headquarters on
PostgreSQL). A suspension refuses issue through the API, shows on retained state, and survives a restart."""

from __future__ import annotations

import json

from centre_server.contract import Topics
from centre_server.contract.catalogue import CatalogueStatePayload
from tests.centre_server.test_server_process import Listener
from tests.conftest import CentreProcess, free_port

REASON = {"en": "KRA's iTax system is down", "sw": "Mfumo wa iTax wa KRA haufanyi kazi"}


def retained(port: int, topic: str, pred=lambda payload: True, timeout: float = 10.0) -> dict:
    """What a device that connects now reads on ``topic`` (retained state alone), once ``pred`` holds."""
    sub = Listener(port, topic)
    try:
        msg = sub.wait_for(lambda m: m[0] == topic and m[2] and pred(json.loads(m[1])), timeout)
        return json.loads(msg[1])
    finally:
        sub.close()


def test_a_suspension_refuses_issue_shows_on_retained_state_and_survives_a_restart(centre_dir, mosquitto, tmp_path):
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('hq_url = ""', f'hq_url = "http://127.0.0.1:{free_port()}"'))
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    topics = Topics("demo")
    server.start()
    try:
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        manager = server.client(server.login("manager"))
        assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).status_code == 201
        events = Listener(mosquitto.port, topics.event("service_suspended"))
        r = manager.post("/api/v1/catalogue/kra-pin/offering", json={"status": "suspended", "reason": REASON})
        assert r.status_code == 200, r.text
        told = json.loads(events.wait_for(lambda m: True)[1])
        events.close()
        assert told["service_id"] == "kra-pin" and told["reason_sw"] == REASON["sw"] and told["waiting"] == 1
        refused = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert refused.status_code == 409 and refused.json()["error"]["reason_en"] == REASON["en"]
        state = retained(mosquitto.port, topics.service_state("kra-pin"), lambda p: p["accepting"] is False)
        assert state["refusal"] == "service_suspended" and state["waiting"] == 1
        cat = CatalogueStatePayload.model_validate(retained(mosquitto.port, topics.catalogue_state))
        assert cat.info("kra-pin").offering.status == "suspended"
        assert cat.info("kra-pin").offering.reason.sw == REASON["sw"]
    finally:
        server.stop()
    mosquitto.restart()  # nothing retained survives: what the server says after its restart is its own truth
    server.start()
    try:
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        refused = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "service_suspended"
        state = retained(mosquitto.port, topics.service_state("kra-pin"))
        assert state["accepting"] is False and state["refusal"] == "service_suspended" and state["waiting"] == 1
        cat = CatalogueStatePayload.model_validate(retained(mosquitto.port, topics.catalogue_state))
        assert cat.info("kra-pin").offering.status == "suspended" and cat.info("kra-pin").offering.by == "manager"
    finally:
        server.stop()
