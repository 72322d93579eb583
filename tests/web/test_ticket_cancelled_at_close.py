"""A citizen's page after the day's close cancelled their ticket: it says the centre closed before their number
was called, and when it opens again; not a bare "This ticket was cancelled" as if someone had chosen to.
A real server of its own (the close must not touch the shared one) and Debian's Chromium, both languages."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import issue, serve_demo


def test_the_close_cancelled_it_and_the_page_says_so(tmp_path, context_factory, shots):
    with serve_demo(tmp_path) as server:
        kiosk = server.centre.bundle("kiosk-1")["token"]
        ticket = issue(server, kiosk, "kra-pin")
        manager = server.client(server.login("manager"))
        assert manager.post("/api/v1/day/close").status_code == 200
        out = httpx.get(f"{server.url}/api/v1/tickets/{ticket['id']}").json()
        assert out["state"] == "cancelled" and out["cancelled_at_close"] is True
        day = httpx.get(server.url + "/api/v1/day").json()
        assert day["open"] is False and day["opens_again_en"] and day["opens_again_sw"]

        phone = context_factory(viewport={"width": 390, "height": 844}).new_page()
        for lang, words in (("en", "The centre closed for the day before your number was called, so this ticket "
                                   "is no longer valid."),
                            ("sw", "Kituo kilifungwa kwa siku kabla namba yako haijaitwa, kwa hiyo tiketi hii "
                                   "haitumiki tena.")):
            phone.goto(f"{server.url}/t/{ticket['id']}?lang={lang}")
            status = phone.locator("#ticket-status")
            expect(status).to_have_text(f"{words} {day['opens_again_' + lang]}")
            box = status.bounding_box()
            assert box and box["x"] + box["width"] <= 390
            shots(phone, f"web-citizen-cancelled-at-close-{lang}")

        # a manager reopens the day: the ticket stays cancelled, but "opens again" would now be untrue
        assert manager.post("/api/v1/day/reopen").status_code == 200
        phone.goto(f"{server.url}/t/{ticket['id']}?lang=en")
        expect(phone.locator("#ticket-status")).to_have_text(
            "The centre closed for the day before your number was called, so this ticket is no longer valid.")
