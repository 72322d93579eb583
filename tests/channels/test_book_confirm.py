"""Bookings that strangers cannot fill (issue 16): a web booking holds its time only once confirmed by SMS.

The attack as found: four POSTs to ``/book`` with invented phone numbers filled a slot (and sent each
number an SMS). Here it is repeated against the real server (slot_capacity 4, as a centre's default),
then the way a citizen confirms (the code typed on the page, or an SMS reply), the limits per phone and
per client address, and, on a real Centre with a clock the test moves, the lapse of pending bookings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from centre_server.channels.core import ChannelError, ChannelHub
from centre_server.channels.settings import ChannelSettings
from centre_server.config import load_settings
from centre_server.runtime.centre import Centre
from tests.channels.conftest import ChannelCentre, confirmation_code, free_slots, serve_channels
from tests.channels.test_pages import phone_page  # noqa: F401  (the phone-sized browser page fixture)

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[ChannelCentre]:
    """A centre with the default 4 places per slot and a small per-address budget for /book."""
    with serve_channels(tmp_path_factory.mktemp("book-confirm"),
                        channels={"slot_capacity": "4", "book_per_address_per_hour": "12"}) as server:
        yield server


def first_slot(server: ChannelCentre, service: str) -> str:
    """The first free time of a whole day of them (never today's last, which closes when its check-in opens)."""
    return free_slots(server, service)[0]


def left_at(server: ChannelCentre, service: str, slot: str) -> str:
    """What /book says of that time: "4 left" or "full"."""
    day = datetime.fromtimestamp(int(slot), NAIROBI).date().isoformat()
    page = httpx.get(f"{server.url}/book", params={"service": service, "day": day, "lang": "en"}).text
    return re.search(rf'value="{slot}"[^>]*>\s*<span class="time">[^<]*</span><span class="left">([^<]*)<',
                     page).group(1)


def post_book(server: ChannelCentre, service: str, slot: str, phone: str, lang: str = "en") -> httpx.Response:
    return httpx.post(f"{server.url}/book", data={"service_id": service, "slot": slot, "phone": phone, "lang": lang})


def test_four_invented_phones_do_not_fill_a_slot(guarded):
    """The intruder's four POSTs: each gets a pending booking that holds nothing and never checks in."""
    server = guarded
    slot = first_slot(server, "passport")
    assert left_at(server, "passport", slot) == "4 left"
    invented = ["0700111001", "0700111002", "0700111003", "0700111004"]
    pages = []
    for phone in invented:
        r = post_book(server, "passport", slot, phone)
        assert r.status_code == 303, r.text
        pages.append(r.headers["location"])
    assert left_at(server, "passport", slot) == "4 left"  # on the old code: "full"
    for href, phone in zip(pages, invented):
        page = httpx.get(server.url + href).text
        assert "Confirm your booking" in page and 'id="booking-code"' not in page
        assert "*******" + phone[-3:] in page  # the number, masked, that the code went to
        norm = "+254" + phone[1:]
        assert re.fullmatch(r"\d{6}", confirmation_code(server, norm))  # the SMS simulator got the code
        r = server.kiosk().post("/api/v1/check-in", json={"phone": phone})
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_code"  # never checks in
    # a citizen who confirms takes a place; the four pending ones still hold none
    phone = "+254700111005"
    r = post_book(server, "passport", slot, phone)
    href = r.headers["location"]
    appt_id = href.split("/book/")[1].split("?")[0]
    code = confirmation_code(server, phone)
    wrong = "000000" if code != "000000" else "111111"
    r = httpx.post(f"{server.url}/book/{appt_id}/confirm", data={"code": wrong, "lang": "sw"})
    assert r.status_code == 422 and "Hiyo si nambari tuliyotuma" in r.text and "majaribio 4" in r.text
    assert left_at(server, "passport", slot) == "4 left"
    r = httpx.post(f"{server.url}/book/{appt_id}/confirm", data={"code": code, "lang": "en"})
    assert r.status_code == 303
    page = httpx.get(f"{server.url}/book/{appt_id}?lang=en").text
    booking = re.search(r'id="booking-code">(\d{8})<', page).group(1)
    assert "Appointment booked" in page
    assert left_at(server, "passport", slot) == "3 left"
    sms = server.aggregator.wait_for(phone, f"Code {booking}")
    assert f"/book/{appt_id}" in sms
    # the same code again: confirmed already, nothing more is held
    assert httpx.post(f"{server.url}/book/{appt_id}/confirm", data={"code": code}).status_code == 303
    assert left_at(server, "passport", slot) == "3 left"


def test_confirm_by_replying_to_the_sms(guarded):
    server = guarded
    slot = first_slot(server, "id-card-new")
    phone = "+254700222001"
    r = post_book(server, "id-card-new", slot, phone, lang="sw")
    appt_id = r.headers["location"].split("/book/")[1].split("?")[0]
    code = confirmation_code(server, phone)
    assert "Iandike ukurasani au jibu" in server.aggregator.wait_for(phone, code)
    hook = f"{server.url}/sms/inbound"
    wrong = "999999" if code != "999999" else "888888"
    assert httpx.post(hook, data={"from": phone, "text": wrong}).text == "unknown_confirm_code"
    server.aggregator.wait_for(phone, "hakuna miadi inayosubiri")  # told, in the booking's language
    assert httpx.post(hook, data={"from": "+254700222002", "text": code}).text == "unknown_confirm_code"
    assert httpx.post(hook, data={"from": phone, "text": f"4 {code}"}).text == "nothing_to_rate"  # a rating
    assert httpx.post(hook, data={"from": phone, "text": f"BOOK {code}"}).text == "booking_confirmed"
    page = httpx.get(f"{server.url}/book/{appt_id}?lang=sw").text
    assert "Miadi imewekwa" in page and re.search(r'id="booking-code">\d{8}<', page)
    assert left_at(server, "id-card-new", slot) == "3 left"


def test_a_booked_number_is_not_shown_to_whoever_types_it(guarded):
    """Posting a booked citizen's number, service and time again used to hand over their booking's page."""
    server = guarded
    slot = first_slot(server, "birth-cert")
    phone = "+254700333001"
    r = post_book(server, "birth-cert", slot, phone)
    appt_id = r.headers["location"].split("/book/")[1].split("?")[0]
    # posted twice while pending: the same pending booking, and one SMS
    assert post_book(server, "birth-cert", slot, phone).headers["location"] == r.headers["location"]
    code = confirmation_code(server, phone)
    assert httpx.post(f"{server.url}/book/{appt_id}/confirm", data={"code": code}).status_code == 303
    again = post_book(server, "birth-cert", slot, "0700333001", lang="sw")
    assert again.status_code == 409 and appt_id not in again.text
    assert "tayari ina miadi ya muda huu" in again.text
    assert len([m for m in server.aggregator.messages_to(phone) if "confirms your booking" in m]) == 1


def test_too_many_from_one_address_get_429_in_both_languages(guarded, phone_page, shot):
    """Every POST /book counts against the client's address (12 an hour here): then a clear 429."""
    server = guarded
    slot = first_slot(server, "good-conduct")
    answers = []
    for i in range(12):
        lang = "sw" if i % 2 else "en"
        r = post_book(server, "good-conduct", slot, f"07004440{i:02d}", lang=lang)
        answers.append((r.status_code, lang, r))
        if r.status_code == 429:
            break
    codes = [a[0] for a in answers]
    assert codes[-1] == 429 and set(codes[:-1]) <= {303}, codes  # the earlier tests spent part of the budget
    r = answers[-1][2]
    assert int(r.headers["retry-after"]) > 0
    text = {"en": "Too many bookings from this connection", "sw": "Miadi mingi mno kutoka muunganisho huu"}
    assert text[answers[-1][1]] in r.text
    other = "sw" if answers[-1][1] == "en" else "en"
    r = post_book(server, "good-conduct", slot, "0700444099", lang=other)
    assert r.status_code == 429 and text[other] in r.text
    assert 'id="book-form"' in r.text  # the form stays, with the chosen time and number
    assert "0700444099" in r.text
    # as a phone browser sees it
    page = phone_page
    page.goto(f"{server.url}/book?service=good-conduct&lang=sw")
    page.locator("label.slot:not(.full)").first.click()
    page.fill("#phone", "0700444098")
    page.click("#book-button")
    assert "Miadi mingi mno kutoka muunganisho huu" in page.locator("#error").inner_text()
    assert page.locator("#phone").input_value() == "0700444098"
    shot(page, "book-address-limit-sw", full_page=False)


def test_a_phone_holds_two_bookings_and_starts_four_an_hour(channel_server, new_phone):
    """Per phone: at most 2 open (pending or booked) bookings; at most 4 started in an hour (each an SMS)."""
    server = channel_server
    phone = new_phone()
    service = "agpo"
    slots = free_slots(server, service)  # a whole day's: late in the afternoon today has fewer than five
    assert len(slots) >= 5
    for s in slots[:2]:
        assert post_book(server, service, s, phone).status_code == 303
    r = post_book(server, service, slots[2], phone, lang="sw")
    assert r.status_code == 429 and "tayari ina miadi 2" in r.text
    r = post_book(server, service, slots[2], phone, lang="en")
    assert r.status_code == 429 and "already has 2 bookings" in r.text
    # cancelled ones free the phone, but the hour's attempts still count
    ids = [a["id"] for a in _appointments_of(server, phone)]
    for appt_id in ids:
        assert httpx.post(f"{server.url}/book/{appt_id}/cancel").status_code == 303
    assert post_book(server, service, slots[2], phone).status_code == 303
    assert post_book(server, service, slots[3], phone).status_code == 303  # the 4th this hour
    for appt in _appointments_of(server, phone):
        if appt["state"] == "pending":
            httpx.post(f"{server.url}/book/{appt['id']}/cancel")
    r = post_book(server, service, slots[4], phone, lang="en")
    assert r.status_code == 429 and "Too many bookings for this number this hour" in r.text
    r = post_book(server, service, slots[4], phone, lang="sw")
    assert r.status_code == 429 and "Miadi mingi mno kwa nambari hii saa hii" in r.text
    # one confirmation SMS per booking started, none for the refused ones
    for _appt in _appointments_of(server, phone):
        server.aggregator.wait_for(phone, "confirms your booking")
    assert len(_appointments_of(server, phone)) == 4
    assert len([m for m in server.aggregator.messages_to(phone) if "confirms your booking" in m]) <= 4


def _appointments_of(server: ChannelCentre, phone: str) -> list[dict]:
    import sqlite3

    db = sqlite3.connect(server.centre.path / "centre.db")
    try:
        rows = db.execute("SELECT id, state FROM appointments WHERE phone=?", [phone]).fetchall()
    finally:
        db.close()
    return [{"id": r[0], "state": r[1]} for r in rows]


# ---------------------------------------------------------------- on a real Centre, the clock moved by the test


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def slot(hh: int, mm: int) -> float:
    return datetime(2030, 1, 7, hh, mm, tzinfo=NAIROBI).timestamp()


@pytest.fixture
def hub(centre_dir):
    clock = Clock(datetime(2030, 1, 7, 7, 0, tzinfo=NAIROBI).timestamp())
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    h = ChannelHub(centre, ChannelSettings(slot_capacity=2, sms_gateway="log", book_per_phone_per_hour=20),
                   centre_dir.path)
    h.clock = clock  # type: ignore[attr-defined]
    yield h
    h.stop()
    centre.close()


def _code(hub: ChannelHub, appt: dict) -> str:
    pending = hub.pending_of(appt["id"])
    assert pending is not None
    return pending["code"]


def test_pending_bookings_lapse_and_never_held_the_slot(hub):
    a = hub.book("passport", slot(9, 0), "0711000001", "en")
    b = hub.book("passport", slot(9, 0), "0711000002", "en")
    c = hub.book("passport", slot(9, 0), "0711000003", "en")
    assert {x["state"] for x in (a, b, c)} == {"pending"}
    assert dict(hub.slots("passport")[0][1])[slot(9, 0)] == 2  # three pending: both places still free
    with pytest.raises(ChannelError) as err:
        hub.check_in(phone="0711000001")
    assert err.value.code == "unknown_code"
    hub.confirm_booking(a["id"], _code(hub, a))
    assert dict(hub.slots("passport")[0][1])[slot(9, 0)] == 1
    # ten minutes on: b and c lapse (before the job runs, they count for nothing either)
    hub.clock.t += 10 * 60 + 1
    for _ in range(2):  # the phone may book again straight away: its pending ones no longer count
        hub.book("land-search", slot(10, 0), "0711000002", "en")
    with pytest.raises(ChannelError) as err:
        hub.confirm_booking(b["id"], _code(hub, b))
    assert err.value.status == 410 and "not confirmed in time" in err.value.message("en")
    hub.release_missed()
    assert hub.appointment(c["id"])["state"] == "expired" and hub.pending_of(c["id"]) is None
    assert hub.appointment(a["id"])["state"] == "booked"


def test_wrong_codes_drop_the_booking_and_a_full_slot_refuses_the_confirmation(hub):
    a = hub.book("passport", slot(9, 0), "0711000001", "sw")
    for left in (4, 3, 2, 1):
        with pytest.raises(ChannelError) as err:
            hub.confirm_booking(a["id"], "12345")
        assert err.value.code == "bad_confirm_code" and f"majaribio {left}" in err.value.message("sw")
    with pytest.raises(ChannelError) as err:
        hub.confirm_booking(a["id"], _code(hub, a) + "0")
    assert err.value.code == "confirm_tries" and hub.appointment(a["id"])["state"] == "expired"
    # three pending for two places: the third to confirm is told the time filled up
    pend = [hub.book("passport", slot(9, 30), f"071100002{i}", "en") for i in range(3)]
    codes = [_code(hub, p) for p in pend]
    hub.confirm_booking(pend[0]["id"], codes[0])
    hub.confirm_booking(pend[1]["id"], codes[1])
    with pytest.raises(ChannelError) as err:
        hub.confirm_booking(pend[2]["id"], codes[2])
    assert err.value.code == "slot_full" and "filled up before you confirmed" in err.value.message("en")
    assert hub.appointment(pend[2]["id"])["state"] == "cancelled"


def test_ussd_bookings_come_from_the_phone_and_are_held_at_once(hub):
    appt = hub.book("passport", slot(11, 0), "0711000009", "en", confirmed=True)
    assert appt["state"] == "booked" and hub.pending_of(appt["id"]) is None
    assert dict(hub.slots("passport")[0][1])[slot(11, 0)] == 1
    # a pending web booking of the same phone and time becomes held when the phone itself books it
    web = hub.book("passport", slot(11, 30), "0711000008", "en")
    again = hub.book("passport", slot(11, 30), "0711000008", "en", confirmed=True)
    assert again["id"] == web["id"] and again["state"] == "booked"
