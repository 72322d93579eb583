"""The real kiosk app under Xvfb against a real centre server process and Mosquitto.

Each test runs the app in its own process (driver.py) and taps through a
scenario with real touch events; the test checks the server, the database, the
printed bytes and the broker.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from centre_server.contract import DeviceStatusPayload, Topics
from tests.kiosk.conftest import ARTIFACTS, Retained, kiosk_config
from tests.kiosk.escpos_decode import decode, render
from tests.kiosk.printer_sim import SerialPrinterSim

pytestmark = pytest.mark.timeout(240)


def tickets_in_db(centre_server) -> list[dict]:
    con = sqlite3.connect(centre_server.centre.path / "centre.db")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("select * from tickets order by issued_at")]
    finally:
        con.close()


def device_status(payload: bytes) -> str | None:
    return DeviceStatusPayload.model_validate_json(payload).printer


def test_whole_flow_issues_prints_and_reprints(centre_server, mosquitto, tmp_path, run_kiosk):
    tickets_file = tmp_path / "tickets.bin"
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tickets_file)})
    topics = Topics(centre_server.centre.bundle("kiosk-1")["centre_id"])
    watch = Retained(mosquitto.url, topics.device_availability("kiosk-1"), topics.device_status("kiosk-1"))
    try:
        run = run_kiosk(config, "flow")
        watch.wait_for(topics.device_availability("kiosk-1"), lambda p: p == b"online", timeout=60)
        result = run.result()
        data = result["data"]

        # one ticket, even though the confirm button was tapped twice
        assert data["confirm_taps"] == 2 and data["issue_calls"] == 1
        rows = tickets_in_db(centre_server)
        assert len(rows) == 1
        row = rows[0]
        ticket = data["ticket"]
        assert row["id"] == ticket["id"] and row["number"] == ticket["number"]
        assert row["service_id"] == "id-card-new" and row["priority"] == "elderly"
        assert row["channel"] == "kiosk" and row["language"] == "en"
        assert row["phone"].endswith("712345678") and row["idempotency_key"].endswith(data["idempotency_key"])
        assert data["invalid_phone_refused"] and not data["wrong_pin_unlocked"]
        lines = data["invalid_lines"]
        assert lines["sw"][0].startswith("Weka nambari") and lines["en"][0].startswith("Enter a Kenyan"), lines
        for lang in ("en", "sw"):  # the example number on one line, whole
            assert sum("0712\u00a0345\u00a0678" in line for line in lines[lang]) == 1, lines
        assert data["waiting_after"] == data["waiting_at_confirm"] + 1  # live from MQTT, not a reload

        with centre_server.client() as http:
            live = http.get(f"/api/v1/tickets/{ticket['id']}").json()
        assert live["number"] == ticket["number"] and live["state"] == "waiting"

        # the paper: the ticket, then the staff reprint marked as a copy
        raw = tickets_file.read_bytes()
        (ARTIFACTS / "kiosk-flow-tickets.bin").write_bytes(raw)
        printed = decode(raw)
        assert printed.cuts == 2
        assert printed.qr == [ticket["status_url"]] * 2
        big = [line.text for line in printed.lines if line.height == 8]
        assert big == [ticket["number"]] * 2
        assert "New national ID card" in printed.texts
        assert " PRIORITY " in printed.texts and "Aged 60 or over" in printed.texts
        render(decode(raw.split(b"\x1dV\x00")[0] + b"\x1dV\x00")).save(ARTIFACTS / "kiosk-printed-ticket.png")
        assert "*** COPY / NAKALA ***" in printed.texts
        assert data["printed"] is True and data["staff_message"] == f"Reprinted {ticket['number']}"
        assert data["language_after_done"] == "en"  # "Done" ended the Kiswahili citizen's visit

        for screen in ("welcome", "categories", "services", "priority", "phone-invalid", "phone-invalid-sw", "phone",
                       "confirm", "ticket", "ticket-sw", "staff"):
            assert screen in result["screens"]

        # a clean stop says offline itself; the printer status stayed retained
        watch.wait_for(topics.device_availability("kiosk-1"), lambda p: p == b"offline")
        assert device_status(watch.messages[topics.device_status("kiosk-1")]) == "ok"
    finally:
        watch.close()


@pytest.mark.parametrize("fault", ["paper_out", "offline"])
def test_printer_fault_still_issues_and_reports_until_fixed(fault, centre_server, mosquitto, tmp_path, run_kiosk):
    """A serial printer (on a pty) out of paper, or switched off: the ticket is issued and shown
    with its QR code, and the kiosk's retained status names the fault until someone fixes it."""
    sim = SerialPrinterSim(fault)
    # a silent printer costs a read timeout per status query: long enough to see "printing"
    config = kiosk_config(centre_server, mosquitto, tmp_path,
                          {"kind": "serial", "device": sim.device, "timeout_s": 0.5 if fault == "offline" else 0.3,
                           "status_poll_s": 1.0})
    topics = Topics(centre_server.centre.bundle("kiosk-1")["centre_id"])
    status_topic = topics.device_status("kiosk-1")
    watch = Retained(mosquitto.url, status_topic)
    try:
        shot = "ticket-no-paper" if fault == "paper_out" else "ticket-printer-offline"
        env = {"KIOSK_SHOT": shot, "KIOSK_SHOT_PRINTING": "printing" if fault == "offline" else ""}
        run = run_kiosk(config, "quick_ticket", env=env)
        run.wait_mark("ticket", timeout=90)
        rows = tickets_in_db(centre_server)
        assert len(rows) == 1 and rows[0]["service_id"] == "kra-pin" and rows[0]["language"] == "sw"
        watch.wait_for(status_topic, lambda p: device_status(p) == fault)
        # it stays: several status polls later, nobody has said ok
        time.sleep(2.5)
        assert device_status(watch.messages[status_topic]) == fault
        assert decode(sim.printed).cuts == 0  # nothing came out of an empty printer

        sim.status = "ok"  # a clerk loads paper
        run.go("fixed")
        watch.wait_for(status_topic, lambda p: device_status(p) == "ok")
        result = run.result()
        assert result["data"]["printed"] is False  # the screen told the citizen to note the number
        assert result["data"]["printer_status"] == fault
        assert result["data"]["printer_status_after_fix"] == "ok"
        # the welcome screen warned the next citizens while the printer was down, and stopped after
        assert result["data"]["banner_while_faulty"] is True and result["data"]["banner_after_fix"] is False
        assert result["data"]["ticket"]["id"] == rows[0]["id"]
        assert shot in result["screens"]
    finally:
        watch.close()
        sim.close()


