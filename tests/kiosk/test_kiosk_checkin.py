"""Check-in at the real kiosk of tickets taken from the web, against the real centre server.

Citizens take their tickets over HTTP as from a phone (``POST /join``), then
check in at the kiosk (the real app under Xvfb, real touches) by code and by
phone number; the test checks ``centre.db``, the ticket API, the printed
bytes, and the server's own error message on the screen.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.kiosk.conftest import ARTIFACTS, kiosk_config
from tests.kiosk.escpos_decode import decode, render

pytestmark = pytest.mark.timeout(180)


def db_rows(centre_server, sql: str, *args) -> list[dict]:
    con = sqlite3.connect(centre_server.centre.path / "centre.db")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def join_from_the_web(centre_server, service_id: str, phone: str) -> dict:
    """What a citizen's phone browser does on /join: post the form, follow to the ticket's page."""
    with centre_server.client() as http:
        r = http.post("/join", data={"service_id": service_id, "phone": phone, "lang": "en"})
        assert r.status_code == 303, r.text[:500]
        ticket_id = re.fullmatch(r"/join/([^?]+)\?lang=en", r.headers["location"]).group(1)
        page = http.get(r.headers["location"])
        assert page.status_code == 200
    ticket = db_rows(centre_server, "select * from tickets where id=?", ticket_id)[0]
    code = db_rows(centre_server, "select code from remote_codes where ticket_id=?", ticket_id)[0]["code"]
    assert ticket["channel"] == "web" and not ticket["checked_in"]
    assert code in page.text  # the citizen reads the code on the page
    return {"id": ticket_id, "number": ticket["number"], "code": code}


def test_remote_tickets_check_in_by_code_and_phone(centre_server, mosquitto, tmp_path, run_kiosk):
    by_code = join_from_the_web(centre_server, "id-card-new", "0712345678")
    by_phone = join_from_the_web(centre_server, "kra-pin", "0722000111")
    codes = {r["code"] for r in db_rows(centre_server, "select code from remote_codes")}
    wrong = next(c for c in (f"{n:04d}" for n in range(1000, 10000, 37)) if c not in codes)

    tickets_file = tmp_path / "tickets.bin"
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tickets_file)},
                          ticket_screen_s=3)
    run = run_kiosk(config, "checkin", env={"KIOSK_CODE": by_code["code"], "KIOSK_WRONG_CODE": wrong,
                                            "KIOSK_PHONE": "0722000111"})
    data = run.result()["data"]

    # both tickets are checked in, on the server's own record and through its API
    for t in (by_code, by_phone):
        row = db_rows(centre_server, "select * from tickets where id=?", t["id"])[0]
        assert row["checked_in"] == 1 and row["state"] == "waiting"
    with centre_server.client() as http:
        for t in (by_code, by_phone):
            live = http.get(f"/api/v1/tickets/{t['id']}").json()
            assert live["number"] == t["number"] and live["state"] == "waiting"
        # what the server says about the wrong code is what the kiosk showed, in each language
        token = centre_server.centre.bundle("kiosk-1")["token"]
        refused = http.post("/api/v1/check-in", json={"code": wrong},
                            headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert data["welcome_language"] == "en"
    assert data["error_en"] == error["message"] and data["error_sw"] == error["message_sw"]
    assert data["error_en"] != data["error_sw"]
    assert data["screen_after_error"] == "checkin"  # they may try again
    assert data["short_code_sent"] is False and data["short_code_error"] == "Msimbo una tarakimu 4 hadi 8"

    # by code, in Kiswahili: one request for two taps, the number large, the server's message
    # taps: the wrong code, the short one (never sent), the right one twice; requests: the wrong and the right
    assert data["checkin_taps"] == 4 and data["checkin_calls"] == 2
    assert data["code_ticket"]["id"] == by_code["id"] and data["code_number_shown"] == by_code["number"]
    assert data["code_message"].startswith("Kufika kwako kumethibitishwa") and by_code["number"] in data["code_message"]
    assert data["code_printed"] is True
    # by phone, in English
    assert data["phone_ticket"]["id"] == by_phone["id"] and data["phone_number_shown"] == by_phone["number"]
    assert data["phone_message"].startswith("Checked in") and by_phone["number"] in data["phone_message"]
    assert data["phone_printed"] is True and data["checkin_calls_total"] == 3
    assert data["language_after"] == "en"  # the result screen timed out to welcome

    # the paper: both tickets, the number large, with the usual layout (the QR code to the ticket's page)
    raw = tickets_file.read_bytes()
    (ARTIFACTS / "kiosk-checkin-tickets.bin").write_bytes(raw)
    printed = decode(raw)
    assert printed.cuts == 2
    assert [line.text for line in printed.lines if line.height == 8] == [by_code["number"], by_phone["number"]]
    assert printed.qr == [data["code_ticket"]["status_url"], data["phone_ticket"]["status_url"]]
    assert "NAMBARI YAKO" in printed.texts and "YOUR NUMBER" in printed.texts
    render(decode(raw.split(b"\x1dV\x00")[0] + b"\x1dV\x00")).save(ARTIFACTS / "kiosk-checkin-printed.png")
