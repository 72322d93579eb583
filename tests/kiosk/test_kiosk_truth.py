"""The kiosk tells the truth (issue 15): no invented waits, a closed day is closed, too late is said
plainly with a booking instead. The real app under Xvfb, a real centre server process and Mosquitto."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime

import httpx
import pytest

from centre_server.contract import DayStatePayload, Topics, opens_again
from kiosk.i18n import day_text, tr
from tests.conftest import free_port
from tests.kiosk.conftest import ARTIFACTS, Retained, kiosk_config
from tests.kiosk.escpos_decode import decode, render

pytestmark = pytest.mark.timeout(240)

MINUTES = re.compile(r"\d+\s*(min|h)\b|dakika \d|saa \d+ dakika|short wait|muda mfupi")


def tickets_in_db(centre_server) -> list[dict]:
    con = sqlite3.connect(centre_server.centre.path / "centre.db")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("select * from tickets order by issued_at")]
    finally:
        con.close()


def test_no_counter_is_said_in_words_on_every_screen_and_on_paper(centre_server, mosquitto, tmp_path, run_kiosk):
    """No counter open: the server has no estimate (null, no_counter). Before the fix the kiosk printed
    "You are next · Estimated wait: 6 min"; now every screen and the paper say why, never a number."""
    tickets_file = tmp_path / "tickets.bin"
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tickets_file)})
    data = run_kiosk(config, "no_counter").result()["data"]
    assert data["wait_unknown"] == "no_counter"

    short_en, short_sw = tr("wait_no_counter_short", "en"), tr("wait_no_counter_short", "sw")
    full_en, full_sw = tr("wait_no_counter", "en"), tr("wait_no_counter", "sw")
    assert short_en in data["services_en"] and short_sw in data["services_sw"]
    assert full_en in data["confirm_en"] and full_sw in data["confirm_sw"]
    assert full_en in data["ticket_en"] and full_sw in data["ticket_sw"]
    assert tr("people_ahead_zero", "en") in data["ticket_en"]  # not "You are next": nobody calls yet
    # the confirmation says the people ahead the ticket then says (not "N waiting", then "M ahead of you"); the
    # Kiswahili journey comes second, behind the English one's ticket
    assert tr("people_ahead_zero", "en") in data["confirm_en"]
    assert tr("people_ahead_n", "sw", n=1) in data["confirm_sw"], data["confirm_sw"]
    for key in ("services_en", "services_sw", "confirm_en", "confirm_sw", "ticket_en", "ticket_sw"):
        assert not MINUTES.search(data[key]), f"{key} shows a wait: {data[key]!r}"
        assert "Estimated wait" not in data[key] and "Muda wa kusubiri" not in data[key]

    ticket = data["ticket"]
    assert ticket["estimated_wait_s"] is None and ticket["wait_unknown"] == "no_counter"
    assert data["printed"] is True
    rows = tickets_in_db(centre_server)
    assert len(rows) == 1 and rows[0]["id"] == ticket["id"]

    raw = tickets_file.read_bytes()
    printed = decode(raw)
    render(printed).save(ARTIFACTS / "kiosk-printed-no-counter.png")
    text = " ".join(printed.texts)
    assert "No counter is serving this service right now." in text and "Staff will call you" in text
    assert "Estimated wait" not in text and not MINUTES.search(text)
    assert "No one is ahead of you" in printed.texts and "You are next" not in printed.texts
    assert printed.qr == [ticket["status_url"]] and printed.cuts == 1


def _close_day(centre_server) -> dict:
    token = centre_server.login("manager")
    with centre_server.client(token) as http:
        r = http.post("/api/v1/day/close")
        assert r.status_code == 200, r.text
        return http.get("/api/v1/day").json()


def _opens_texts(opens_at: str) -> tuple[str, str]:
    at = datetime.fromisoformat(opens_at)
    return opens_again(at, "en"), opens_again(at, "sw")


def test_closed_day_shows_when_it_opens_and_issues_nothing(centre_server, mosquitto, tmp_path, run_kiosk):
    """A manager closes the day: the retained state/day turns the kiosk to a bilingual closed screen
    with the next opening (weekday, date, time); touching it starts no ticket."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    topics = Topics(centre_server.centre.bundle("kiosk-1")["centre_id"])
    watch = Retained(mosquitto.url, topics.day_state)
    try:
        run = run_kiosk(config, "day_closed")
        run.wait_mark("ready", timeout=90)
        day = _close_day(centre_server)
        assert day["open"] is False
        watch.wait_for(topics.day_state, lambda p: not DayStatePayload.model_validate_json(p).open)
        run.go("closed")
        data = run.result()["data"]
    finally:
        watch.close()
    en, sw = _opens_texts(day["opens_at"])
    assert data["title_en"] == "The centre is closed for today" and data["title_sw"] == "Kituo kimefungwa kwa leo"
    assert data["opens_en"] == en and data["opens_sw"] == sw
    assert re.search(r"on (Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d+ \w+ at \d\d:\d\d\.$", en)
    assert "saa " in sw and day["opens_at"][11:16] in sw
    assert data["after_start"] == "closed" and data["issue_calls"] == 0
    assert data["after_idle"] == ["closed", False, False, "en"]  # the last citizen's modes do not stay all night
    assert tickets_in_db(centre_server) == []


