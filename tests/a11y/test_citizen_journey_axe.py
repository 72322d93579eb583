"""axe-core on the citizen's pages that only exist after a step: the joined ticket, a booking pending and
booked, the feedback form (before the service, the form, the thanks) and a ticket that does not exist,
in English and Kiswahili, on a phone-sized Chromium against a real centre with its SMS channel.

The forms are filled in the browser as a citizen would; each state is audited where the citizen sees it.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.a11y.axe import audit
from tests.channels.conftest import channel_server, clerk, confirmation_code, new_phone  # noqa: F401 (fixtures)
from tests.web.conftest import context_factory  # noqa: F401  (fixture, by name)

PHONE = {"viewport": {"width": 390, "height": 844}, "bypass_csp": True, "has_touch": True}
SERVICES = {"en": "nssf-statement", "sw": "smart-dl"}
COUNTERS = {"en": "c11", "sw": "c12"}


def test_joined_booked_and_feedback_pages_have_no_serious_violations(channel_server, context_factory,  # noqa: F811
                                                                      new_phone):  # noqa: F811
    server = channel_server
    found: list[str] = []
    for lang in ("en", "sw"):
        page = context_factory(**PHONE).new_page()
        # join: the service's needs shown, a wrong number refused, then the remote ticket
        page.goto(f"{server.url}/join?lang={lang}")
        page.select_option("#service_id", SERVICES[lang])
        page.click("#next-button")
        page.fill("#phone", "12345")
        page.click("#join-button")
        expect(page.locator("#error")).to_be_visible()
        found += audit(page, f"join-error-{lang}")
        phone = new_phone()
        page.fill("#phone", "0" + phone[4:])
        page.click("#join-button")
        page.wait_for_url(re.compile(r"/join/[\w-]+"))
        found += audit(page, f"joined-{lang}")
        code = page.locator("#check-in-code").inner_text()
        page.click("#follow-link")
        page.wait_for_url(re.compile(r"/t/[\w-]+"))
        tid = page.url.split("/t/")[1].split("?")[0]
        page.goto(f"{server.url}/t/{tid}/feedback?lang={lang}")
        expect(page.locator("#not-yet")).to_be_visible()
        found += audit(page, f"feedback-not-yet-{lang}")
        # served: the form, then the thanks
        assert server.kiosk().post("/api/v1/check-in", json={"code": code}).status_code == 200
        c = clerk(server)
        counter = COUNTERS[lang]
        c.post(f"/api/v1/counters/{counter}/open", json={"services": [SERVICES[lang]]})
        assert c.post(f"/api/v1/counters/{counter}/call-next").json()["id"] == tid
        c.post(f"/api/v1/counters/{counter}/complete")
        c.post(f"/api/v1/counters/{counter}/close")
        page.goto(f"{server.url}/t/{tid}/feedback?lang={lang}")
        expect(page.locator("legend")).to_be_visible()
        found += audit(page, f"feedback-form-{lang}")
        page.click("label.rating.r4")
        page.click("#send-button")
        expect(page.locator("#thanks")).to_be_visible()
        found += audit(page, f"feedback-thanks-{lang}")
        page.goto(f"{server.url}/t/AAAAAAAAAAAAAAAAAAAAAA?lang={lang}")
        found += audit(page, f"ticket-missing-{lang}")

        # book: a slot, pending until the SMS code comes back, a wrong code, then booked
        phone = new_phone()
        page.goto(f"{server.url}/book?lang={lang}")
        page.select_option("#service", "vehicle-transfer")
        page.click("#next-button")
        # the next bookable day, a whole day of slots: between 15:00 and 15:30 today has one left, none after
        page.locator(".day-chip").nth(1).click()
        page.wait_for_url(re.compile(r"[?&]day="))
        page.locator("label.slot:not(.full)").nth(1).click()
        page.fill("#phone", phone)
        found += audit(page, f"book-slots-{lang}")
        page.click("#book-button")
        page.wait_for_url(re.compile(r"/book/[\w-]+"))
        expect(page.locator("#confirm-form")).to_be_visible()
        found += audit(page, f"book-pending-{lang}")
        confirm = confirmation_code(server, phone)
        page.fill("#confirm-code", "000000" if confirm != "000000" else "111111")
        page.click("#confirm-button")
        expect(page.locator("#error")).to_be_visible()
        found += audit(page, f"book-pending-wrong-{lang}")
        page.fill("#confirm-code", confirm)
        page.click("#confirm-button")
        expect(page.locator("#booking-code")).to_be_visible()
        found += audit(page, f"booked-{lang}")
        page.click("#cancel-button")
        expect(page.locator("#appointment .label")).to_be_visible()
        found += audit(page, f"booking-cancelled-{lang}")
    assert not found, "\n".join(found)