def test_server_outage_shows_out_of_service_and_recovers(centre_server, mosquitto, tmp_path, run_kiosk):
    """Killed server: out of service within 5 s; restarted: back by itself. Then an idle citizen."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          idle_timeout_s=3)
    run = run_kiosk(config, "outage")
    run.wait_mark("ready", timeout=90)
    centre_server.kill9()
    run.go("killed")
    run.wait_mark("out_of_service", timeout=30)
    centre_server.start()
    run.go("restarted")
    data = run.result()["data"]
    assert data["seconds_to_out_of_service"] < 5.0
    assert data["usable_after_recovery"] is True
    # idle timeout: the kiosk went back to welcome and forgot the category and the language
    assert data["category_chosen"]
    assert data["category_after"] is None and data["language_after"] == "en"


def test_demo_cli_runs_the_real_window_and_stops_cleanly(centre_server, mosquitto, tmp_path, xvfb):
    """``huduma-kiosk --demo --demo-dir DIR``: a window, online on MQTT, offline on SIGTERM."""
    centre = centre_server.centre.path
    bundle_path = centre / "devices" / "kiosk-1.json"
    bundle = json.loads(bundle_path.read_text())
    bundle.update(server_url=centre_server.url, mqtt_url=mosquitto.url)
    bundle_path.write_text(json.dumps(bundle))
    from kiosk.app import demo_config

    cfg = demo_config(centre)  # what --demo runs: the bundle, a file printer beside it, a window
    assert cfg.bundle.device_id == "kiosk-1" and cfg.printer.kind == "file"
    assert cfg.printer.path == str((centre / "kiosk-1-tickets.bin").resolve())
    assert cfg.kiosk.fullscreen is False
    topics = Topics(bundle["centre_id"])
    watch = Retained(mosquitto.url, topics.device_availability("kiosk-1"), topics.device_status("kiosk-1"))
    env = {**os.environ, "DISPLAY": xvfb, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--demo", "--demo-dir", str(centre)],
                            cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        watch.wait_for(topics.device_availability("kiosk-1"), lambda p: p == b"online", timeout=60)
        watch.wait_for(topics.device_status("kiosk-1"), lambda p: device_status(p) == "ok", timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "demo.log").read_text()[-2000:]
        watch.wait_for(topics.device_availability("kiosk-1"), lambda p: p == b"offline")
        assert "Traceback" not in (tmp_path / "demo.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watch.close()
