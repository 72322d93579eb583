"""Strings, the kiosk model, the config and the command line (no window needed)."""

from __future__ import annotations

import json
import string
import subprocess
import sys

import pytest

from centre_server.contract import ServiceOut, ServiceStatePayload
from kiosk.config import ConfigError, load_config, parse_config
from kiosk.i18n import CATEGORIES, STRINGS, category_name, wait_about_text, wait_text, waiting_text
from kiosk.model import KioskModel, ServiceInfo, phone_display, phone_is_valid, phone_keyed

BUNDLE = {"centre_id": "gpo", "centre_name": "Huduma Centre GPO", "device_id": "kiosk-1", "kind": "kiosk",
          "role": "kiosk", "token": "tok", "server_url": "http://127.0.0.1:8000",
          "mqtt_url": "mqtt://127.0.0.1:1883"}


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.mark.parametrize("key", sorted(STRINGS))
def test_every_string_in_both_languages(key):
    entry = STRINGS.entry(key)
    assert entry["en"].strip() and entry["sw"].strip(), key
    assert _fields(entry["en"]) == _fields(entry["sw"]), f"{key}: placeholders differ"


def test_categories_translated():
    for entry in map(CATEGORIES.entry, CATEGORIES):
        assert entry["en"] and entry["sw"]
    assert category_name("Tax and business", "sw") == "Kodi na biashara"
    assert category_name("Tax and business", "sw", "Kodi (kutoka seva)") == "Kodi (kutoka seva)"
    assert category_name("KRA special desk", "en") == "KRA special desk"  # unknown: shown as given


def test_standard_menu_categories_have_kiswahili_names():
    """Even a server that sends no category_sw gets Kiswahili categories for the standard menu."""
    import csv
    from pathlib import Path

    menu = Path(__file__).resolve().parents[2] / "centre_server" / "data" / "menu.csv"
    rows = list(csv.DictReader(menu.open()))
    assert rows
    for row in rows:
        assert category_name(row["category"], "sw") == row["category_sw"], row["category"]


def test_waits_read_like_speech():
    assert wait_text(30, "en") == "short wait"
    assert wait_text(1500, "sw") == "dakika 25"
    assert wait_text(2 * 3600, "en") == "2 h 0 min"
    assert wait_about_text(600, "en") == "about 10 min"
    assert waiting_text(1, "sw") == "Mtu 1 anasubiri" and waiting_text(0, "en") == "No one waiting"


@pytest.mark.parametrize(("phone", "ok"), [
    ("0712345678", True), ("0112345678", True), ("+254712345678", True), ("254712345678", True),
    ("0712 345 678", True), ("0812345678", False), ("071234567", False), ("07123456789", False), ("", False),
])
def test_phone_validation_uses_the_contract_pattern(phone, ok):
    assert phone_is_valid(phone) is ok


def test_phone_shown_in_groups():
    assert phone_display("0712345678") == "0712 345 678"
    assert phone_display("+254712345678") == "+254 712 345 678"
    assert phone_display("071") == "071"


def _service(sid: str, category: str, waiting: int = 0) -> ServiceOut:
    return ServiceOut(id=sid, prefix=sid[:1].upper(), name_en=f"{sid} en", name_sw=f"{sid} sw", category=category,
                      target_wait_min=30, typical_service_min=5, enabled=True, waiting=waiting,
                      estimated_wait_s=60 * waiting, longest_wait_s=0, open_counters=1)


