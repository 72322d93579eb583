"""Paying a ticket's fee by M-Pesa against the simulator (its own process) and a real centre server process."""

from __future__ import annotations

import base64
import json

import httpx

from tests.conftest import wait_until
from tests.payments.conftest import db_rows

PAID_PHONE = "0712345678"  # last digit 8: the simulator's citizen pays
CANCEL_PHONE = "0712345672"  # 2: cancels the prompt (1032)
TIMEOUT_PHONE = "0712345673"  # 3: never answers (1037)


def issue(server, service_id: str = "passport") -> dict:
    kiosk = server.client(server.centre.bundle("kiosk-1")["token"])
    r = kiosk.post("/api/v1/tickets", json={"service_id": service_id})
    assert r.status_code == 201, r.text
    return r.json()


def payment(server, ticket_id: str) -> dict:
    r = httpx.get(f"{server.url}/api/v1/tickets/{ticket_id}/payment", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def start(server, ticket_id: str, phone: str, token: str | None = None) -> httpx.Response:
    return server.client(token).post(f"/api/v1/tickets/{ticket_id}/payment", json={"phone": phone})


def settled(server, ticket_id: str, timeout: float = 15.0) -> dict:
    return wait_until(lambda: (p := payment(server, ticket_id))["state"] != "pending" and p,
                      timeout=timeout, what="the payment settled")


def payment_events(server, ticket_id: str) -> list[dict]:
    return [json.loads(d) for (d,) in db_rows(server, "SELECT data FROM events WHERE type='payment_updated' AND "
                                                      "json_extract(data, '$.ticket_id')=? ORDER BY seq", (ticket_id,))]


def test_citizen_pays_from_the_ticket_page_and_the_receipt_reaches_every_record(pay_server, mpesa_sim):
    t = issue(pay_server)
    r = start(pay_server, t["id"], PAID_PHONE)  # no token: the ticket's secret id is the citizen's page
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and r.json()["amount_ksh"] == 4550  # the catalogue's passport fee
    assert r.json()["phone_masked"] == "*********678"
    p = settled(pay_server, t["id"])
    push = mpesa_sim.push_for(t["number"])
    req = push["request"]
    # Daraja's request, field for field: the amount from the catalogue, the ticket number as the account
    assert (req["Amount"], req["AccountReference"], req["PhoneNumber"], req["PartyA"]) == (
        4550, t["number"], "254712345678", "254712345678")
    assert req["BusinessShortCode"] == req["PartyB"] == "174379"
    assert base64.b64decode(req["Password"]).decode() == "174379" + "demo-passkey" + req["Timestamp"]
    assert req["CallBackURL"].startswith(pay_server.url + "/mpesa/callback/")
    assert len(req["CallBackURL"].rsplit("/", 1)[1]) >= 32  # an unguessable token per request
    assert p["state"] == "paid" and p["receipt"] == push["receipt"] and p["method"] == "mpesa"
    events = payment_events(pay_server, t["id"])
    assert [e["state"] for e in events] == ["pending", "paid"]
    assert events[-1]["receipt"] == push["receipt"] and "phone" not in events[-1]
    # paid once is paid: a second prompt is refused
    again = start(pay_server, t["id"], PAID_PHONE)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_paid"
    assert again.json()["error"]["message_sw"]


def test_cancelled_prompt_fails_with_its_reason_and_the_clerk_retries_on_another_phone(pay_server, mpesa_sim):
    t = issue(pay_server)
    assert start(pay_server, t["id"], CANCEL_PHONE).status_code == 200
    p = settled(pay_server, t["id"])
    assert (p["state"], p["reason_code"]) == ("failed", "1032")
    assert p["reason_en"] == "Cancelled on the phone" and p["reason_sw"] == "Imesitishwa kwenye simu"
    clerk = pay_server.login("clerk")
    r = start(pay_server, t["id"], "+254 712 345 679", token=clerk)
    assert r.status_code == 200 and r.json()["state"] == "pending"
    p = settled(pay_server, t["id"])
    assert p["state"] == "paid" and p["attempts"] == 2
