"""SMS alerts to the managers against a real centre server, a real Mosquitto and the demo SMS gateway's log.

Time is driven with small thresholds (fractions of a minute) in ``[alerts]`` and a
service whose target wait is one second: the server has no clock hooks.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from centre_server.alerts.watch import (
    DEVICE_OFFLINE,
    PRINTER_PAPER_OUT,
    SERVICE_BREACH,
    AlertBook,
    Condition,
    Message,
    sms_text,
)
from centre_server.config import AlertSettings
from centre_server.contract import DeviceBundle, DeviceStatusPayload, PrinterStatus, Topics
from centre_server.contract.link import DeviceLink
from centre_server.menu import builtin_menu
from centre_server.store import database as storage
from tests.conftest import CentreProcess, artifacts_dir, free_port, provision, wait_until, within
from tests.web.conftest import context_factory, issue, login_page, shots  # noqa: F401  (fixtures, by name)
from tests.web.test_board import publish_retained

MANAGER = "+254700000001"
SECOND = "+254711000002"


def sms_lines(centre_path: Path) -> list[tuple[str, str]]:
    """(phone, text) of every alert SMS the demo gateway wrote."""
    log = centre_path / "sms.log"
    if not log.exists():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        _, phone, text = line.split("\t", 2)
        out.append((phone, text))
    return out


def configure(centre_path: Path, **alerts: object) -> None:
    """Rewrite centre.toml's [alerts] (the demo's values first, then the test's)."""
    toml = centre_path / "centre.toml"
    text = toml.read_text()
    head, _, _ = text.partition("[alerts]")
    values = {"phones": [MANAGER], "language": "en", "breach_minutes": 0.02, "offline_minutes": 0.02,
              "paper_minutes": 0, "repeat_minutes": 60, "max_per_hour": 30, "check_every_s": 0.2, **alerts}

    def toml_value(v: object) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(f'"{x}"' for x in v) + "]"
        return f'"{v}"' if isinstance(v, str) else str(v)

    toml.write_text(head + "[alerts]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()))


def quick_target(centre_path: Path, service_id: str) -> None:
    """The service's target wait becomes one second (menu CSV through huduma-provision, as a technician would)."""
    path = centre_path / "menu-test.csv"
    provision(centre_path, "services", "export", str(centre_path), "--out", str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    for row in rows:
        if row["id"] == service_id:
            row["target_wait_min"] = "0.02"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    provision(centre_path, "services", "import", str(centre_path), str(path))


@pytest.fixture
def alert_server(centre_dir, mosquitto, tmp_path):
    configure(centre_dir.path, phones=[MANAGER, "0711 000 002"])
    quick_target(centre_dir.path, "birth-cert")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server
    server.stop()


def test_a_breach_is_told_once_then_its_end_and_a_second_breach_waits_for_the_rate_limit(
        alert_server, centre_dir, context_factory, shots):  # noqa: F811
    kiosk = centre_dir.bundle("kiosk-1")["token"]
    manager = alert_server.client(alert_server.login("manager"))
    clerk = alert_server.client(alert_server.login("clerk"))
    view = manager.get("/api/v1/alerts").json()
    assert view["phones"] == ["+2547•••••001", "+2547•••••002"]
    assert view["thresholds"]["breach_minutes"] == 0.02 and view["sms_gateway"] == "log"

    issue(alert_server, kiosk, "birth-cert")  # its target is 1 s: breached a second later, told 1.2 s after that
    lines = wait_until(lambda: sms_lines(centre_dir.path), 15, "the breach SMS in sms.log")
    wait_until(lambda: len(sms_lines(centre_dir.path)) == 2, 10, "one SMS to each manager")
    lines = sms_lines(centre_dir.path)
    assert {p for p, _ in lines} == {MANAGER, SECOND}
    text = lines[0][1]
    assert re.fullmatch(r"Huduma Centre GPO \(demo\): Birth certificate application over its target wait since "
                        r"\d\d:\d\d\. Longest wait \d+ min \(target 0\), 1 waiting\.", text), text
    assert len(text) <= 160 and text.isascii()
    open_alert = manager.get("/api/v1/alerts").json()["alerts"]
    assert [(a["kind"], a["subject"]) for a in open_alert] == [(SERVICE_BREACH, "birth-cert")]
    assert open_alert[0]["told_at"] is not None

    # the board shows who is told after how long, and that this alert's SMS went
    page = context_factory().new_page()
    login_page(page, alert_server, "manager", centre_dir.staff_password("manager"))
    page.wait_for_url("**/board")
    expect(page.locator("#sms-alerts-rules")).to_have_text(
        "SMS to +2547•••••001, +2547•••••002 when a service is over its target wait for 0.02 min, a device is "
        "offline for 0.02 min, or a kiosk printer is out of paper for 0 min; at most one per alert every 60 min, "
        "and one when it clears.")
    expect(page.locator("#sms-alerts li[data-subject='birth-cert']")).to_contain_text(
        "Over target: Birth certificate application · since ")
    expect(page.locator("#sms-alerts li[data-subject='birth-cert']")).to_contain_text("SMS sent")
    shots(page, "board-sms-alerts", full_page=True)
    page.locator(".alerts-card").screenshot(path=str(artifacts_dir("web") / "board-sms-alerts-card.png"))
    page.goto(alert_server.url + "/board?lang=sw")
    expect(page.locator("#sms-alerts li[data-subject='birth-cert']")).to_contain_text("SMS imetumwa")
    shots(page, "board-sms-alerts-sw", full_page=True)

    # served: the queue is empty, the breach clears, and the managers hear so once
    assert clerk.post("/api/v1/counters/c05/open").status_code == 200
    assert clerk.post("/api/v1/counters/c05/call-next").status_code == 200
    wait_until(lambda: len(sms_lines(centre_dir.path)) == 4, 10, "the recovery SMS")
    assert all("is back within its target wait" in t for _, t in sms_lines(centre_dir.path)[2:])
    assert manager.get("/api/v1/alerts").json()["alerts"] == []

    # a second breach within repeat_minutes (60) is on the board, but no SMS goes
    issue(alert_server, kiosk, "birth-cert")
    issue(alert_server, kiosk, "birth-cert")
    held = wait_until(lambda: manager.get("/api/v1/alerts").json()["alerts"], 10, "the second breach on the board")
    assert held[0]["told_at"] is None and held[0]["sms_due_at"] > held[0]["since"] + 3000  # after the hour
    assert not within(lambda: len(sms_lines(centre_dir.path)) > 4, 3)
    live = manager.get("/api/v1/stats/live").json()
    assert any(a["kind"] == "service_breach" and a["service_id"] == "birth-cert" for a in live["alerts"])


def test_a_restart_neither_forgets_a_breach_nor_tells_it_again(alert_server, centre_dir):
    kiosk = centre_dir.bundle("kiosk-1")["token"]
    issue(alert_server, kiosk, "birth-cert")
    wait_until(lambda: len(sms_lines(centre_dir.path)) == 2, 15, "the breach SMS")
    manager = alert_server.client(alert_server.login("manager"))
    since = manager.get("/api/v1/alerts").json()["alerts"][0]["since"]
    alert_server.stop()
    alert_server.start()
    manager = alert_server.client(alert_server.login("manager"))
    assert not within(lambda: len(sms_lines(centre_dir.path)) > 2, 3)
    again = manager.get("/api/v1/alerts").json()["alerts"]
    assert [(a["kind"], a["since"]) for a in again] == [(SERVICE_BREACH, since)]


def _kiosk_link(centre_dir, mosquitto, device_id: str) -> DeviceLink:
    bundle = DeviceBundle.model_validate({**centre_dir.bundle(device_id), "mqtt_url": mosquitto.url})
    return DeviceLink(bundle, [], reconnect_max_s=1)


def test_a_kiosk_offline_and_a_printer_out_of_paper_reach_the_managers(alert_server, centre_dir, mosquitto):
    manager = alert_server.client(alert_server.login("manager"))
    topics = Topics(centre_dir.bundle("kiosk-1")["centre_id"])
    link = _kiosk_link(centre_dir, mosquitto, "kiosk-2")
    link.start()
    wait_until(lambda: any(d["device_id"] == "kiosk-2" and d.get("availability") == "online"
                           for d in manager.get("/api/v1/stats/live").json()["devices"]), 15, "kiosk-2 online")
    # the kiosk's printer runs out of paper: its retained status says so
    out = DeviceStatusPayload(device_id="kiosk-2", kind="kiosk", printer=PrinterStatus.paper_out)
    assert link.publish(topics.device_status("kiosk-2"), out.to_bytes(), retain=True)
    wait_until(lambda: any("printer out of paper" in t for _, t in sms_lines(centre_dir.path)), 15, "paper SMS")
    text = next(t for _, t in sms_lines(centre_dir.path) if "paper" in t)
    assert re.fullmatch(r"Huduma Centre GPO \(demo\): kiosk kiosk-2 printer out of paper since \d\d:\d\d\. "
                        r"Load a new roll\.", text), text
    ok = DeviceStatusPayload(device_id="kiosk-2", kind="kiosk", printer=PrinterStatus.ok)
    assert link.publish(topics.device_status("kiosk-2"), ok.to_bytes(), retain=True)
    wait_until(lambda: any("has paper again" in t for _, t in sms_lines(centre_dir.path)), 15, "paper back SMS")

    # switched off: the link says offline on the broker, and after offline_minutes the managers hear it
    link.stop()
    wait_until(lambda: any("kiosk-2 offline since" in t for _, t in sms_lines(centre_dir.path)), 15, "offline SMS")
    alerts = manager.get("/api/v1/alerts").json()["alerts"]
    assert (DEVICE_OFFLINE, "kiosk-2") in {(a["kind"], a["subject"]) for a in alerts}
    # and back
    link = _kiosk_link(centre_dir, mosquitto, "kiosk-2")
    link.start()
    try:
        wait_until(lambda: any("kiosk-2 is back online" in t for _, t in sms_lines(centre_dir.path)), 15, "online")
    finally:
        link.stop()
    # one SMS per manager per change, none twice
    texts = [t for p, t in sms_lines(centre_dir.path) if p == MANAGER]
    assert len(texts) == len(set(texts)) == 4, texts


def test_a_display_offline_retained_from_before_is_told_but_not_when_no_phone_is_set(centre_dir, mosquitto, tmp_path):
    configure(centre_dir.path, phones=[])
    topics = Topics(centre_dir.bundle("kiosk-1")["centre_id"])
    publish_retained(mosquitto.url, [(topics.device_availability("display-1"), b"offline")])
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        manager = server.client(server.login("manager"))
        wait_until(lambda: manager.get("/api/v1/alerts").json()["alerts"], 10, "the display's alert on the board")
        assert manager.get("/api/v1/alerts").json()["phones"] == []
        assert not within(lambda: sms_lines(centre_dir.path), 2)
    finally:
        server.stop()


def test_only_managers_see_the_alerts(centre_server):
    clerk = centre_server.client(centre_server.login("clerk"))
    assert clerk.get("/api/v1/alerts").status_code == 403
    assert httpx.get(centre_server.url + "/api/v1/alerts").status_code == 401


@pytest.mark.parametrize("waiting", [0, 1, 1234])
@pytest.mark.parametrize("lang", ["en", "sw"])
def test_every_alert_sms_fits_one_gsm7_message_with_the_longest_names(lang, waiting):
    tz = ZoneInfo("Africa/Nairobi")
    at = datetime(2026, 12, 7, 10, 45, tzinfo=tz).timestamp()
    centre = "Huduma Centre Nairobi GPO Teleposta Towers, Kenyatta Avenue"
    longest = max(builtin_menu(), key=lambda s: len(s.name_sw if lang == "sw" else s.name_en))
    detail = {"name_en": longest.name_en, "name_sw": longest.name_sw, "waiting": waiting,
              "longest_wait_s": 999 * 60, "target_wait_s": 600 * 60}
    device = "kiosk-" + "x" * 34  # the longest device id huduma-provision allows (40)
    for kind, subject in ((SERVICE_BREACH, longest.id), (DEVICE_OFFLINE, device), (PRINTER_PAPER_OUT, device)):
        for cleared in (False, True):
            text = sms_text(Message(kind, subject, cleared, at - 600, at, detail), lang, centre, tz)
            assert len(text) <= 160, (len(text), text)
            assert text.isascii() and not text.endswith(".."), text  # the facts are never cut
            assert ("10:35" in text) != cleared and ("10:45" in text) == cleared
            if kind == SERVICE_BREACH and not cleared:  # the count in the right number, never "0 waiting"
                said = {0: ("none waiting", "hakuna anayesubiri"), 1: ("1 waiting", "mtu 1 anasubiri"),
                        1234: ("1234 waiting", "1234 wanasubiri")}[waiting][lang == "sw"]
                assert text.endswith(said + (" now." if said == "none waiting" else ".")), text


def _book(tmp_path: Path, **settings: object) -> AlertBook:
    """The book on a real SQLite file, migrated as a centre's is."""
    db = storage.connect(tmp_path / "centre.db")
    return AlertBook(db, AlertSettings(**{"phones": [MANAGER], "breach_minutes": 10, "offline_minutes": 5,
                                          "paper_minutes": 1, "repeat_minutes": 30, **settings}))


def test_a_night_offline_is_not_told_and_the_morning_counts_from_the_opening(tmp_path):
    book = _book(tmp_path)
    off = [Condition(DEVICE_OFFLINE, "kiosk-1")]
    t = 1_800_000_000.0
    assert book.step(off, set(), t, centre_open=True) == []  # 17:58: switched off two minutes before closing
    assert book.step(off, set(), t + 120, centre_open=False) == []  # 18:00 closed: forgotten, not told
    assert book.step(off, set(), t + 12 * 3600, centre_open=False) == []  # all night: nothing
    morning = t + 14 * 3600
    assert book.step(off, set(), morning, centre_open=True) == []  # opening: a fresh start, not 14 hours
    told = book.step(off, set(), morning + 5 * 60, centre_open=True)
    assert [(m.kind, m.subject, m.cleared, m.since) for m in told] == [(DEVICE_OFFLINE, "kiosk-1", False, morning)]
    # silence is not recovery: a device absent from the presence keeps its alert; online clears it, once
    assert book.step([], set(), morning + 400) == []
    assert [a["subject"] for a in book.current(morning + 400)] == ["kiosk-1"]
    back = book.step([], {(DEVICE_OFFLINE, "kiosk-1")}, morning + 500)
    assert [(m.subject, m.cleared) for m in back] == [("kiosk-1", True)]
    assert book.step([], {(DEVICE_OFFLINE, "kiosk-1")}, morning + 600) == []
    assert book.current(morning + 600) == []


def test_a_breach_that_comes_back_is_told_again_only_after_repeat_minutes(tmp_path):
    book = _book(tmp_path)
    b = [Condition(SERVICE_BREACH, "passport", {"name_en": "Passport", "waiting": 3})]
    fine = {(SERVICE_BREACH, "passport")}
    t = 1_800_000_000.0
    assert book.step(b, set(), t) == [] and book.step(b, set(), t + 599) == []
    assert len(book.step(b, set(), t + 600)) == 1  # 10 minutes over target: told
    assert book.step(b, set(), t + 900) == []  # still over: not again
    assert [m.cleared for m in book.step([], fine, t + 1000)] == [True]
    assert book.step(b, set(), t + 1100) == [] and book.step(b, set(), t + 1700) == []  # back, but within 30 min
    held = book.current(t + 1700)[0]
    assert held["told_at"] is None and held["sms_due_at"] == t + 600 + 1800
    assert book.step([], fine, t + 1800) == []  # cleared untold: no recovery SMS either
    assert book.step(b, set(), t + 2500) == []
    assert len(book.step(b, set(), t + 3100)) == 1  # a new episode past the threshold and the repeat
    # the day closes with citizens still waiting: their queue is emptied, which is no recovery to tell
    assert book.step([], fine, t + 4000, centre_open=False) == []
    assert book.current(t + 4000) == []


def test_the_hourly_cap_holds_the_rest_back_and_the_board_says_they_wait(centre_dir, mosquitto, tmp_path):
    """A network switch fails and takes three devices with it: one SMS in the hour, the others wait for it."""
    configure(centre_dir.path, max_per_hour=1)
    topics = Topics(centre_dir.bundle("kiosk-1")["centre_id"])
    publish_retained(mosquitto.url, [(topics.device_availability(d), b"offline")
                                     for d in ("display-1", "kiosk-1", "bridge-1")])
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        manager = server.client(server.login("manager"))
        wait_until(lambda: sms_lines(centre_dir.path), 15, "the first offline SMS")
        assert not within(lambda: len(sms_lines(centre_dir.path)) > 1, 3)
        alerts = manager.get("/api/v1/alerts").json()["alerts"]
        assert len(alerts) == 3
        assert sorted(a["told_at"] is None for a in alerts) == [False, True, True]
        assert all(a["sms_due_at"] is not None for a in alerts if a["told_at"] is None)
    finally:
        server.stop()


def test_a_wrong_manager_number_stops_the_server_naming_the_key(centre_dir):
    from centre_server.config import ConfigError, load_settings

    configure(centre_dir.path, phones=["0712 345 678", "12345"])
    with pytest.raises(ConfigError, match=r"phones: '12345' is not a Kenyan mobile number"):
        load_settings(centre_dir.path)
    configure(centre_dir.path, phones=["0712 345 678", "+254 712 345 678", "0112-345-678"])
    assert load_settings(centre_dir.path).alerts.phones == ["+254712345678", "+254112345678"]


def test_a_citizen_on_the_way_is_no_breach_until_checked_in(alert_server, centre_dir):
    """Finding 13: a remote ticket not checked in is a citizen at home: no longest wait, no breach SMS."""
    manager = alert_server.client(alert_server.login("manager"))
    r = httpx.post(alert_server.url + "/join", data={"service_id": "birth-cert", "phone": "0712000013", "lang": "en",
                                                     "nonce": "finding-13"}, timeout=10)
    assert r.status_code == 303, r.text
    page = httpx.get(alert_server.url + r.headers["location"], timeout=10).text
    code = re.search(r'id="check-in-code">(\d{6})<', page).group(1)
    # the target is one second and the breach threshold a second more: well past both, nothing is raised
    assert not within(lambda: manager.get("/api/v1/alerts").json()["alerts"], 4)
    managers = {MANAGER, SECOND}
    assert not [t for p, t in sms_lines(centre_dir.path) if p in managers]  # the citizen's own SMS went, no alert
    row = next(s for s in manager.get("/api/v1/stats/live").json()["services"] if s["id"] == "birth-cert")
    assert row["waiting"] == 0 and row["on_the_way"] == 1 and row["longest_wait_s"] == 0 and not row["breached"]
    # in the hall now: the wait is real, and the managers hear of it
    kiosk = alert_server.client(centre_dir.bundle("kiosk-1")["token"])
    assert kiosk.post("/api/v1/check-in", json={"code": code}).status_code == 200
    told = wait_until(lambda: [t for p, t in sms_lines(centre_dir.path) if p in managers], 15,
                      "the breach SMS once the citizen is in the hall")
    assert "Birth certificate application over its target wait" in told[0]
