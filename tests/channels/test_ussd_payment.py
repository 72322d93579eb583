"""USSD and SMS around a ticket's fee (issue 20): "1. Pay now by M-Pesa 2. Pay at the counter" after the
ticket, the prompt to the session's own phone, and the SMS that say the fee and the outcome.

A real server process; SMS to a fake Africa's Talking on loopback (tests/channels/conftest.py); payments
to a real ``huduma-mpesa-sim`` process. The server's callback address is not known before it starts here,
so every payment is settled the way a centre whose LAN Daraja cannot reach settles it: by the STK query.
The simulated citizen's answer is the phone's last digit (mpesa_sim/app.py): 0 pays, 2 cancels.
"""

from __future__ import annotations

import re

import pytest

from tests.channels.conftest import serve_channels
from tests.channels.test_ussd import find_option, walk
from tests.conftest import wait_until
from tests.payments.conftest import give_centre_paid_fees, mpesa_sim  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def pay_channels(tmp_path, mpesa_sim, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HUDUMA_PAYMENTS__ENABLED", "true")
    monkeypatch.setenv("HUDUMA_PAYMENTS__BASE_URL", mpesa_sim.url)
    monkeypatch.setenv("HUDUMA_PAYMENTS__QUERY_AFTER_S", "5")
    monkeypatch.setenv("HUDUMA_PAYMENTS__POLL_EVERY_S", "0.5")
    with serve_channels(tmp_path, before_start=give_centre_paid_fees) as server:
        yield server


def to_service(server, phone: str, lang: str, category: str, service: str) -> list[str]:
    """The answers from the first screen to the service's "Take ticket" screen."""
    answers = [lang, "1"]
    screen = walk(server, phone, answers)[-1]
    while category not in screen:
        answers.append("98")
        screen = walk(server, phone, answers)[-1]
    answers.append(find_option(screen, category))
    screen = walk(server, phone, answers)[-1]
    while service not in screen:
        answers.append("98")
        screen = walk(server, phone, answers)[-1]
    answers.append(find_option(screen, service))
    return answers


def test_ussd_pays_now_and_the_sms_says_the_fee_and_the_receipt(pay_channels, mpesa_sim):  # noqa: F811
    server = pay_channels
    phone = "+254712345670"
    answers = to_service(server, phone, "1", "Police", "good conduct")
    answers.append("1")  # take the ticket
    taken = walk(server, phone, answers)[-1]
    assert taken.startswith("CON Ticket G") and "Check in at the kiosk with code" in taken, taken
    assert "Fee KSh 1,050:\n1. Pay now by M-Pesa\n2. Pay at the counter" in taken
    number = re.search(r"Ticket (G\d+)", taken).group(1)
    # the ticket SMS names the fee and where to pay it: in the same SMS when it fits in 160 characters,
    # else in one of its own with the ticket's page; never cut
    issued = server.aggregator.wait_for(phone, f"ticket {number}")
    assert "/t/" in issued, issued

    def fee_sms() -> str | None:
        return next((m for m in server.aggregator.messages_to(phone) if "KSh 1,050" in m), None)

    fee = wait_until(fee_sms, timeout=30, what="the fee by SMS")
    assert ("Fee KSh 1,050: pay by M-Pesa on that page" in fee
            or f"ticket {number}, fee KSh 1,050. Pay by M-Pesa on " in fee and "/t/" in fee), fee
    assert all(len(m) <= 160 for m in server.aggregator.messages_to(phone))

    answers.append("1")  # pay now
    sent = walk(server, phone, answers)[-1]
    assert sent.startswith("END Ticket " + number) and "M-Pesa prompt for KSh 1,050" in sent, sent
    push = mpesa_sim.push_for(number)["request"]
    assert push["PhoneNumber"] == "254712345670" and push["Amount"] == 1050  # the session's phone, the fee
    # replaying the whole path (an aggregator's retry) sends no second prompt
    again = walk(server, phone, answers)[-1]
    assert again.startswith("END ") and number in again
    assert len([p for p in mpesa_sim.requests() if p["request"]["AccountReference"] == number]) == 1

    # the receipt number when the callback brought it; settled by the STK query alone (whose answer carries
    # none) the SMS says it follows, never "receipt -" (tests/channels/test_payment_sms.py)
    paid = server.aggregator.wait_for(phone, "paid", timeout=40)
    assert f"ticket {number}, fee KSh 1,050 paid." in paid, paid
    if "receipt number follows" not in paid:
        receipt = re.search(r"M-Pesa receipt (\w+)", paid).group(1)
        assert mpesa_sim.push_for(number)["receipt"] == receipt


def test_ussd_kiswahili_cancelled_prompt_and_pay_at_the_counter(pay_channels, mpesa_sim):  # noqa: F811
    server = pay_channels
    phone = "+254712345672"  # cancels on the phone
    answers = to_service(server, phone, "2", "Polisi", "tabia njema") + ["1"]
    taken = walk(server, phone, answers)[-1]
    assert "Ada KSh 1,050:\n1. Lipa sasa kwa M-Pesa\n2. Lipa kwenye kaunta" in taken, taken
    number = re.search(r"Tiketi (G\d+)", taken).group(1)
    sent = walk(server, phone, answers + ["1"])[-1]
    assert "ombi la M-Pesa la KSh 1,050" in sent, sent
    failed = server.aggregator.wait_for(phone, "hayakufanikiwa", timeout=40)
    assert f"tiketi {number}, malipo ya M-Pesa hayakufanikiwa (Imesitishwa kwenye simu)" in failed, failed

    other = "+254712345679"  # another citizen chooses the counter: no prompt at all
    answers = to_service(server, other, "1", "Police", "good conduct") + ["1"]
    taken = walk(server, other, answers)[-1]
    number = re.search(r"Ticket (G\d+)", taken).group(1)
    counter = walk(server, other, answers + ["2"])[-1]
    assert counter == f"END Ticket {number}: pay the fee of KSh 1,050 at the counter when called. SMS sent."
    assert not [p for p in mpesa_sim.requests() if p["request"]["AccountReference"] == number]
    wait_until(lambda: server.aggregator.messages_to(other), 10, "the ticket SMS")


def test_free_service_asks_nothing_about_paying(pay_channels):
    server = pay_channels
    phone = "+254712345678"
    answers = to_service(server, phone, "1", "Identity", "New national ID") + ["1"]
    taken = walk(server, phone, answers)[-1]
    assert taken.startswith("END Ticket ") and "M-Pesa" not in taken, taken


def test_join_pays_now_or_at_the_counter(pay_channels, mpesa_sim, browser, shot):  # noqa: F811
    """/join for a service with a fee: the choice under the phone number; paying now sends the prompt to that
    phone; the joined page says it was sent; the SMS says the receipt. Both languages, axe-core clean."""
    from playwright.sync_api import expect

    from tests.a11y.axe import audit
    from tests.channels.test_pages import PHONE, no_horizontal_scroll

    server = pay_channels
    ctx = browser.new_context(locale="en-GB", bypass_csp=True, **PHONE)  # bypass: axe-core is injected inline
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    try:
        page.goto(server.url + "/join?service=good-conduct&lang=en")
        expect(page.locator("#pay-choice legend")).to_have_text("Fee KSh 1,050: how will you pay?")
        expect(page.locator("#pay-mpesa")).to_be_checked()
        no_horizontal_scroll(page)
        shot(page, "join-pay-en")
        assert not audit(page, "join-pay-en")
        page.fill("#phone", "0712 345 670")
        page.click("#join-button")
        expect(page.locator("#joined-payment-state")).to_have_text("M-Pesa prompt sent: enter your PIN on your phone")
        number = page.locator("#ticket-number").inner_text()
        shot(page, "joined-pay-en")
        push = mpesa_sim.push_for(number)["request"]
        assert push["PhoneNumber"] == "254712345670" and push["Amount"] == 1050
        paid = server.aggregator.wait_for("+254712345670", "M-Pesa receipt", timeout=40)
        assert f"ticket {number}, fee KSh 1,050 paid" in paid

        page.goto(server.url + "/join?service=good-conduct&lang=sw")
        expect(page.locator("#pay-choice legend")).to_have_text("Ada KSh 1,050: utalipa vipi?")
        assert not audit(page, "join-pay-sw")
        page.fill("#phone", "0712 345 679")
        page.check("#pay-counter")
        shot(page, "join-pay-counter-sw")
        page.click("#join-button")
        expect(page.locator("#ticket-number")).to_be_visible()
        expect(page.locator("#joined-payment")).to_have_count(0)  # nothing started: the counter takes it
        number = page.locator("#ticket-number").inner_text()
        assert not [p for p in mpesa_sim.requests() if p["request"]["AccountReference"] == number]
        assert not audit(page, "joined-pay-counter-sw")
    finally:
        ctx.close()