def test_server_refusal_day_closed_shows_when_to_come_back(centre_server, mosquitto, tmp_path, run_kiosk):
    """Without a broker the kiosk cannot hear state/day: the server's 409 day_closed (with opens_at)
    brings the same closed screen, and no ticket exists."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    bundle = json.loads(config.read_text())
    bundle["mqtt_url"] = f"mqtt://127.0.0.1:{free_port()}"  # nobody listens there
    config.write_text(json.dumps(bundle))
    run = run_kiosk(config, "refused_day_closed")
    run.wait_mark("confirm", timeout=90)
    day = _close_day(centre_server)
    run.go("closed")
    data = run.result()["data"]
    assert data["mqtt_ok"] is False and data["issue_calls"] == 1
    en, sw = _opens_texts(day["opens_at"])
    assert data["opens_en"] == en and data["opens_sw"] == sw
    assert tickets_in_db(centre_server) == []


def test_after_last_call_offers_a_booking_instead(centre_server, mosquitto, tmp_path, run_kiosk):
    """Last call passed: a counter back from a break makes the estimate real, and a newcomer would not be
    called before the last call. The server refuses (409 after_last_call); the kiosk says so plainly and
    shows a QR code to /book for the next open day; the service's button says it too. (While the counter is
    on its break the service takes tickets: its clerk is expected back. With no counter at all it would
    refuse at once: past the last call nobody is coming.)"""
    centre_server.stop()
    toml = centre_server.centre.path / "centre.toml"
    text = toml.read_text()
    assert 'last_call_time = ""' in text
    toml.write_text(text.replace('last_call_time = ""', 'last_call_time = "00:01"'))
    centre_server.start()
    sid = "kra-pin"
    clerk = centre_server.login("clerk")
    with centre_server.client(clerk) as http:
        counter = next(c for c in http.get("/api/v1/counters").json() if sid in c["services"])
        nobody = next(s for s in http.get("/api/v1/services").json() if s["id"] == sid)
        assert nobody["accepting"] is False and nobody["refusal"] == "after_last_call", nobody
        assert http.post(f"/api/v1/counters/{counter['id']}/open").status_code == 200
        assert http.post(f"/api/v1/counters/{counter['id']}/pause").status_code == 200
        before = next(s for s in http.get("/api/v1/services").json() if s["id"] == sid)
    assert before["estimated_wait_s"] is None and before["accepting"] is True

    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          sms_number="22555")
    run = run_kiosk(config, "last_call")
    run.wait_mark("confirm", timeout=90)
    with centre_server.client(clerk) as http:
        assert http.post(f"/api/v1/counters/{counter['id']}/resume").status_code == 200
        after = next(s for s in http.get("/api/v1/services").json() if s["id"] == sid)
    assert after["accepting"] is False and after["refusal"] == "after_last_call"
    run.go("counter_open")
    data = run.result()["data"]

    assert data["accepting_before"] is True and data["refusal"] == "after_last_call"
    assert data["issue_calls"] == 1 and data["issue_calls_after"] == 1  # the button itself asks nothing
    assert tickets_in_db(centre_server) == []
    book_day = data["book_day"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", book_day) and data["book_day_from_button"] == book_day
    assert tr("last_ticket_issued", "en") in data["services_en"]
    assert "KRA PIN" in data["why_en"] and "last ticket" in data["why_en"]
    assert data["when_en"] == tr("book_when", "en", day=day_text(datetime.fromisoformat(book_day).date(), "en"))
    assert data["when_sw"].startswith("Weka miadi ya ") and "Changanua" in data["scan_sw"]
    assert "22555" in data["sms_en"]
    # the QR code's address is the centre's real booking page for that service and day
    url = data["book_url"]
    assert url.startswith(centre_server.url + "/book?") and f"service={sid}" in url and f"day={book_day}" in url
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and book_day in page.text
