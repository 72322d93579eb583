"""Paying a ticket's fee by M-Pesa against the simulator (its own process) and a real centre server process."""

from __future__ import annotations

import base64
import json

import httpx

from centre_server.contract import Topics
from tests.centre_server.test_server_process import Listener
from tests.conftest import wait_until
from tests.payments.conftest import db_rows, serve_at_counter, start_sim

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


def test_citizen_pays_from_the_ticket_page_and_the_receipt_reaches_every_record(pay_server, mpesa_sim, mosquitto):
    heard = Listener(mosquitto.port, Topics("demo").event("payment_updated"))
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
    # MQTT hears it as it hears a call (the public ticket id, never the secret one)
    on_air = json.loads(heard.wait_for(lambda m: b'"paid"' in m[1])[1])
    heard.close()
    assert on_air["number"] == t["number"] and on_air["receipt"] == push["receipt"] and on_air["ticket_id"] != t["id"]
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


def test_a_lost_callback_is_settled_by_the_stk_query(pay_server, mpesa_sim):
    mpesa_sim.control(lose_callbacks=True)
    t = issue(pay_server)
    assert start(pay_server, t["id"], PAID_PHONE).json()["state"] == "pending"
    p = settled(pay_server, t["id"], timeout=20)  # the settler asks after query_after_s (5 s here)
    assert p["state"] == "paid" and p["receipt"] is None  # the query carries no receipt: M-Pesa's statement has it
    assert mpesa_sim.push_for(t["number"])["callbacks_sent"] == 0
    [(queries,)] = db_rows(pay_server, "SELECT queries FROM payments WHERE ticket_id=?", (t["id"],))
    assert queries >= 1


def test_an_unreachable_phone_is_failed_by_the_query_when_its_callback_is_lost(pay_server, mpesa_sim):
    mpesa_sim.control(lose_callbacks=True)
    t = issue(pay_server)
    start(pay_server, t["id"], TIMEOUT_PHONE)
    p = settled(pay_server, t["id"], timeout=20)
    assert (p["state"], p["reason_code"], p["reason_sw"]) == ("failed", "1037", "Simu haikupatikana")


def test_duplicate_callbacks_are_recorded_once(pay_server, mpesa_sim):
    mpesa_sim.control(duplicate_callbacks=True)
    t = issue(pay_server)
    start(pay_server, t["id"], PAID_PHONE)
    settled(pay_server, t["id"])
    wait_until(lambda: mpesa_sim.push_for(t["number"])["callbacks_sent"] == 2, what="both callbacks sent")
    again = httpx.post(f"{mpesa_sim.url}/sim/requests/{mpesa_sim.push_for(t['number'])['CheckoutRequestID']}/callback")
    assert again.json()["statuses"] == [200]  # a third time, by hand: still a calm 200
    assert [e["state"] for e in payment_events(pay_server, t["id"])] == ["pending", "paid"]
    assert db_rows(pay_server, "SELECT COUNT(*) FROM payment_refusals")[0][0] == 0