def test_model_merges_http_list_and_mqtt_waits():
    m = KioskModel()
    m.set_services([_service("id-card", "Identity"), _service("kra-pin", "Tax"), _service("helb", "Identity")])
    assert m.categories() == ["Identity", "Tax"]
    assert [s.id for s in m.services_in("Identity")] == ["id-card", "helb"]
    version = m.services_version
    m.apply_service_state(ServiceStatePayload(service_id="kra-pin", prefix="K", name_en="KRA PIN",
                                              name_sw="PIN ya KRA", category="Tax", waiting=9,
                                              estimated_wait_s=900, open_counters=2))
    assert m.services_version > version
    assert m.services["kra-pin"].waiting == 9 and m.services["kra-pin"].name("sw") == "PIN ya KRA"
    m.apply_service_state(ServiceStatePayload(service_id="kra-pin", prefix="K", name_en="KRA PIN",
                                              name_sw="PIN ya KRA", category="Tax", enabled=False))
    assert m.categories() == ["Identity"]  # a disabled service disappears, and its empty category


def test_model_language_switch_changes_strings():
    m = KioskModel()
    assert m.strings["welcome_title"] == "Welcome"
    m.toggle_language()
    assert m.language == "sw" and m.strings["welcome_title"] == "Karibu"


def test_idempotency_key_once_per_confirmation():
    m = KioskModel()
    m.set_services([_service("id-card", "Identity")])
    m.choose_service("id-card")
    key = m.begin_confirmation()
    assert m.begin_confirmation() == key  # a second tap, a retry: the same key
    m.priority = "elderly"  # a changed choice is a different ticket
    assert m.begin_confirmation() != key
    req = m.issue_request()
    assert req.service_id == "id-card" and req.priority == "elderly" and req.phone is None
    m.phone = "0712 345 678"
    assert m.issue_request().phone == "0712345678"
    m.reset_choices()
    assert m.service_id is None and m.idempotency_key is None and m.phone == ""


def test_config_sections_and_clear_errors(tmp_path):
    cfg = parse_config({**BUNDLE, "printer": {"kind": "usb", "vendor_id": "0x04b8", "product_id": "0x0e15"},
                        "kiosk": {"staff_pin": "8642", "idle_timeout_s": 30}})
    assert cfg.printer.vendor_id == 0x04B8 and cfg.kiosk.staff_pin == "8642"
    with pytest.raises(ConfigError, match="needs path"):
        parse_config({**BUNDLE, "printer": {"kind": "file"}})
    with pytest.raises(ConfigError, match="printer.kind"):
        parse_config({**BUNDLE, "printer": {"kind": "laser"}})
    with pytest.raises(ConfigError, match="not a kiosk"):
        parse_config({**BUNDLE, "kind": "display", "role": "display"})
    with pytest.raises(ConfigError, match="token"):
        parse_config({k: v for k, v in BUNDLE.items() if k != "token"})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env={"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "PATH": "/usr/bin:/bin",
                                        "KIVY_HOME": str(cwd or "/tmp")})


def test_cli_help_and_errors_without_traceback(tmp_path):
    r = _cli("--help", cwd=tmp_path)
    assert r.returncode == 0 and "--demo" in r.stdout and "--config" in r.stdout
    bad = tmp_path / "kiosk.json"
    bad.write_text(json.dumps({**BUNDLE, "printer": {"kind": "serial"}}))
    r = _cli("--config", str(bad), cwd=tmp_path)
    assert r.returncode != 0 and "needs device" in r.stderr and "Traceback" not in r.stderr
    r = _cli("--demo", "--demo-dir", str(tmp_path / "nothing"), cwd=tmp_path)
    assert r.returncode != 0 and "make run" in r.stderr and "Traceback" not in r.stderr
    r = _cli(cwd=tmp_path)
    assert r.returncode != 0 and "exactly one of" in r.stderr


