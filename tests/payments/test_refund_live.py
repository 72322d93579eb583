"""Refund due is a fact of a closed day, not of a ticket that may still be served.

During the day a paid ticket still waiting owes nothing back, and neither does a paid no-show: the citizen may
come back and be served. Once the day closes with them unserved, the money is owed back, in the figures, on the
ticket's payment and by SMS to the no-show. A real server, the M-Pesa simulator, the demo SMS gateway's log.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from centre_server.store.accounts import SESSION_COOKIE
from tests.conftest import wait_until
from tests.payments.test_payments import PAID_PHONE, payment, settled, start
from tests.payments.test_refund_due import sms_lines


def refund_row(server, token: str, day: str) -> tuple[str, str]:
    """The passport line of the day's reconciliation, as the manager's CSV gives it: (refund count, KSh)."""
    r = httpx.get(f"{server.url}/reports.csv", params={"from": day, "to": day}, cookies={SESSION_COOKIE: token},
                  timeout=30)
    assert r.status_code == 200, r.text
    lines = {(x["scope"], x["key"]): x for x in csv.DictReader(io.StringIO(r.text))}
    row = lines.get(("service", "passport"), {})
    return row.get("refund_due_count", "0"), row.get("refund_due_ksh", "0")


def test_a_paid_ticket_is_owed_back_only_once_the_day_closes_unserved(pay_server, mpesa_sim):
    kiosk = pay_server.client(pay_server.centre.bundle("kiosk-1")["token"])
    r = kiosk.post("/api/v1/tickets", json={"service_id": "passport", "phone": "+254712345678", "language": "en"})
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert start(pay_server, ticket["id"], PAID_PHONE).status_code in (200, 201, 202)
    assert settled(pay_server, ticket["id"])["state"] == "paid"
    receipt = wait_until(lambda: payment(pay_server, ticket["id"])["receipt"], timeout=15, what="the receipt")
    manager = pay_server.login("manager")
    day = datetime.fromisoformat(ticket["issued_at"]).astimezone(ZoneInfo("Africa/Nairobi")).date().isoformat()

    # waiting and paid: nothing is owed back yet
    assert payment(pay_server, ticket["id"])["refund_due"] is False
    assert refund_row(pay_server, manager, day) == ("0", "0")

    # called and not there: a no-show, who may still come back today
    clerk = pay_server.client(pay_server.login("clerk"))
    assert clerk.post("/api/v1/counters/c01/open", json={"services": ["passport"]}).status_code == 200
    assert clerk.post(f"/api/v1/counters/c01/call/{ticket['id']}").status_code == 200
    assert clerk.post("/api/v1/counters/c01/no-show").json()["state"] == "no_show"
    assert payment(pay_server, ticket["id"])["refund_due"] is False
    assert refund_row(pay_server, manager, day) == ("0", "0")

    # the day closes with the no-show never back: owed back, everywhere, and the citizen is told
    closed = pay_server.client(manager).post("/api/v1/day/close")
    assert closed.status_code == 200, closed.text
    day = closed.json()["date"]
    assert payment(pay_server, ticket["id"])["refund_due"] is True
    assert refund_row(pay_server, manager, day) == ("1", "4550")
    texts = [text for _, text in sms_lines(pay_server)]
    assert any(t.startswith(f"Huduma: you paid KSh 4,550 for ticket {ticket['number']} ({receipt}) and were not "
                            "served: it is owed back") for t in texts), texts
    assert not any(f"before ticket {ticket['number']} was called" in t for t in texts)  # it was called
