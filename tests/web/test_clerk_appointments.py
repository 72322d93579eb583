"""Today's appointments on the clerk terminal: booked the day before through the channels, shown for the
counter's services with their code and check-in state, in Chromium against a real server process."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from centre_server.channels.core import ChannelHub
from centre_server.channels.settings import ChannelSettings
from centre_server.config import load_settings
from centre_server.runtime.centre import Centre
from tests.conftest import CentreProcess, free_port
from tests.web.conftest import login_page

NAIROBI = ZoneInfo("Africa/Nairobi")


def book_for_today(path, service_id: str, phone: str) -> dict:
    """Book and confirm a slot today, as a citizen did yesterday (the hub's clock is set to yesterday noon)."""
    today = datetime.now(NAIROBI).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), datetime.min.time(), NAIROBI) + timedelta(hours=12)
    centre = Centre(load_settings(path), clock=lambda: yesterday_noon.timestamp())
    # bookings every day the centre opens (the default is Monday to Friday): today is bookable on a weekend too
    hub = ChannelHub(centre, ChannelSettings(sms_gateway="log", weekdays="mon,tue,wed,thu,fri,sat,sun"), path)
    hub.clock = lambda: yesterday_noon.timestamp()  # type: ignore[attr-defined]
    try:
        days = dict(hub.slots(service_id))
        slot_at = days[today][0][0]  # the first slot of today
        pending = hub.book(service_id, slot_at, phone, "sw")
        return hub.confirm_booking(pending["id"], hub.pending_of(pending["id"])["code"])
    finally:
        hub.stop()
        centre.close()


def test_the_clerk_sees_todays_appointments_of_the_counters_services(centre_dir, mosquitto, context_factory,
                                                                    shots, tmp_path):
    mine = book_for_today(centre_dir.path, "id-card-new", "0711000123")
    other = book_for_today(centre_dir.path, "passport", "0711000456")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        page = context_factory().new_page()
        login_page(page, server, "clerk", centre_dir.staff_password("clerk"))
        page.wait_for_url("**/clerk")
        page.select_option("#counter-select", "c01")  # id cards, not passports
        page.click("#open-counter")
        expect(page.locator("#appointments-card")).to_be_visible()
        row = page.locator(f"#appointment-rows tr[data-code='{mine['code']}']")
        expect(row).to_be_visible()
        # its state by the hour the test runs at: the check-in window closes 15 minutes after the slot, and the
        # server then releases a booking nobody checked in for (tests/web/test_clerk_appointment_states.py has all)
        now = time.time()
        state = ("No-show: did not come" if mine["slot_at"] + 15 * 60 < now
                 else "Late: not checked in" if mine["slot_at"] < now else "Not yet here")
        expect(row).to_contain_text(state)
        expect(row).to_contain_text(datetime.fromtimestamp(mine["slot_at"], NAIROBI).strftime("%H:%M"))
        expect(page.locator(f"#appointment-rows tr[data-code='{other['code']}']")).to_have_count(0)
        expect(page.locator("#appointments-card")).not_to_contain_text("0711000123")  # no phone, no name
        page.locator("#appointments-card").scroll_into_view_if_needed()
        shots(page, "web-clerk-appointments")
    finally:
        server.stop()
