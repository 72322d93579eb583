"""The clerk sees the called ticket's fee live, and the citizen sees it on their page (issue 20).

A real ``huduma-centre serve`` process whose payments go to a real ``huduma-mpesa-sim`` process, Debian's
Chromium through Playwright. The simulated citizen's answer is chosen by the phone's last digit
(mpesa_sim/app.py): 0 pays, 2 cancels on the phone.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.a11y.axe import audit
from tests.payments.conftest import mpesa_sim, pay_server, shipped_fees  # noqa: F401 - fixtures
from tests.web.conftest import issue, login_page
from tests.web.test_clerk_ticket import open_counter

SERVICE = "good-conduct"  # KSh 1,050 in the demo catalogue


def start_push(server, ticket_id: str, phone: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(f"{server.url}/api/v1/tickets/{ticket_id}/payment", json={"phone": phone}, headers=headers,
                   timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


def payment_of(server, ticket_id: str) -> dict:
    r = httpx.get(f"{server.url}/api/v1/tickets/{ticket_id}/payment", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_clerk_sees_a_payment_arrive_and_acts_on_a_failed_one(pay_server, mpesa_sim, context_factory,  # noqa: F811
                                                               shots):
    kiosk = pay_server.centre.bundle("kiosk-1")["token"]
    first = issue(pay_server, kiosk, SERVICE)
    second = issue(pay_server, kiosk, SERVICE)
    third = issue(pay_server, kiosk, SERVICE)

    page = context_factory(bypass_csp=True).new_page()  # bypass: axe-core is injected as an inline script
    login_page(page, pay_server, "clerk", pay_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    open_counter(page, "c01", [SERVICE])
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    box = page.locator("#payment")
    expect(box).to_be_visible()
    expect(page.locator("#payment-state")).to_have_text("Not paid")
    expect(page.locator("#payment-detail")).to_contain_text("KSh 1,050 due")

    # the citizen pays from the kiosk while the clerk has the ticket called: pending, then paid, live
    mpesa_sim.control(delay_s=4)
    start_push(pay_server, first["id"], "0712345670", kiosk)
    expect(page.locator("#payment-state")).to_have_text("Payment pending")
    expect(page.locator("#payment-detail")).to_contain_text("*********670")
    expect(page.locator("#pay-push")).to_be_disabled()
    shots(page, "web-clerk-payment-pending")
    expect(page.locator("#payment-state")).to_have_text("Paid by M-Pesa")
    receipt = payment_of(pay_server, first["id"])["receipt"]
    assert receipt
    expect(page.locator("#payment-receipt")).to_have_text(receipt)
    assert box.get_attribute("data-state") == "paid"
    for b in ("#pay-push", "#pay-cash", "#pay-waiver"):
        expect(page.locator(b)).to_be_disabled()
    shots(page, "web-clerk-payment-paid")
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#payment-state")).to_have_text("Imelipwa kwa M-Pesa")
    expect(page.locator("#payment-detail")).to_contain_text("Risiti ya M-Pesa " + receipt)
    shots(page, "web-clerk-payment-paid-sw")
    page.click("a[data-lang-link='en']")
    expect(page.locator("#payment-state")).to_have_text("Paid by M-Pesa")

    # the next citizen cancelled the prompt on their phone; the clerk sends it again, to another phone,
    # from the keyboard alone
    mpesa_sim.control(delay_s=0.3)
    start_push(pay_server, second["id"], "0712345672", kiosk)
    page.keyboard.press("c")  # complete the first
    expect(page.locator("#current-number")).to_have_text("—")
    expect(page.locator("#payment")).to_be_hidden()  # nobody at the counter: no fee shown
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(second["number"])
    expect(page.locator("#payment-state")).to_have_text("Payment failed")
    expect(page.locator("#payment-detail")).to_contain_text("Cancelled on the phone")
    shots(page, "web-clerk-payment-failed")
    # axe-core on the terminal with the fee's box and its actions, in both languages
    assert not audit(page, "clerk-payment-failed-en")
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#payment-state")).to_have_text("Malipo hayakufanikiwa")
    expect(page.locator("#payment-detail")).to_contain_text("Imesitishwa kwenye simu")
    assert not audit(page, "clerk-payment-failed-sw")
    page.click("a[data-lang-link='en']")
    expect(page.locator("#payment-state")).to_have_text("Payment failed")
    page.keyboard.press("m")
    expect(page.locator("#pay-dialog")).to_be_visible()
    page.keyboard.type("0812")
    page.keyboard.press("Enter")
    expect(page.locator("#pay-error")).to_have_text("A Kenyan mobile number, e.g. 0712 345 678.")
    page.fill("#pay-input", "0722 000 110")
    page.keyboard.press("Enter")
    expect(page.locator("#pay-dialog")).to_be_hidden()
    expect(page.locator("#payment-state")).to_have_text("Paid by M-Pesa")
    paid = payment_of(pay_server, second["id"])
    assert paid["state"] == "paid" and paid["attempts"] == 2
    expect(page.locator("#payment-receipt")).to_have_text(paid["receipt"])
    assert mpesa_sim.push_for(second["number"])["request"]["PhoneNumber"] == "254722000110"

    # the third pays cash at the counter: K, a reason, Enter
    page.keyboard.press("c")
    expect(page.locator("#current-number")).to_have_text("—")
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(third["number"])
    expect(page.locator("#payment-state")).to_have_text("Not paid")
    page.keyboard.press("d")  # cash: D (the desk); K parks the citizen
    page.keyboard.press("Enter")
    expect(page.locator("#pay-error")).to_have_text("Type a reason.")
    page.keyboard.type("Receipt book 0042")
    page.keyboard.press("Enter")
    expect(page.locator("#payment-state")).to_have_text("Paid in cash")
    expect(page.locator("#payment-detail")).to_contain_text("Receipt book 0042")
    cash = payment_of(pay_server, third["id"])
    assert cash["state"] == "cash" and cash["by"] == "clerk"
    shots(page, "web-clerk-payment-cash")


def test_citizen_page_shows_the_payment_live_and_retries(pay_server, mpesa_sim, context_factory,  # noqa: F811
                                                         shots):
    kiosk = pay_server.centre.bundle("kiosk-1")["token"]
    ticket = issue(pay_server, kiosk, SERVICE, language="sw")
    start_push(pay_server, ticket["id"], "0712345672", kiosk)  # cancelled on the phone

    page = context_factory(viewport={"width": 390, "height": 844}, bypass_csp=True).new_page()
    page.goto(f"{pay_server.url}/t/{ticket['id']}?lang=en")
    expect(page.locator("#t-pay-state")).to_have_text("Payment failed")
    expect(page.locator("#t-pay-detail")).to_contain_text("Cancelled on the phone")
    expect(page.locator("#t-pay-form")).to_be_visible()
    shots(page, "web-citizen-payment-failed", full_page=True)
    assert not audit(page, "citizen-payment-failed-en")
    page.goto(f"{pay_server.url}/t/{ticket['id']}?lang=sw")
    expect(page.locator("#t-pay-state")).to_have_text("Malipo hayakufanikiwa")
    expect(page.locator("#t-pay-detail")).to_contain_text("Hujalipa: Imesitishwa kwenye simu")
    assert not audit(page, "citizen-payment-failed-sw")
    page.goto(f"{pay_server.url}/t/{ticket['id']}?lang=en")
    expect(page.locator("#t-pay-form")).to_be_visible()

    page.fill("#t-pay-phone", "12")
    page.click("#t-pay-go")
    expect(page.locator("#t-pay-error")).to_have_text("A Kenyan mobile number, e.g. 0712 345 678.")
    mpesa_sim.control(delay_s=3)
    page.fill("#t-pay-phone", "0712 345 670")
    page.click("#t-pay-go")
    expect(page.locator("#t-pay-state")).to_have_text("Payment pending")
    expect(page.locator("#t-pay-form")).to_be_hidden()
    expect(page.locator("#t-pay-state")).to_have_text("Paid by M-Pesa")
    receipt = payment_of(pay_server, ticket["id"])["receipt"]
    expect(page.locator("#t-pay-receipt")).to_have_text(receipt)
    shots(page, "web-citizen-payment-paid", full_page=True)
    page.goto(f"{pay_server.url}/t/{ticket['id']}?lang=sw")
    expect(page.locator("#t-pay-state")).to_have_text("Imelipwa kwa M-Pesa")
    shots(page, "web-citizen-payment-paid-sw", full_page=True)
    assert not audit(page, "citizen-payment-paid-sw")


def test_paid_by_the_query_says_receipt_to_follow_until_the_late_callback_brings_it(  # noqa: F811
        pay_server, mpesa_sim, context_factory, shots):
    """M-Pesa's STK query settles a payment whose callback is lost: its answer has no receipt number, so the
    clerk and the citizen read "paid, receipt to follow", never a made-up number; Daraja's callback, sent again
    late, fills the number in on both pages, live."""
    kiosk = pay_server.centre.bundle("kiosk-1")["token"]
    ticket = issue(pay_server, kiosk, SERVICE)
    mpesa_sim.control(lose_callbacks=True)
    start_push(pay_server, ticket["id"], "0712345670", kiosk)

    clerk = context_factory(bypass_csp=True).new_page()
    login_page(clerk, pay_server, "clerk", pay_server.centre.staff_password("clerk"))
    clerk.wait_for_url("**/clerk")
    open_counter(clerk, "c01", [SERVICE])
    clerk.keyboard.press(" ")
    expect(clerk.locator("#current-number")).to_have_text(ticket["number"])
    citizen = context_factory(viewport={"width": 390, "height": 844}, bypass_csp=True).new_page()
    citizen.goto(f"{pay_server.url}/t/{ticket['id']}?lang=en")

    # the settler asks Daraja after query_after_s (5 s in these tests): paid, no receipt number yet
    expect(clerk.locator("#payment-state")).to_have_text("Paid by M-Pesa", timeout=30_000)
    p = payment_of(pay_server, ticket["id"])
    assert p["state"] == "paid" and p["receipt"] is None and p["receipt_to_follow"] is True
    to_follow = "to follow: M-Pesa confirmed the payment, the number comes later"
    expect(clerk.locator("#payment-receipt")).to_have_text(to_follow)
    expect(clerk.locator("#payment-detail")).to_contain_text("M-Pesa receipt " + to_follow + " · KSh 1,050")
    for b in ("#pay-push", "#pay-cash", "#pay-waiver"):  # it is paid: nothing more to take
        expect(clerk.locator(b)).to_be_disabled()
    shots(clerk, "web-clerk-payment-receipt-to-follow")
    assert not audit(clerk, "clerk-payment-receipt-to-follow-en")
    expect(citizen.locator("#t-pay-state")).to_have_text("Paid by M-Pesa", timeout=30_000)
    expect(citizen.locator("#t-pay-receipt")).to_have_text(to_follow)
    expect(citizen.locator("#t-pay-form")).to_be_hidden()
    shots(citizen, "web-citizen-payment-receipt-to-follow", full_page=True)
    sw = context_factory(viewport={"width": 390, "height": 844}).new_page()
    sw.goto(f"{pay_server.url}/t/{ticket['id']}?lang=sw")
    expect(sw.locator("#t-pay-receipt")).to_have_text("itafuata: M-Pesa imethibitisha malipo, nambari itakuja baadaye")
    shots(sw, "web-citizen-payment-receipt-to-follow-sw", full_page=True)

    # Daraja's callback arrives at last: the receipt number fills in on both pages without a reload
    push = mpesa_sim.push_for(ticket["number"])
    r = httpx.post(f"{mpesa_sim.url}/sim/requests/{push['CheckoutRequestID']}/callback", timeout=15)
    assert r.json()["statuses"] == [200]
    expect(clerk.locator("#payment-receipt")).to_have_text(push["receipt"])
    expect(citizen.locator("#t-pay-receipt")).to_have_text(push["receipt"], timeout=40_000)  # its slow poll
    p = payment_of(pay_server, ticket["id"])
    assert p["receipt"] == push["receipt"] and p["receipt_to_follow"] is False
    shots(clerk, "web-clerk-payment-receipt-arrived")


def test_a_fee_paid_on_ecitizen_shows_as_such_and_nothing_can_be_taken(pay_server, mpesa_sim,  # noqa: F811
                                                                        shipped_fees, context_factory, shots):
    """Finding 2: the shipped catalogue's passport fee is paid on eCitizen when applying: the clerk's box says
    so in both languages, and no prompt, cash or waiver can be started from it."""
    kiosk = pay_server.centre.bundle("kiosk-1")["token"]
    t = issue(pay_server, kiosk, "passport")
    page = context_factory().new_page()
    login_page(page, pay_server, "clerk", pay_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    open_counter(page, "c01", ["passport"])
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(t["number"])
    expect(page.locator("#payment")).to_be_visible()
    expect(page.locator("#payment-state")).to_have_text("Paid on eCitizen")
    expect(page.locator("#payment-detail")).to_contain_text("ask for the receipt")
    for b in ("#pay-push", "#pay-cash", "#pay-waiver"):
        expect(page.locator(b)).to_be_disabled()
    shots(page, "web-clerk-payment-ecitizen")
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#payment-state")).to_have_text("Imelipwa eCitizen")
    expect(page.locator("#payment-detail")).to_contain_text("omba risiti")
    shots(page, "web-clerk-payment-ecitizen-sw")
    assert mpesa_sim.requests() == []