def test_forged_and_tampered_callbacks_are_refused_logged_and_change_nothing(pay_server, mpesa_sim):
    # a token that no request carries
    forged = {"Body": {"stkCallback": {"MerchantRequestID": "1-2-1", "CheckoutRequestID": "ws_CO_1",
                                       "ResultCode": 0, "ResultDesc": "ok", "CallbackMetadata": {"Item": [
                                           {"Name": "Amount", "Value": 4550},
                                           {"Name": "MpesaReceiptNumber", "Value": "SFORGED001"},
                                           {"Name": "PhoneNumber", "Value": 254712345678}]}}}}
    r = httpx.post(f"{pay_server.url}/mpesa/callback/{'x' * 32}", json=forged)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_callback"
    # garbage at an address no push carries: the address is refused first (404), the body never described
    for junk in (b"{not json", b'{"Body": {}}', b""):
        bad = httpx.post(f"{pay_server.url}/mpesa/callback/{'x' * 32}", content=junk)
        assert bad.status_code == 404 and bad.json()["error"]["code"] == "unknown_callback", bad.text
    assert "(and the body is not a callback)" in pay_server.log_path.read_text()

    # the gateway's callback says another amount: refused; the query then settles the payment
    mpesa_sim.control(amount_offset=-4000)
    t = issue(pay_server)
    start(pay_server, t["id"], PAID_PHONE)
    wait_until(lambda: db_rows(pay_server, "SELECT why FROM payment_refusals WHERE checkout_request_id=?",
                               (mpesa_sim.push_for(t["number"])["CheckoutRequestID"],)), what="the refusal kept")
    assert payment(pay_server, t["id"])["state"] == "pending"
    mpesa_sim.control(amount_offset=0)

    # a "success" forged while the real prompt is still on the phone (the citizen will cancel it)
    mpesa_sim.control(lose_callbacks=True, delay_s=3.0)
    t2 = issue(pay_server)
    start(pay_server, t2["id"], CANCEL_PHONE)
    push = mpesa_sim.push_for(t2["number"])
    fake = {"Body": {"stkCallback": {"MerchantRequestID": push["MerchantRequestID"],
                                     "CheckoutRequestID": push["CheckoutRequestID"], "ResultCode": 0,
                                     "ResultDesc": "ok", "CallbackMetadata": {"Item": [
                                         {"Name": "Amount", "Value": 4550},
                                         {"Name": "MpesaReceiptNumber", "Value": "SFORGED002"},
                                         {"Name": "PhoneNumber", "Value": 254712345672}]}}}}
    assert httpx.post(push["request"]["CallBackURL"], json=fake).status_code == 200  # kept, not believed
    # at a push's own address a body that is no callback is described (422 JSON), never a 500
    bad = httpx.post(push["request"]["CallBackURL"], content=b"{not json")
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["error"]["message"], bad.text
    assert payment(pay_server, t2["id"])["state"] == "pending"
    p2 = settled(pay_server, t2["id"], timeout=20)
    assert (p2["state"], p2["reason_code"]) == ("failed", "1032")  # the query's word stands
    # the tampered amount's payment was settled by the query too
    assert settled(pay_server, t["id"], timeout=20)["state"] == "paid"
    whys = [w for (w,) in db_rows(pay_server, "SELECT why FROM payment_refusals ORDER BY id")]
    assert whys[0] == "no payment request carries this callback address"
    assert any("the request was for 4550 KSh" in w for w in whys)


def test_the_fee_is_the_catalogues_and_bad_requests_are_refused_in_both_languages(pay_server, mpesa_sim):
    t = issue(pay_server)
    r = pay_server.client().post(f"/api/v1/tickets/{t['id']}/payment", json={"phone": PAID_PHONE, "amount": 1})
    assert r.status_code == 422  # a client never names the amount
    r = start(pay_server, t["id"], "0812")
    assert r.status_code == 422 and "error" in r.json()
    assert start(pay_server, "no-such-ticket", PAID_PHONE).status_code == 404
    free = issue(pay_server, "kra-pin")
    assert payment(pay_server, free["id"])["state"] == "not_needed"
    r = start(pay_server, free["id"], PAID_PHONE)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_needed"
    varies = issue(pay_server, "land-rates")
    p = payment(pay_server, varies["id"])
    assert p["state"] == "none" and p["fee_varies"] and p["amount_ksh"] is None
    r = start(pay_server, varies["id"], PAID_PHONE)
    assert r.status_code == 409 and r.json()["error"]["code"] == "fee_varies"
    assert r.json()["error"]["message_sw"] == "Ada inategemea hali yako: lipa kwenye kaunta"
    display = pay_server.client(pay_server.centre.bundle("display-1")["token"])
    assert display.post(f"/api/v1/tickets/{t['id']}/payment", json={"phone": PAID_PHONE}).status_code == 403
    assert mpesa_sim.requests() == []  # none of these reached M-Pesa


