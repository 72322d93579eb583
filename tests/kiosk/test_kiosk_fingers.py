"""The kiosk under real fingers: a double tap, a kiosk the centre no longer knows, large text with the
controls low in Kiswahili. The real app under Xvfb, a real centre server and Mosquitto, real touches."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from kiosk.config import ConfigError
from tests.conftest import BIN, provision
from tests.kiosk.conftest import ARTIFACTS, kiosk_config
from tests.kiosk.test_kiosk_app import tickets_in_db

pytestmark = pytest.mark.timeout(300)


def test_a_double_tap_never_presses_the_next_screen(centre_server, mosquitto, tmp_path, run_kiosk):
    """Two taps 80 ms apart on a category and on "I have these": one step each, never a step back."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    data = run_kiosk(config, "double_tap").result(timeout=120)["data"]
    assert data["after_category"] == "services" and data["service_after_category"] is None, data
    x, y = data["have_at"]
    bx, by, bw, bh = data["back_box"]
    assert bx <= x <= bx + bw and by <= y <= by + bh, data  # "I have these" lies over priority's "Back"
    # one step each, never back to the services; each second touch seen and ignored
    assert data["after_have"] == "priority" and data["after_have_slow"] == "priority", data
    assert data["after_back"] == "services", data  # a deliberate tap a moment later still works
    assert data["ignored_total"] >= 2, data  # the second touches were seen and ignored (or fell on nothing yet)
    assert tickets_in_db(centre_server) == []


def _out_of_service_texts(data: dict) -> str:
    return " ".join(data["texts"])


def test_an_unknown_kiosk_says_so_at_once(centre_server, mosquitto, tmp_path, run_kiosk):
    """A bundle whose token the centre does not know: out of service from the start, in both languages."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    bundle = json.loads(config.read_text())
    bundle["token"] = "not-a-token-of-this-centre"
    config.write_text(json.dumps(bundle))
    data = run_kiosk(config, "not_registered").result(timeout=120)["data"]
    assert data["fault"] == "not_registered" and data["seconds"] < 5, data
    said = _out_of_service_texts(data)
    assert "This kiosk is not registered" in said and "Kioski hiki hakijasajiliwa" in said, said
    assert "technician" in said and "fundi" in said, said
    assert data["overflows"] == [], data["overflows"]
    assert data["after_touch"] == "out_of_service" and data["issue_calls"] == 0


def test_a_revoked_kiosk_stops_at_once(centre_server, mosquitto, tmp_path, run_kiosk):
    """``revoke-device kiosk-1`` while it waits on welcome: within seconds it says it is not registered,
    instead of walking the next citizen to "Could not get a ticket"."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    run = run_kiosk(config, "not_registered", env={"KIOSK_REVOKE": "1"})
    run.wait_mark("ready", 60)
    provision(centre_server.centre.path, "revoke-device", str(centre_server.centre.path), "kiosk-1")
    run.go("revoked")
    data = run.result(timeout=120)["data"]
    assert data["fault"] == "not_registered" and data["seconds"] < 6, data
    said = _out_of_service_texts(data)
    assert "This kiosk is not registered" in said and "Kioski hiki hakijasajiliwa" in said, said
    assert data["after_touch"] == "out_of_service" and data["issue_calls"] == 0
    assert tickets_in_db(centre_server) == []


def test_large_text_and_controls_low_in_kiswahili(centre_server, mosquitto, tmp_path, run_kiosk):
    """Large text + controls low (Kiswahili, 1280x800): whole rows of categories show, and "More below" when
    more lie below; large text off again: every service title bigger than its subtitle, at its usual size."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    data = run_kiosk(config, "large_low_sw").result(timeout=120)["data"]
    (ARTIFACTS / "kiosk-large-low-sw.json").write_text(json.dumps(data, indent=1))  # the sizes, beside the PNGs
    cats = data["large_low_categories"]
    # the lower 75% of a landscape screen holds one whole row of large Kiswahili categories: the row cut by
    # the view's edge says that more lie below (and the wide yellow bar), and the end of the list shows whole
    assert cats["whole_rows"] >= 1 and cats["count"] > 3 * cats["whole_rows"], cats
    assert cats["more_below"] and "Zaidi chini" in cats["hint"] and "\u2193" in cats["hint"], cats
    end = data["large_low_categories_end"]
    assert end["whole_rows"] >= 1 and not end["more_below"] and end["hint"] == "", end
    assert data["large_after_back"] is True and data["large_after_off"] is False
    assert len(data["categories_tapped"]) >= 3, data["categories_tapped"]
    assert data["top_after_start_again"] >= 0.99, data["top_after_start_again"]  # not slid down by the last list
    for page in ("large_low_category_titles", "low_category_titles", "large_services", "low_services"):
        for row in data[page]:
            assert row["fits"], (page, row)
            assert row["title_px"] > row["subtitle_px"], (page, row)
    # large text off: the titles are back to the normal size (28 sp, shrunk a step or two only to fit a
    # two-line Kiswahili subtitle), never Button's 15 sp default
    normal = [r["title_px"] for r in data["low_services"]]
    assert max(normal) == pytest.approx(data["sp28"], abs=0.5) and min(normal) >= data["sp28"] - 3, normal


def _demo(args: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "huduma-kiosk"), "--demo", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env={**os.environ, "DISPLAY": ""})


def test_demo_says_precisely_what_is_wrong(centre_dir, tmp_path):
    """``huduma-kiosk --demo`` without a demo centre folder, or with one whose centre is not running: one line
    naming the folder or the address, never the window and a silent out-of-service screen."""
    missing = _demo(["--demo-dir", str(tmp_path / "nowhere")], tmp_path)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert f"{tmp_path / 'nowhere'}/devices/kiosk-1.json does not exist" in missing.stderr, missing.stderr
    assert "make run" in missing.stderr and "--demo-dir" in missing.stderr
    stopped = _demo(["--demo-dir", str(centre_dir.path)], tmp_path)  # provisioned, but no server runs
    assert stopped.returncode != 0 and "Traceback" not in stopped.stderr
    url = centre_dir.bundle("kiosk-1")["server_url"]
    assert f"is not running: nothing answers at {url}" in stopped.stderr, stopped.stderr


def test_demo_follows_the_broker_the_centre_uses(centre_server, mosquitto):
    """A bundle that still names 1883 while the demo centre's broker moved: the kiosk takes the centre's word."""
    from kiosk.app import check_demo_centre, demo_config

    bundle = centre_server.centre.path / "devices" / "kiosk-1.json"
    data = json.loads(bundle.read_text())
    data.update(server_url=centre_server.url, mqtt_url="mqtt://127.0.0.1:1")  # where no broker is
    bundle.write_text(json.dumps(data))
    cfg = demo_config(centre_server.centre.path)
    check_demo_centre(cfg, str(bundle))
    assert cfg.bundle.mqtt_url == mosquitto.url
    data["centre_id"] = "another"
    bundle.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="another centre serves that port"):
        check_demo_centre(demo_config(centre_server.centre.path), str(bundle))