def test_null_estimates_and_refusals_reach_the_model():
    """The server's null estimate (with its reason) and its refusal stay as they are: nothing invented."""
    from kiosk.i18n import estimate_text

    m = KioskModel()
    m.set_services([ServiceOut(id="kra-pin", prefix="K", name_en="KRA PIN registration",
                               name_sw="Usajili wa PIN ya KRA",
                               category="Tax and business", target_wait_min=30, typical_service_min=6,
                               enabled=True, waiting=0, estimated_wait_s=None, wait_unknown="no_counter",
                               longest_wait_s=0, open_counters=0)])
    s = m.services["kra-pin"]
    assert s.estimated_wait_s is None and s.wait_unknown == "no_counter" and s.accepting
    assert estimate_text(s.estimated_wait_s, s.wait_unknown, "sw") == (
        "Hakuna kaunta inayohudumia huduma hii sasa. Wafanyakazi watakuita kaunta ikifunguliwa.")
    m.apply_service_state(ServiceStatePayload(service_id="kra-pin", prefix="K", name_en="KRA PIN registration",
                                              name_sw="Usajili wa PIN ya KRA", estimated_wait_s=1200,
                                              accepting=False, refusal="after_last_call", open_counters=1))
    assert s.estimated_wait_s == 1200 and not s.accepting and s.refusal == "after_last_call"
    assert estimate_text(None, "closed", "en") == "The centre has closed for today"
    assert estimate_text(39444 * 3600, None, "en") == "Estimated wait: 39444 h 0 min"  # what the server said


def test_day_state_and_opening_said_in_both_languages():
    from datetime import date, datetime

    from centre_server.contract import DayStatePayload, opens_again
    from kiosk.i18n import day_text

    m = KioskModel()
    assert m.day_open
    m.apply_day_state(DayStatePayload(day="2026-12-06", open=False, reason="closed_by_manager",
                                      opens_at=datetime.fromisoformat("2026-12-07T08:00:00+03:00")))
    assert not m.day_open and m.next_open_day() == "2026-12-07"
    assert day_text(date(2026, 12, 7), "en") == "Monday 7 December"
    assert day_text(date(2026, 12, 7), "sw") == "Jumatatu 7 Desemba"
    at = m.day.opens_at
    assert opens_again(at, "en") == "It opens again on Monday 7 December at 08:00."
    assert opens_again(at, "sw") == "Kitafunguliwa tena Jumatatu 7 Desemba saa 2 asubuhi (08:00)."


def test_window_option_and_screen_size(tmp_path):
    """--window WxH for development; a bad size is one clear line, not a traceback."""
    import click

    from kiosk.app import parse_window, x_screen_size

    assert parse_window("1080x1920") == (1080, 1920)
    for bad in ("1080", "axb", "10x10"):
        with pytest.raises(click.BadParameter):
            parse_window(bad)
    assert x_screen_size(":9999") is None  # no such X server: None, the configured size is used
    path = tmp_path / "k.json"
    path.write_text(json.dumps({**BUNDLE, "printer": {"kind": "file", "path": str(tmp_path / "t.bin")}}))
    r = _cli("--config", str(path), "--window", "12x12")
    assert r.returncode == 2 and "WIDTHxHEIGHT" not in r.stderr and "320 to 8192" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_catalogue_hides_what_is_not_offered_and_knows_suspensions():
    from centre_server.contract.catalogue import (
        CatalogueStatePayload,
        Offering,
        OfferingStatus,
        ServiceInfo as Info,
        shipped_catalogue,
    )
    from tests.kiosk.catalogue_samples import SUSPENSION

    cat = shipped_catalogue()
    m = KioskModel()
    m.set_services([_service(s.id, s.category.en) for s in cat.services[:3]])
    first, second, third = (s.id for s in cat.services[:3])
    assert m.needs_of(first) is None and m.suspension(first) == (False, None)  # no catalogue yet
    offerings = {second: Offering(service_id=second, status=OfferingStatus.not_offered),
                 third: Offering(service_id=third, status=OfferingStatus.suspended, reason=SUSPENSION)}
    payload = CatalogueStatePayload(version=4, services=[
        Info(service=s, offering=offerings.get(s.id, Offering(service_id=s.id))) for s in cat.services])
    m.mqtt_ok = True
    m.apply_catalogue(payload)  # over MQTT
    assert [s.id for s in m.services_in(None)] == [first, third]  # not offered here: not listed
    assert m.needs_of(first) == cat.service(first)
    assert m.suspension(third) == (True, SUSPENSION)
    # an HTTP answer does not undo what MQTT said while the broker is up; it fills in when it is not
    stale = CatalogueStatePayload(version=0, services=[Info(service=s, offering=Offering(service_id=s.id))
                                                        for s in cat.services])
    m.apply_catalogue(stale, live=False)
    assert m.catalogue.version == 4
    m.mqtt_ok = False
    m.apply_catalogue(stale, live=False)
    assert m.catalogue.version == 0 and m.suspension(third) == (False, None)
    # the service's own retained state may say it first
    m.apply_service_state(ServiceStatePayload(service_id=first, prefix="A", name_en="x", name_sw="y",
                                              waiting=0, estimated_wait_s=0, accepting=False,
                                              refusal="service_suspended", open_counters=1, target_wait_s=60))
    assert m.suspension(first) == (True, None)