def test_the_clerk_records_cash_or_a_waiver_and_a_prompt_is_then_refused(pay_server, mpesa_sim):
    clerk = pay_server.client(pay_server.login("clerk"))
    t, t2 = issue(pay_server), issue(pay_server, "birth-cert")
    assert clerk.post(f"/api/v1/tickets/{t['id']}/payment/waiver", json={"reason": "  "}).status_code == 422
    r = clerk.post(f"/api/v1/tickets/{t['id']}/payment/waiver", json={"reason": "Fire victim, letter from chief"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["by"], r.json()["reason_en"]) == ("waived", "clerk",
                                                                          "Fire victim, letter from chief")
    assert start(pay_server, t["id"], PAID_PHONE).json()["error"]["code"] == "already_paid"
    r = clerk.post(f"/api/v1/tickets/{t2['id']}/payment/cash", json={"reason": "Receipt book 12, no. 345"})
    assert (r.json()["state"], r.json()["amount_ksh"]) == ("cash", 200)
    assert httpx.post(f"{pay_server.url}/api/v1/tickets/{t2['id']}/payment/cash",
                      json={"reason": "x"}).status_code == 401  # nobody signed in records cash


def test_a_payment_survives_a_server_restart_between_the_push_and_the_callback(pay_server, mpesa_sim):
    mpesa_sim.control(delay_s=2.0)
    t = issue(pay_server)
    assert start(pay_server, t["id"], PAID_PHONE).json()["state"] == "pending"
    pay_server.kill9()  # the power goes, with the prompt on the citizen's phone
    wait_until(lambda: mpesa_sim.push_for(t["number"])["callback_errors"], timeout=10,
               what="Daraja's callback finding nobody")
    pay_server.start()
    # the request was on disk before the push left: still pending, or settled by the query if the start was slow
    assert payment(pay_server, t["id"])["state"] in ("pending", "paid")
    push = mpesa_sim.push_for(t["number"])
    # Daraja tries again: the token in the callback address still finds the request
    assert httpx.post(f"{mpesa_sim.url}/sim/requests/{push['CheckoutRequestID']}/callback").json()["statuses"] == [200]
    p = payment(pay_server, t["id"])
    assert p["state"] == "paid" and p["receipt"] == push["receipt"]
    events = payment_events(pay_server, t["id"])
    assert events[0]["state"] == "pending" and {e["state"] for e in events[1:]} == {"paid"}
    assert events[-1]["receipt"] == push["receipt"]


def test_a_late_callback_brings_the_receipt_to_a_payment_the_query_settled(pay_server, mpesa_sim):
    mpesa_sim.control(lose_callbacks=True)
    t = issue(pay_server)
    start(pay_server, t["id"], PAID_PHONE)
    assert settled(pay_server, t["id"], timeout=20)["receipt"] is None
    push = mpesa_sim.push_for(t["number"])
    assert httpx.post(f"{mpesa_sim.url}/sim/requests/{push['CheckoutRequestID']}/callback").json()["statuses"] == [200]
    assert payment(pay_server, t["id"])["receipt"] == push["receipt"]


def test_a_payment_settled_by_the_query_then_its_late_receipt_is_counted_once_at_the_day_close(pay_server,
                                                                                             mpesa_sim):
    """Paid by the query (no receipt), its late callback (the receipt), the same callback again: the day's
    reconciliation counts one M-Pesa payment of the fee, and no money matching no ticket."""
    mpesa_sim.control(lose_callbacks=True)
    t = issue(pay_server)
    start(pay_server, t["id"], PAID_PHONE)
    p = settled(pay_server, t["id"], timeout=20)
    assert (p["state"], p["receipt"], p["receipt_to_follow"]) == ("paid", None, True)
    push = mpesa_sim.push_for(t["number"])
    resend = f"{mpesa_sim.url}/sim/requests/{push['CheckoutRequestID']}/callback"
    assert httpx.post(resend, timeout=15).json()["statuses"] == [200]
    assert httpx.post(resend, timeout=15).json()["statuses"] == [200]  # Daraja's retry: a duplicate, idempotent
    p = payment(pay_server, t["id"])
    assert (p["receipt"], p["receipt_to_follow"]) == (push["receipt"], False)
    events = payment_events(pay_server, t["id"])
    assert [e["state"] for e in events] == ["pending", "paid", "paid"] and events[-1]["receipt"] == push["receipt"]

    clerk = pay_server.client(pay_server.login("clerk"))
    serve_at_counter(clerk, t["id"])
    manager = pay_server.client(pay_server.login("manager"))
    closed = manager.post("/api/v1/day/close")
    assert closed.status_code == 200, closed.text
    summary = manager.get(f"/api/v1/day/summaries/{closed.json()['date']}").json()
    money = summary.get("payments") or summary["summary"]["payments"]
    [row] = [r for r in money["services"] if r["service_id"] == "passport"]
    assert (row["served"], row["mpesa_count"], row["mpesa_ksh"], row["unpaid_served"]) == (1, 1, 4550, 0)
    assert (money["unmatched_count"], money["received_ksh"]) == (0, 4550)


def test_money_that_arrives_after_the_clerk_took_cash_is_still_recorded(pay_server, mpesa_sim):
    mpesa_sim.control(delay_s=3.0)
    t = issue(pay_server)
    start(pay_server, t["id"], PAID_PHONE)
    clerk = pay_server.client(pay_server.login("clerk"))
    r = clerk.post(f"/api/v1/tickets/{t['id']}/payment/cash", json={"reason": "Paid cash, phone battery died"})
    assert r.json()["state"] == "cash"
    push = wait_until(lambda: (p := mpesa_sim.push_for(t["number"]))["callbacks_sent"] and p, timeout=10,
                      what="the late callback")
    states = dict(db_rows(pay_server, "SELECT method, state FROM payments WHERE ticket_id=?", (t["id"],)))
    assert states == {"mpesa": "paid", "cash": "cash"}  # paid twice: the reconciliation shows it, for a refund
    assert payment(pay_server, t["id"])["state"] in ("cash", "paid")
    assert db_rows(pay_server, "SELECT receipt FROM payments WHERE method='mpesa' AND ticket_id=?",
                   (t["id"],))[0][0] == push["receipt"]


def test_m_pesa_out_of_reach_is_a_failed_prompt_with_its_reason_never_a_server_error(pay_server, mpesa_sim):
    t = issue(pay_server)
    mpesa_sim.proc.terminate()  # the gateway's link is down
    mpesa_sim.proc.wait(10)
    r = start(pay_server, t["id"], PAID_PHONE)
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["state"], p["reason_code"]) == ("failed", "unreachable_gateway")
    assert (p["reason_en"], p["reason_sw"]) == ("M-Pesa could not be reached", "M-Pesa haikupatikana")
    assert [e["state"] for e in payment_events(pay_server, t["id"])] == ["failed"]
    assert "Traceback" not in pay_server.log_path.read_text()


