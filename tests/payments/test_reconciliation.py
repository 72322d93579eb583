"""A day with every payment outcome, closed: the reconciliation in the summary, the reports page and CSV,
the phone numbers erased (receipts kept), and the revenue at headquarters (a real HQ process, PostgreSQL)."""

from __future__ import annotations

import csv
import io

import httpx

from tests.conftest import artifacts_dir, set_upstream, wait_until
from tests.hq.conftest import hq, pg_url  # noqa: F401  (fixtures)
from tests.payments.conftest import db_rows
from tests.payments.test_payments import PAID_PHONE, issue, payment, settled, start
from tests.web.conftest import login_page

SERVICES = ["passport", "birth-cert", "good-conduct", "marriage", "land-rates", "kra-pin"]


def test_a_day_with_every_outcome_reconciles_in_reports_and_at_headquarters(pay_server, mpesa_sim, hq, browser,
                                                                            centre_dir):
    clerk = pay_server.client(pay_server.login("clerk"))
    paid = issue(pay_server, "passport")  # M-Pesa, paid
    start(pay_server, paid["id"], PAID_PHONE)
    cash = issue(pay_server, "birth-cert")  # cancelled on the phone, then cash at the counter
    start(pay_server, cash["id"], "0712345672")
    waived = issue(pay_server, "good-conduct")  # waived by the clerk
    unpaid = issue(pay_server, "marriage")  # wrong PIN, never paid, served all the same
    start(pay_server, unpaid["id"], "0712345674")
    varies = issue(pay_server, "land-rates")  # the fee varies: cash at the counter, amount not known to the queue
    free = issue(pay_server, "kra-pin")  # free: owes nothing
    assert settled(pay_server, paid["id"])["state"] == "paid"
    assert settled(pay_server, cash["id"])["state"] == "failed"
    assert settled(pay_server, unpaid["id"])["reason_code"] == "2001"
    for t, how, why in ((cash, "cash", "Receipt book 7, no. 112"), (waived, "waiver", "Orphan, letter from chief"),
                        (varies, "cash", "County receipt 55/2026")):
        assert clerk.post(f"/api/v1/tickets/{t['id']}/payment/{how}", json={"reason": why}).status_code == 200
    # M-Pesa money that matches no ticket: a callback for no request
    httpx.post(f"{pay_server.url}/mpesa/callback/{'z' * 32}", json={"Body": {"stkCallback": {
        "MerchantRequestID": "9-9-1", "CheckoutRequestID": "ws_CO_stray", "ResultCode": 0, "ResultDesc": "ok",
        "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 950.0},
                                      {"Name": "MpesaReceiptNumber", "Value": "SSTRAY0001"},
                                      {"Name": "PhoneNumber", "Value": 254711000000}]}}}})
    assert clerk.post("/api/v1/counters/c01/open", json={"services": SERVICES}).status_code == 200
    for t in (paid, cash, waived, unpaid, varies, free):
        assert clerk.post(f"/api/v1/counters/c01/call/{t['id']}").status_code == 200
        assert clerk.post("/api/v1/counters/c01/complete").status_code == 200

    # headquarters comes into reach (a restart with the link set: the payments stay on disk)
    pay_server.stop()
    set_upstream(centre_dir.path, hq.url, hq.add_centre("demo", "Huduma Centre GPO (demo)"))
    pay_server.start()
    manager = pay_server.client(pay_server.login("manager"))
    closed = manager.post("/api/v1/day/close")
    assert closed.status_code == 200, closed.text
    day = closed.json()["date"]
    summary = manager.get(f"/api/v1/day/summaries/{day}").json()
    money = summary.get("payments") or summary["summary"]["payments"]
    rows = {r["service_id"]: r for r in money["services"]}
    assert "kra-pin" not in rows
    assert {k: rows["passport"][k] for k in ("fee_ksh", "served", "due_ksh", "mpesa_count", "mpesa_ksh",
                                             "unpaid_served")} == {"fee_ksh": 4550, "served": 1, "due_ksh": 4550,
                                                                   "mpesa_count": 1, "mpesa_ksh": 4550,
                                                                   "unpaid_served": 0}
    assert (rows["birth-cert"]["cash_ksh"], rows["birth-cert"]["failed_attempts"]) == (200, 1)
    assert (rows["good-conduct"]["waived_count"], rows["good-conduct"]["waived_ksh"]) == (1, 1050)
    assert (rows["marriage"]["due_ksh"], rows["marriage"]["unpaid_served"]) == (3300, 1)
    assert (rows["land-rates"]["fee_varies"], rows["land-rates"]["due_ksh"], rows["land-rates"]["cash_count"]) == (
        True, 0, 1)
    assert (money["unmatched_count"], money["unmatched_ksh"], money["received_ksh"]) == (1, 950, 4750)

    # the close erased every phone number of the day's payments; the receipt numbers stay
    assert db_rows(pay_server, "SELECT COUNT(*) FROM payments WHERE phone IS NOT NULL")[0][0] == 0
    assert db_rows(pay_server, "SELECT COUNT(*) FROM payment_refusals WHERE phone IS NOT NULL")[0][0] == 0
    assert payment(pay_server, paid["id"])["receipt"] == mpesa_sim.push_for(paid["number"])["receipt"]

    # the reports CSV carries the reconciliation on the service rows and the total
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        login_page(page, pay_server, "manager", centre_dir.staff_password("manager"))
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{pay_server.url}/reports?from={day}&to={day}")
        table = page.locator("#report-payments-table")
        assert table.locator("tr[data-service='marriage'] td").nth(6).inner_text() == "1"
        assert "950" in page.locator("#report-unmatched").inner_text()
        page.locator("#report-payments").screenshot(path=str(artifacts_dir("payments") / "reports-payments-en.png"))
        page.goto(f"{pay_server.url}/reports?from={day}&to={day}&lang=sw")
        page.locator("#report-payments").screenshot(path=str(artifacts_dir("payments") / "reports-payments-sw.png"))
        text = page.request.get(f"{pay_server.url}/reports.csv?from={day}&to={day}").text()
    finally:
        page.close()
    lines = {(r["scope"], r["key"]): r for r in csv.DictReader(io.StringIO(text))}
    assert lines[("service", "passport")]["mpesa_ksh"] == "4550"
    assert lines[("service", "land-rates")]["fee_ksh"] == "varies"
    assert (lines[("total", "")]["fees_due_ksh"], lines[("total", "")]["unmatched_ksh"]) == ("9100", "950")

    # headquarters: revenue per centre and service
    def revenue() -> dict | None:
        r = hq.client("viewer").get(f"/api/v1/revenue?from={day}&to={day}").json()
        return r if r["centres"] and r["centres"][0]["days_with_payments"] else None

    rev = wait_until(revenue, timeout=30, what="the summary at headquarters")
    demo = rev["centres"][0]
    assert (demo["centre_id"], demo["received_ksh"], demo["due_ksh"], demo["unmatched_ksh"]) == ("demo", 4750,
                                                                                                  9100, 950)
    assert {s["service_id"]: s["mpesa_ksh"] for s in rev["services"]}["passport"] == 4550
    assert httpx.get(f"{hq.url}/api/v1/revenue?from={day}&to={day}").status_code == 401  # staff only
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    hq.log_in_browser(context, "viewer")
    page = context.new_page()
    try:
        page.goto(f"{hq.url}/revenue?from={day}&to={day}&lang=en")
        assert page.locator("section[data-centre='demo'] tr[data-service='passport']").count() == 1
        page.screenshot(path=str(artifacts_dir("payments") / "hq-revenue-en.png"), full_page=True)
        page.goto(f"{hq.url}/revenue?from={day}&to={day}&lang=sw")
        page.screenshot(path=str(artifacts_dir("payments") / "hq-revenue-sw.png"), full_page=True)
    finally:
        context.close()