def test_every_phone_is_typed_by_one_rule_the_sms_the_m_pesa_and_the_check_in_phone():
    """One keypad rule (kiosk.model.phone_keyed): "<" erases, "+" only first, digits up to a whole number."""
    typed = ""
    for key in "+" + "254712345678" + "999" + "+":
        typed = phone_keyed(typed, key)
    assert typed == "+254712345678"  # nothing after a whole number, no second "+"
    assert phone_keyed(phone_keyed("0712", "<"), "<") == "07"
    assert phone_keyed("", "<") == "" and phone_keyed("07", "+") == "07" and phone_keyed("07", "x") == "07"
    m = KioskModel()
    m.set_checkin_mode("phone")
    for key in "0712345678" + "12345":
        m.checkin_key(key)
    assert m.checkin_entry == "0712345678123"  # 13 digits at most, as before
    typed = ""
    for key in "0712345678" + "12345":
        typed = phone_keyed(typed, key)
    assert m.checkin_entry == typed  # check-in by phone types exactly as the SMS and M-Pesa phones do
    m.set_checkin_mode("code")
    for key in "+123456789":
        m.checkin_key(key)
    assert m.checkin_entry == "12345678"  # a code: digits only, eight at most


def test_a_service_nobody_serves_for_the_rest_of_today_says_so_not_last_ticket_issued():
    """After its last call a service takes no ticket: because no counter serves it for the rest of the day
    (no estimate: no_counter), or because the queue is too long to be called in time (an estimate). The kiosk
    said "Today's last ticket ... has been issued" for both, though nobody had a ticket; it says why now. A
    counter on a break (no estimate: paused) is expected back: not "no counter"."""
    from kiosk.i18n import too_late_text

    def info(estimate: int | None, unknown: str | None) -> ServiceInfo:
        return ServiceInfo(id="kra-pin", prefix="K", name_en="KRA PIN", name_sw="PIN ya KRA", waiting=2,
                           estimated_wait_s=estimate, wait_unknown=unknown, accepting=False,
                           refusal="after_last_call")

    nobody, too_long, paused = info(None, "no_counter"), info(1200, None), info(None, "paused")
    assert too_late_text(nobody, "en") == "No counter serves this service for the rest of today"
    assert too_late_text(nobody, "sw") == "Hakuna kaunta itakayohudumia huduma hii tena leo"
    assert too_late_text(too_long, "en") == too_late_text(paused, "en") == STRINGS.tr("last_ticket_issued", "en")
    for lang, name in (("en", "KRA PIN"), ("sw", "PIN ya KRA")):
        said = too_late_text(nobody, lang, service=name)
        assert name in said and ("No counter" in said or "Hakuna kaunta" in said), said
        assert too_late_text(too_long, lang, service=name) == STRINGS.tr("book_why_last", lang, service=name)
    assert too_late_text(None, "en", service="") == STRINGS.tr("book_why_last", "en", service="")
