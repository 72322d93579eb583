"""Every state a clerk meets in today's appointments, in Chromium against a real server process, in both
languages: booked and not yet due, late (its slot passed, still within the check-in window), checked in at the
kiosk (the real check-in API with the booking's code) and a no-show (the window passed: the server released it).

Bookings go through the channels' own booking and confirmation (``ChannelHub.book`` and ``confirm_booking``,
what /book runs), made as if yesterday so that today's past slots can be booked; the centre opens at midnight
with 5-minute slots, and its time zone is one where it is now about noon, so that every state exists today at
whatever hour the test runs (in Nairobi's own zone there is none between 23:20 and 00:20)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from centre_server.channels.core import ChannelHub
from centre_server.channels.settings import ChannelSettings, load_channel_settings
from centre_server.config import load_settings
from centre_server.runtime.centre import Centre
from tests.conftest import CentreProcess, free_port
from tests.web.conftest import login_page


def zone_at_noon() -> str:
    """A fixed-offset zone (``Etc/GMT-N`` is UTC+N) where it is between 11:00 and 13:00 now."""
    offset = 12 - datetime.now(ZoneInfo("UTC")).hour  # -11 .. +12: every one exists
    return "Etc/GMT" + ("" if offset == 0 else f"{-offset:+d}")


ZONE = zone_at_noon()
CENTRE_TZ = ZoneInfo(ZONE)
ALL_DAY = {"opening": "00:00", "closing": "23:59", "slot_minutes": 5,
           "weekdays": "mon,tue,wed,thu,fri,sat,sun"}


def open_all_day(path) -> None:
    """The centre opens at midnight every day, with 5-minute appointment slots, in a zone where it is about noon
    (centre.toml, as a manager would)."""
    toml = path / "centre.toml"
    text = re.sub(r'(?m)^opening_time = .*$', 'opening_time = "00:00"', toml.read_text())
    text, n = re.subn(r'(?m)^timezone = .*$', f'timezone = "{ZONE}"', text)
    assert n == 1
    text += "\n[channels]\n" + "".join(f'{k} = {v!r}\n'.replace("'", '"') if isinstance(v, str) else f"{k} = {v}\n"
                                        for k, v in ALL_DAY.items())
    toml.write_text(text)


def book_today(path, wanted: dict[str, float]) -> dict[str, dict]:
    """For each name, a confirmed id-card-new booking today at the slot nearest to ``wanted`` (POSIX seconds),
    booked as if yesterday at noon; each with a phone of its own."""
    today = datetime.now(CENTRE_TZ).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), datetime.min.time(), CENTRE_TZ) + timedelta(hours=12)
    centre = Centre(load_settings(path), clock=lambda: yesterday_noon.timestamp())
    settings = load_channel_settings(path).model_copy(update={"sms_gateway": "log"})
    assert isinstance(settings, ChannelSettings) and settings.slot_minutes == 5
    hub = ChannelHub(centre, settings, path)
    hub.clock = lambda: yesterday_noon.timestamp()  # type: ignore[attr-defined]
    out = {}
    try:
        slots = [ts for ts, _ in dict(hub.slots("id-card-new"))[today]]
        for i, (name, at) in enumerate(wanted.items()):
            slot_at = min(slots, key=lambda ts: abs(ts - at))
            pending = hub.book("id-card-new", slot_at, f"07110005{i:02d}", "en")
            out[name] = hub.confirm_booking(pending["id"], hub.pending_of(pending["id"])["code"])
    finally:
        hub.stop()
        centre.close()
    return out


def test_the_clerk_sees_booked_late_checked_in_and_no_show_appointments_in_both_languages(
        centre_dir, mosquitto, context_factory, shots, tmp_path):
    open_all_day(centre_dir.path)
    now = time.time()
    booked = book_today(centre_dir.path, {
        "no_show": now - 30 * 60,  # its window (15 min after the slot) passed before the server started
        "late": now - 5 * 60,  # slot passed, still within the window: "late"
        "checked_in": now + 5 * 60,  # check-in opens 30 min before the slot
        "not_yet": now + 90 * 60})
    assert booked["no_show"]["slot_at"] + 15 * 60 < now < booked["late"]["slot_at"] + 15 * 60
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        kiosk = centre_dir.bundle("kiosk-1")["token"]
        r = httpx.post(server.url + "/api/v1/check-in", json={"code": booked["checked_in"]["code"]},
                       headers={"Authorization": f"Bearer {kiosk}"}, timeout=10)
        assert r.status_code == 200, r.text
        ticket = r.json()["tickets"][0]
        clerk = server.client(server.login("clerk"))
        states = {a["code"]: a["state"] for a in clerk.get("/api/v1/appointments").json()}
        assert states[booked["no_show"]["code"]] == "released"  # the server let it go on starting
        assert states[booked["checked_in"]["code"]] == "checked_in"

        expected = {"no_show": ("appt_no_show", "No-show: did not come", "Hakufika"),
                    "late": ("appt_late", "Late: not checked in", "Amechelewa: hajafika"),
                    "checked_in": ("appt_checked_in", "Checked in", "Amefika"),
                    "not_yet": ("appt_not_yet", "Not yet here", "Bado hajafika")}
        page = context_factory().new_page()
        login_page(page, server, "clerk", centre_dir.staff_password("clerk"))
        page.wait_for_url("**/clerk")
        page.select_option("#counter-select", "c01")
        page.click("#open-counter")
        for lang in ("en", "sw"):
            page.goto(f"{server.url}/clerk?lang={lang}")
            expect(page.locator("#appointments-card")).to_be_visible()
            for name, (key, en, sw) in expected.items():
                row = page.locator(f"#appointment-rows tr[data-code='{booked[name]['code']}']")
                expect(row).to_have_attribute("data-state", key)
                expect(row).to_contain_text(en if lang == "en" else sw)
                slot = datetime.fromtimestamp(booked[name]["slot_at"], CENTRE_TZ)
                expect(row).to_contain_text(slot.strftime("%H:%M"))
            # open: the late one and the one not yet due (a no-show and a checked-in citizen need nothing)
            expect(page.locator("#appointments-count")).to_have_text("2")
            expect(page.locator("#appointments-card")).not_to_contain_text("07110005")  # no phone number
            page.locator("#appointments-card").scroll_into_view_if_needed()
            shots(page, f"web-clerk-appointment-states-{lang}")
        assert ticket["number"]  # the checked-in citizen holds a ticket in the queue
    finally:
        server.stop()
