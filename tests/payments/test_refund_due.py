"""Paid, never served: the money is owed back, and everyone who must act on it is told (finding 1).

Found walking a day: P001, paid by M-Pesa (KSh 4,550), was cancelled by "Close the day"; its page said
"cancelled" beside "Paid by M-Pesa", no SMS came, and the reconciliation showed 4,550 received, 0 due and
no line for the refund. Here a real server, the M-Pesa simulator and the demo SMS gateway's log.
"""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests.conftest import artifacts_dir, wait_until
from tests.payments.conftest import db_rows, serve_at_counter
from tests.payments.test_payments import PAID_PHONE, issue, payment, settled, start
from tests.web.conftest import login_page

WAITING_PHONE = "0712345608"  # ends in 8 too: the simulator's citizen would pay, but nobody asks


def join(server, phone: str, lang: str, pay: bool) -> str:
    """A ticket taken on /join with a phone (and the M-Pesa prompt ticked): its id."""
    form = {"service_id": "passport", "phone": phone, "lang": lang, **({"pay": "mpesa"} if pay else {})}
    r = httpx.post(server.url + "/join", data=form, follow_redirects=False, timeout=15)
    assert r.status_code == 303, r.text
    return re.search(r"/join/([^?]+)", r.headers["location"]).group(1)


def close_texts(texts: list[str], owed: str, unpaid: str, receipt: str) -> tuple[str, str, str]:
    """The close's three texts: closed before the paid ticket was called (English), its money owed back with
    the receipt, and closed before the unpaid one was called (Kiswahili)."""
    def first(start: str) -> str:
        return next(t for t in texts if t.startswith(start))

    return (first(f"Huduma: the centre closed for the day before ticket {owed} was called. It opens again on "),
            first(f"Huduma: you paid KSh 4,550 for ticket {owed} ({receipt}) and were not served: it is owed back"),
            first(f"Huduma: kituo kilifungwa kwa siku kabla tiketi {unpaid} haijaitwa. Kitafunguliwa tena "))


def sms_lines(server) -> list[tuple[str, str]]:
    path = server.centre.path / "sms.log"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [(parts[1], parts[2]) for parts in (ln.split("\t", 2) for ln in lines) if len(parts) == 3]


def test_paid_then_cancelled_at_the_close_is_a_refund_due_everywhere(pay_server, mpesa_sim, browser, centre_dir):
    owed = join(pay_server, PAID_PHONE, "en", pay=True)  # pays by M-Pesa on /join, never called
    unpaid = join(pay_server, WAITING_PHONE, "sw", pay=False)  # waits, pays nothing: told of the close only
    served = issue(pay_server, "passport")  # pays and is served: owes nothing back
    start(pay_server, served["id"], PAID_PHONE)
    paid = settled(pay_server, owed)
    assert paid["state"] == "paid" and paid["refund_due"] is False  # still waiting: nothing owed yet
    receipt = wait_until(lambda: payment(pay_server, owed)["receipt"], timeout=15, what="the receipt")
    assert settled(pay_server, served["id"])["state"] == "paid"
    clerk = pay_server.client(pay_server.login("clerk"))
    serve_at_counter(clerk, served["id"])

    manager = pay_server.client(pay_server.login("manager"))
    closed = manager.post("/api/v1/day/close")
    assert closed.status_code == 200, closed.text
    day = closed.json()["date"]

    # the SMS left before the close erased the numbers: in the gateway's log, the number is erased now
    number = {t: payment(pay_server, t)["number"] for t in (owed, unpaid)}
    texts = [text for phone, text in sms_lines(pay_server)]
    closed_en, refund_en, closed_sw = close_texts(texts, number[owed], number[unpaid], receipt)
    assert not any(t.startswith("Huduma: ulilipa") for t in texts)  # the unpaid one is owed nothing
    assert all(len(t) <= 160 for t in (closed_en, refund_en, closed_sw)), (closed_en, refund_en, closed_sw)
    assert all(phone == "[erased]" for phone, text in sms_lines(pay_server) if text in (closed_en, refund_en))
    outbox = db_rows(pay_server, "SELECT phone, sent_at IS NOT NULL FROM sms_outbox WHERE kind='day_closed'")
    assert sorted(outbox) == [("", 1)] * 3, outbox
    assert db_rows(pay_server, "SELECT COUNT(*) FROM tickets WHERE phone IS NOT NULL")[0][0] == 0

    # the API and the citizen's pages: paid, not served, owed back
    assert payment(pay_server, owed)["refund_due"] is True
    assert payment(pay_server, served["id"])["refund_due"] is False
    assert payment(pay_server, unpaid)["refund_due"] is False
    page_en = httpx.get(f"{pay_server.url}/join/{owed}?lang=en").text
    assert 'id="joined-payment-refund"' in page_en and "the money is owed back to you" in page_en
    assert "pay at the counter" not in page_en
    page_sw = httpx.get(f"{pay_server.url}/join/{owed}?lang=sw").text
    assert "unastahili kurejeshewa pesa zako" in page_sw

    # the reconciliation: the summary (to headquarters), the reports page and its CSV
    summary = manager.get(f"/api/v1/day/summaries/{day}").json()
    money = summary.get("payments") or summary["summary"]["payments"]
    row = {r["service_id"]: r for r in money["services"]}["passport"]
    assert (row["mpesa_count"], row["mpesa_ksh"], row["served"], row["due_ksh"]) == (2, 9100, 1, 4550)
    assert (row["refund_count"], row["refund_ksh"], row["refund_receipts"]) == (1, 4550, [receipt])
    assert money["refund_ksh"] == 4550
    shots = artifacts_dir("payments")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        login_page(page, pay_server, "manager", centre_dir.staff_password("manager"))
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{pay_server.url}/reports?from={day}&to={day}")
        note = page.locator("#report-refund-due").inner_text()
        assert "Paid, not served: refund due KSh 4,550 to 1 citizen." in note and receipt in note, note
        cell = page.locator("#report-payments-table tr[data-service='passport'] td.refund").inner_text()
        assert cell == "4,550 (1)", cell
        page.locator("#report-payments").screenshot(path=str(shots / "reports-refund-en.png"))
        page.goto(f"{pay_server.url}/reports?from={day}&to={day}&lang=sw")
        assert "lipa bila kuhudumiwa" in page.locator("#report-refund-due").inner_text()
        page.locator("#report-payments").screenshot(path=str(shots / "reports-refund-sw.png"))
        text = page.request.get(f"{pay_server.url}/reports.csv?from={day}&to={day}").text()
        # the citizen's live ticket page says it too, in both languages
        for lang, words in (("en", "the money is owed back to you"), ("sw", "unastahili kurejeshewa")):
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{pay_server.url}/t/{owed}?lang={lang}")
            refund = page.locator("#t-pay-refund")
            refund.wait_for(state="visible", timeout=15_000)
            assert words in refund.inner_text()
            page.screenshot(path=str(shots / f"ticket-refund-{lang}.png"), full_page=True)
    finally:
        page.close()
    lines = {(r["scope"], r["key"]): r for r in csv.DictReader(io.StringIO(text))}
    passport = lines[("service", "passport")]
    assert (passport["refund_due_count"], passport["refund_due_ksh"], passport["refund_receipts"]) == (
        "1", "4550", receipt)
    assert lines[("total", "")]["refund_due_ksh"] == "4550"