def availability(server) -> dict:
    r = httpx.get(f"{server.url}/api/v1/payments/availability", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_availability_says_whether_a_prompt_can_leave_and_follows_m_pesa_going_and_coming_back(
        pay_server, mpesa_sim, tmp_path):
    """What a kiosk asks at start and on reconnecting before it offers "Pay now": M-Pesa in reach, asked with an
    OAuth token (no charge, no phone rings), lost when the gateway's link goes, found again when it returns."""
    a = availability(pay_server)
    assert a["mpesa"] is True and a["reason_code"] is None and a["checked_at"]
    assert not [r for r in mpesa_sim.requests()]  # asking is not a prompt
    port = int(mpesa_sim.url.rsplit(":", 1)[1])
    mpesa_sim.proc.terminate()  # the gateway's link is down
    mpesa_sim.proc.wait(10)
    down = wait_until(lambda: (x := availability(pay_server))["mpesa"] is False and x, timeout=30,
                      what="the centre noticing M-Pesa out of reach")
    assert (down["reason_code"], down["reason_en"], down["reason_sw"]) == (
        "unreachable_gateway", "M-Pesa could not be reached", "M-Pesa haikupatikana")
    mpesa_sim.proc = start_sim(port, tmp_path / "mpesa-sim-again.log")  # the link is back
    wait_until(lambda: availability(pay_server)["mpesa"] is True, timeout=30, what="M-Pesa in reach again")
    t = issue(pay_server)
    assert start(pay_server, t["id"], PAID_PHONE).json()["state"] == "pending"
    assert "Traceback" not in pay_server.log_path.read_text()


def test_availability_of_a_centre_without_m_pesa(payments_off_env, pay_server, mpesa_sim):
    a = availability(pay_server)
    assert (a["mpesa"], a["reason_code"]) == (False, "payments_off")
    assert (a["reason_en"], a["reason_sw"]) == ("M-Pesa is not taken at this centre",
                                                "M-Pesa haipokelewi katika kituo hiki")
    assert httpx.post(f"{pay_server.url}/api/v1/payments/availability", timeout=10).status_code == 405
