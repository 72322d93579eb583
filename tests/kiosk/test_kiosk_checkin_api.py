"""The kiosk's check-in client against the real centre server, and the check-in entry rules (no window).

The citizens' side is real HTTP too: a ticket joined from the web (``POST /join``)
and a booking made on ``/book``, as a phone browser would.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from kiosk.api import ApiError, CentreApi, Unreachable
from kiosk.model import KioskModel
from tests.conftest import free_port
from tests.kiosk.test_kiosk_checkin import db_rows, join_from_the_web

pytestmark = pytest.mark.timeout(90)


def book_a_later_day(centre_server, service_id: str, phone: str) -> dict:
    """Book the last slot of the last bookable day: always too early to check in today."""
    with centre_server.client() as http:
        page = http.get("/book", params={"service": service_id, "lang": "en"}).text
        days = re.findall(r'href="(/book\?service=[^"]+)"', page)
        assert days, "no bookable day offered"
        page = http.get(days[-1].replace("&amp;", "&")).text
        slots = [int(s) for s in re.findall(r'name="slot" value="(\d+)"(?! disabled)', page)]
        assert slots, "no free slot on the last day"
        r = http.post("/book", data={"service_id": service_id, "phone": phone, "slot": str(slots[-1]),
                                     "lang": "en"})
        assert r.status_code == 303, r.text[:500]
        appt_id = re.fullmatch(r"/book/([^?]+)\?lang=en", r.headers["location"]).group(1)
        con = sqlite3.connect(centre_server.centre.path / "centre.db")
        try:  # confirmed with the code the phone got by SMS (issue 16): only then is it booked
            [confirm] = con.execute("select code from booking_confirmations where appt_id=?", [appt_id]).fetchone()
        finally:
            con.close()
        assert http.post(f"/book/{appt_id}/confirm", data={"code": confirm}).status_code == 303
    con = sqlite3.connect(centre_server.centre.path / "centre.db")
    try:
        code, slot_at = con.execute("select code, slot_at from appointments where id=?", [appt_id]).fetchone()
    finally:
        con.close()
    return {"id": appt_id, "code": code, "slot_at": slot_at}


def test_check_in_client_against_the_real_server(centre_server):
    api = CentreApi(centre_server.url, centre_server.centre.bundle("kiosk-1")["token"])
    try:
        ticket = join_from_the_web(centre_server, "passport", "0733444555")

        # a code nobody holds: the server's words, in both languages
        codes = {r["code"] for r in db_rows(centre_server, "select code from remote_codes")}
        wrong = next(c for c in (f"{n:04d}" for n in range(1000, 10000, 41)) if c not in codes)
        with pytest.raises(ApiError) as refused:
            api.check_in(code=wrong)
        assert refused.value.status == 404 and refused.value.code == "unknown_code"
        assert refused.value.message and refused.value.message_sw and refused.value.message != refused.value.message_sw

        # a booking for a later day: too early, and the server says from when
        booking = book_a_later_day(centre_server, "id-card-new", "0744555666")
        with pytest.raises(ApiError) as early:
            api.check_in(code=booking["code"])
        assert early.value.status == 409 and early.value.code == "too_early"
        times = re.findall(r"\d\d:\d\d", early.value.message)
        assert len(times) == 2 and times == re.findall(r"\d\d:\d\d", early.value.message_sw)
        rows = db_rows(centre_server, "select state from appointments where id=?", booking["id"])
        assert rows[0]["state"] == "booked"

        # by phone: the web ticket is checked in, and the answer carries it
        done = api.check_in(phone="+254733444555")
        assert [t.id for t in done.tickets] == [ticket["id"]] and done.kinds == ["ticket"]
        assert ticket["number"] in done.message_en and ticket["number"] in done.message_sw
        assert done.message("sw") == done.message_sw and done.message("en") == done.message_en
        assert db_rows(centre_server, "select checked_in from tickets where id=?", ticket["id"])[0]["checked_in"] == 1

        # by code once more: harmless, and said so
        again = api.check_in(code=ticket["code"])
        assert [t.id for t in again.tickets] == [ticket["id"]] and again.message_en != done.message_en
    finally:
        api.close()

    gone = CentreApi(f"http://127.0.0.1:{free_port()}", "token", timeout_s=1.0)
    try:
        with pytest.raises(Unreachable):
            gone.check_in(code="1234")
    finally:
        gone.close()


@pytest.mark.parametrize("mode, keys, body", [
    ("code", "4821", ("4821", None)),
    ("code", "123456", ("123456", None)),  # a booking's code
    ("code", "123456789", ("12345678", None)),  # the keypad stops at 8 digits
    ("phone", "0712345678", (None, "0712345678")),
    ("phone", "+254712345678", (None, "+254712345678")),
])
def test_checkin_entry_becomes_the_request(mode, keys, body):
    m = KioskModel()
    m.set_checkin_mode(mode)
    for key in keys:
        m.checkin_key(key)
    assert m.checkin_body() == body


@pytest.mark.parametrize("mode, keys, error", [
    ("code", "12", "checkin_code_invalid"),
    ("code", "", "checkin_code_invalid"),
    ("code", "+12<34", "checkin_code_invalid"),  # no + in a code; delete removed the 2: three digits left
    ("phone", "0812345678", "phone_invalid"),
    ("phone", "07123", "phone_invalid"),
])
def test_checkin_entry_refused_before_any_request(mode, keys, error):
    m = KioskModel()
    m.set_checkin_mode(mode)
    for key in keys:
        m.checkin_key(key)
    with pytest.raises(ValueError) as refused:
        m.checkin_body()
    assert str(refused.value) == error
    m.refuse_checkin_entry(error)
    assert m.checkin_error("en") and m.checkin_error("sw") and m.checkin_error("en") != m.checkin_error("sw")


def test_keypad_keys_in_code_mode():
    m = KioskModel()
    for key in "+12<34":
        m.checkin_key(key)
    assert m.checkin_entry == "134"


def test_switching_mode_or_citizen_starts_clean():
    m = KioskModel()
    for key in "4821":
        m.checkin_key(key)
    m.refuse_checkin_entry("checkin_failed")
    m.set_checkin_mode("phone")
    assert m.checkin_entry == "" and m.checkin_error("en") == ""
    for key in "0712":
        m.checkin_key(key)
    m.reset_choices()
    assert m.checkin_mode == "code" and m.checkin_entry == "" and m.checkin_tickets == []
