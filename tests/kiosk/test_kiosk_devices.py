"""Devices fail safe (issue 15): a kiosk that cannot print says so and issues nothing; add-device gives
each kiosk its own random staff PIN, never 0000."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from centre_server.contract import DeviceStatusPayload, Topics
from kiosk.config import ConfigError, load_config, parse_config
from kiosk.i18n import tr
from tests.conftest import provision
from tests.kiosk.conftest import Retained, kiosk_config

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize("printer", [None, {"kind": "dummy"}], ids=["no-printer", "dummy-printer"])
def test_kiosk_that_cannot_print_is_out_of_service_and_says_why(printer, centre_server, mosquitto, tmp_path,
                                                                   run_kiosk):
    """Before the fix a bundle with no printer section printed into memory and published printer "ok"."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, printer or {})
    if printer is None:
        bundle = json.loads(config.read_text())
        del bundle["printer"]  # exactly what add-device writes: no printer section
        config.write_text(json.dumps(bundle))
    fault = "no_printer" if printer is None else "dummy_printer"
    topics = Topics(centre_server.centre.bundle("kiosk-1")["centre_id"])
    watch = Retained(mosquitto.url, topics.device_status("kiosk-1"))
    try:
        run = run_kiosk(config, "out_of_service_fault",
                        env={"KIOSK_SHOT": f"out-of-service-{fault.replace('_', '-')}"})
        payload = watch.wait_for(topics.device_status("kiosk-1"),
                                 lambda p: DeviceStatusPayload.model_validate_json(p).printer == "error", timeout=90)
        data = run.result()["data"]
    finally:
        watch.close()
    status = DeviceStatusPayload.model_validate_json(payload)
    assert status.detail == tr(f"oos_{fault}", "en")
    assert data["fault"] == fault and data["after_start"] == "out_of_service" and data["issue_calls"] == 0
    assert tr(f"oos_{fault}", "en") in data["reason"] and tr(f"oos_{fault}", "sw") in data["reason"]
    con = sqlite3.connect(centre_server.centre.path / "centre.db")
    try:
        assert con.execute("select count(*) from tickets").fetchone()[0] == 0
    finally:
        con.close()


def test_add_device_gives_each_kiosk_a_random_staff_pin(centre_dir):
    """The provisioning README's way: each kiosk bundle carries its own PIN, printed for the technician;
    a rebuilt bundle keeps it; never 0000."""
    from click.testing import CliRunner

    from provisioning.cli import cli

    runner = CliRunner()
    pins = []
    for device_id in ("kiosk-7", "kiosk-8"):
        result = runner.invoke(cli, ["add-device", str(centre_dir.path), "--kind", "kiosk", "--id", device_id])
        assert result.exit_code == 0, result.output
        bundle = json.loads((centre_dir.path / "devices" / f"{device_id}.json").read_text())
        pin = bundle["kiosk"]["staff_pin"]
        assert re.fullmatch(r"\d{6}", pin) and len(set(pin)) > 1
        assert f"staff PIN {pin}" in result.output  # shown to the technician
        pins.append(pin)
        cfg = load_config(centre_dir.path / "devices" / f"{device_id}.json")
        assert cfg.kiosk.staff_pin == pin and cfg.printer.kind is None  # no printer until one is configured
    assert pins[0] != pins[1]
    # `bundle` rebuilds the same bundle with the same PIN (provisioning, as the technician runs it)
    out = centre_dir.path / "usb"
    provision(centre_dir.path, "bundle", str(centre_dir.path), "kiosk-7", "--out", str(out))
    assert json.loads((out / "kiosk-7.json").read_text())["kiosk"]["staff_pin"] == pins[0]
    # the demo kiosks too
    assert centre_dir.bundle("kiosk-1")["kiosk"]["staff_pin"] != "0000"
    assert (centre_dir.credentials["devices"]["kiosk-1"]["staff_pin"]
            == centre_dir.bundle("kiosk-1")["kiosk"]["staff_pin"])
    # a display has no PIN
    result = runner.invoke(cli, ["add-device", str(centre_dir.path), "--kind", "display", "--id", "display-9"])
    assert result.exit_code == 0
    assert "kiosk" not in json.loads((centre_dir.path / "devices" / "display-9.json").read_text())


def test_a_pin_anybody_would_guess_is_refused(tmp_path):
    base = {"centre_id": "gpo", "centre_name": "GPO", "device_id": "kiosk-1", "kind": "kiosk", "role": "kiosk",
            "token": "t", "server_url": "http://127.0.0.1:8000", "mqtt_url": "mqtt://127.0.0.1:1883"}
    for pin in ("0000", "1111", "99999999"):
        with pytest.raises(ConfigError, match="kiosk.staff_pin"):
            parse_config({**base, "kiosk": {"staff_pin": pin}}, "k.json")
    assert parse_config({**base, "kiosk": {"staff_pin": "4821"}}).kiosk.staff_pin == "4821"
    assert parse_config(base).kiosk.staff_pin is None  # no PIN: the staff screen stays locked
