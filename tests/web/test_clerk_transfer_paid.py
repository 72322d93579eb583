"""A fee paid stays with the service it was paid for when the clerk transfers the ticket (newuser finding 4).

The transfer dialog warns the clerk, in both languages, that the fee paid was for the first service; after the
transfer the ticket's payment still names that service and its amount (never the new service's terms).
Real parts: a real centre server, a real ``huduma-mpesa-sim`` process, Chromium.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.a11y.axe import audit
from tests.payments.conftest import mpesa_sim, pay_server, shipped_fees  # noqa: F401 - fixtures
from tests.web.conftest import issue, login_page
from tests.web.test_clerk_payment import payment_of, start_push
from tests.web.test_clerk_ticket import open_counter

PAID = "good-conduct"  # KSh 1,050 in the demo catalogue
TO = "birth-cert"


def test_the_transfer_dialog_says_the_fee_paid_stays_with_its_service(pay_server, mpesa_sim,  # noqa: F811
                                                                      context_factory, shots) -> None:
    kiosk = pay_server.centre.bundle("kiosk-1")["token"]
    ticket = issue(pay_server, kiosk, PAID)
    names = {s["id"]: s for s in httpx.get(pay_server.url + "/api/v1/services", timeout=10).json()}
    page = context_factory(bypass_csp=True).new_page()  # bypass: axe-core is injected as an inline script
    login_page(page, pay_server, "clerk", pay_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    open_counter(page, "c01", [PAID, TO])
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    # a transfer before anything is paid says nothing of fees
    page.keyboard.press("t")
    expect(page.locator("#transfer-dialog")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#transfer-fee-note")).to_be_hidden()
    page.keyboard.press("Escape")

    start_push(pay_server, ticket["id"], "0712345670", kiosk)
    expect(page.locator("#payment-state")).to_have_text("Paid by M-Pesa", timeout=30_000)
    page.keyboard.press("t")
    note = page.locator("#transfer-fee-note")
    expect(note).to_have_text(f"The fee paid (KSh 1,050) was for {names[PAID]['name_en']}: it stays with "
                              f"{names[PAID]['name_en']} in the day's payments. The new service's own fee, if any, "
                              "is separate.")
    shots(page, "web-clerk-transfer-paid-en")
    page.keyboard.press("Escape")

    page.goto(pay_server.url + "/clerk?lang=sw")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    page.keyboard.press("t")
    expect(note).to_have_text(f"Ada iliyolipwa (KSh 1,050) ilikuwa ya {names[PAID]['name_sw']}: inabaki kwa "
                              f"{names[PAID]['name_sw']} katika malipo ya siku. Ada ya huduma mpya, ikiwa ipo, "
                              "ni tofauti.")
    shots(page, "web-clerk-transfer-paid-sw")
    found = audit(page, "clerk-transfer-paid-sw")
    assert not found, "\n".join(found)
    page.select_option("#transfer-service", TO)
    page.click("#transfer-confirm")
    expect(page.locator("#transfer-dialog")).to_be_hidden()

    # the payment keeps the service it was paid for, its amount and its terms
    paid = payment_of(pay_server, ticket["id"])
    assert (paid["service_id"], paid["state"], paid["amount_ksh"], paid["fee_varies"], paid["paid_online"]) == \
        (PAID, "paid", 1050, False, False)
