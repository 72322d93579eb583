"""The kiosk's HTTP client against the real server, and its MQTT link against a real Mosquitto."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from centre_server.contract import (
    DeviceBundle,
    DeviceStatusPayload,
    IssueTicketRequest,
    PrinterStatus,
    ServiceStatePayload,
    Topics,
)
from kiosk.api import ApiError, CentreApi, Unreachable, new_idempotency_key
from kiosk.mqtt_link import KioskLink
from tests.conftest import free_port
from tests.kiosk.conftest import ROOT, Retained


def _api(centre_server) -> CentreApi:
    return CentreApi(centre_server.url, centre_server.centre.bundle("kiosk-1")["token"])


def test_retry_with_the_same_key_returns_the_same_ticket(centre_server):
    api = _api(centre_server)
    try:
        services = api.services()
        assert len(services) >= 35 and all(s.name_sw for s in services)
        key = new_idempotency_key()
        req = IssueTicketRequest(service_id="kra-pin", language="sw")
        first = api.issue_ticket(req, key)
        again = api.issue_ticket(req, key)  # the reply was lost; the kiosk retries
        assert again.id == first.id and again.number == first.number
        other = api.issue_ticket(req, new_idempotency_key())  # the next citizen
        assert other.id != first.id
        assert api.ticket(first.id).number == first.number
        with pytest.raises(ApiError) as refused:
            api.issue_ticket(IssueTicketRequest(service_id="no-such-service"), new_idempotency_key())
        assert 400 <= refused.value.status < 500 and refused.value.code
    finally:
        api.close()


def test_bad_token_is_refused_clearly(centre_server):
    api = CentreApi(centre_server.url, "not-a-token")
    try:
        with pytest.raises(ApiError) as refused:
            api.issue_ticket(IssueTicketRequest(service_id="kra-pin"), new_idempotency_key())
        assert refused.value.status in (401, 403)
    finally:
        api.close()


def test_unreachable_server_is_detected_fast():
    api = CentreApi(f"http://127.0.0.1:{free_port()}", "tok", timeout_s=1.0)
    try:
        started = time.monotonic()
        assert api.healthy(1.0) is False
        with pytest.raises(Unreachable):
            api.issue_ticket(IssueTicketRequest(service_id="kra-pin"), "k1", attempts=2, pause_s=0.1)
        with pytest.raises(Unreachable):
            api.services()
        assert time.monotonic() - started < 5.0
    finally:
        api.close()


def _bundle(mosquitto) -> DeviceBundle:
    return DeviceBundle(centre_id="gpo", centre_name="Huduma Centre GPO", device_id="kiosk-9", kind="kiosk",
                        role="kiosk", token="t", server_url="http://127.0.0.1:1", mqtt_url=mosquitto.url)


def test_link_availability_status_and_live_waits(mosquitto):
    topics = Topics("gpo")
    # the server's retained state, there before the kiosk starts
    watch = Retained(mosquitto.url, topics.device_availability("kiosk-9"), topics.device_status("kiosk-9"))
    state = ServiceStatePayload(service_id="kra-pin", prefix="K", name_en="KRA PIN registration",
                                name_sw="Usajili wa PIN ya KRA", category="Tax and business", waiting=4,
                                estimated_wait_s=720, open_counters=2)
    watch.client.publish(topics.service_state("kra-pin"), state.to_bytes(), qos=1, retain=True).wait_for_publish(5)
    watch.client.publish(topics.service_state("bad"), b"{not json", qos=1, retain=True).wait_for_publish(5)
    got: list[ServiceStatePayload] = []
    seen = threading.Event()

    def on_state(s: ServiceStatePayload) -> None:
        got.append(s)
        seen.set()

    link = KioskLink(_bundle(mosquitto), on_service_state=on_state)
    link.start()
    try:
        assert seen.wait(10)
        assert got[0].service_id == "kra-pin" and got[0].waiting == 4  # the bad payload was skipped
        watch.wait_for(topics.device_availability("kiosk-9"), lambda p: p == b"online")
        link.publish_status(PrinterStatus.paper_low, "paper low")
        payload = watch.wait_for(topics.device_status("kiosk-9"),
                                 lambda p: DeviceStatusPayload.model_validate_json(p).printer == "paper_low")
        assert DeviceStatusPayload.model_validate_json(payload).device_id == "kiosk-9"
        # after a broker restart the status is sent again (the broker kept nothing: persistence off)
        mosquitto.restart()
        with watch._lock:
            watch.messages.clear()
        watch.wait_for(topics.device_status("kiosk-9"),
                       lambda p: DeviceStatusPayload.model_validate_json(p).printer == "paper_low", timeout=20)
    finally:
        link.stop()
    watch.wait_for(topics.device_availability("kiosk-9"), lambda p: p == b"offline")
    watch.close()


def test_crashed_kiosk_goes_offline_by_its_last_will(mosquitto, tmp_path):
    topics = Topics("gpo")
    watch = Retained(mosquitto.url, topics.device_availability("kiosk-9"))
    bundle = _bundle(mosquitto).model_dump_json()
    code = (
        "import sys, time\n"
        "from centre_server.contract import DeviceBundle\n"
        "from kiosk.mqtt_link import KioskLink\n"
        f"link = KioskLink(DeviceBundle.model_validate_json({bundle!r}))\n"
        "link.start()\n"
        "link.connected.wait(10)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == b"up"
        watch.wait_for(topics.device_availability("kiosk-9"), lambda p: p == b"online")
        proc.kill()
        proc.wait()
        watch.wait_for(topics.device_availability("kiosk-9"), lambda p: p == b"offline")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watch.close()
