"""Paying the fee at the kiosk (issue 20): the real kiosk under Xvfb, a real centre server process whose
payments go to a real ``huduma-mpesa-sim`` process over HTTP, and the paper decoded from its ESC/POS bytes.

The simulated citizen's answer is chosen by the phone's last digit (mpesa_sim/app.py): 0 pays,
2 cancels on the phone, 3 never answers (the kiosk prints "pending" when the citizen stops waiting).
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import wait_until
from tests.kiosk.conftest import ARTIFACTS, kiosk_config
from tests.kiosk.escpos_decode import decode, render
from tests.payments.conftest import mpesa_sim, pay_server, payments_off_env, start_sim  # noqa: F401 - fixtures
from tests.payments.test_payments import availability

pytestmark = pytest.mark.timeout(400)


def payment_of(server, ticket_id: str) -> dict:
    r = httpx.get(f"{server.url}/api/v1/tickets/{ticket_id}/payment", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def printed(path, tag: str) -> list[str]:
    ticket = decode(path.read_bytes())
    render(ticket).save(ARTIFACTS / f"kiosk-printed-pay-{tag}.png")
    return ticket.texts


def run_pay(pay_server, mosquitto, tmp_path, run_kiosk, phone: str, tag: str,  # noqa: F811
            **env) -> tuple[dict, list[str]]:
    """The pay_mpesa scenario; a DISPLAY given (a bare X screen of its own size) runs full-screen on it."""
    tickets = tmp_path / f"tickets-{tag}.bin"
    config = kiosk_config(pay_server, mosquitto, tmp_path, {"kind": "file", "path": str(tickets)},
                          fullscreen="DISPLAY" in env)
    run = run_kiosk(config, "pay_mpesa", env={"KIOSK_PAY_PHONE": phone, "KIOSK_TAG": tag, **env})
    data = run.result(timeout=200)["data"]
    (ARTIFACTS / f"pay-{tag}.json").write_text(json.dumps(data, indent=1, default=str))
    assert data["confirm_bad"] == [], data["confirm_bad"]  # the confirmation with its fee line, in every mode
    return data, printed(tickets, tag)


def test_paid_at_the_kiosk_prints_the_receipt(pay_server, mpesa_sim, mosquitto, tmp_path, run_kiosk):  # noqa: F811
    data, paper = run_pay(pay_server, mosquitto, tmp_path, run_kiosk, "0712345670", "paid-en")
    assert data["fee_text"] == "Fee: KSh 1,050"  # the catalogue's fee for good conduct
    assert data["choice_texts"] == ["Pay now with M-Pesa", "Pay at the counter"]
    assert all(data["fits"]) and all(data["paying_fits"]), data
    assert data["invalid_refused"] is True
    assert data["sms_phone_offered"] == "0712345670"
    assert "KSh 1,050" in data["confirm_text"] and "M-Pesa" in data["confirm_text"]
    assert "M-Pesa PIN" in data["paying_text"] or data["payment"]["state"] == "paid"

    ticket = data["ticket"]
    server_side = payment_of(pay_server, ticket["id"])
    assert server_side["state"] == "paid" and server_side["amount_ksh"] == 1050
    receipt = server_side["receipt"]
    assert receipt and data["payment"] == {"state": "paid", "receipt": receipt, "choice": "mpesa"}
    # the simulator was asked for the catalogue's amount, for this ticket, on the typed phone
    push = mpesa_sim.push_for(ticket["number"])["request"]
    assert push["Amount"] == 1050 and push["PhoneNumber"] == "254712345670"
    # the screen and the paper say the receipt number
    assert receipt in data["ticket_text"]
    assert "Fee: KSh 1,050" in paper  # the catalogue's fee line, then what came of it
    assert "PAID BY M-PESA" in paper and f"M-Pesa receipt: {receipt}" in paper, paper
    assert ticket["number"] in paper


def test_cancelled_in_kiswahili_prints_pay_at_the_counter(pay_server, mpesa_sim, mosquitto, tmp_path,  # noqa: F811
                                                          run_kiosk, screen_of):
    """The hardest fit: Kiswahili, large text, a floor-standing kiosk's portrait screen."""
    data, paper = run_pay(pay_server, mosquitto, tmp_path, run_kiosk, "0712345672", "failed-sw",
                          KIOSK_START="start_sw", KIOSK_MODE="large_text", DISPLAY=screen_of(1080, 1920))
    assert data["fee_text"] == "Ada: KSh 1,050"
    assert data["choice_texts"] == ["Lipa sasa kwa M-Pesa", "Lipa kwenye kaunta"]
    assert all(data["fits"]) and all(data["paying_fits"]), data
    assert data["modes"]["text_scale"] > 1 and data["modes"]["portrait"] is True
    server_side = payment_of(pay_server, data["ticket"]["id"])
    assert server_side["state"] == "failed" and server_side["reason_code"] == "1032"
    assert data["payment"]["state"] == "failed"
    words = "Malipo hayakufanikiwa (Imesitishwa kwenye simu): lipa kwenye kaunta."
    assert any("Malipo hayakufanikiwa" in line for line in paper), paper
    assert " ".join(paper).count("lipa kwenye kaunta") == 1, paper
    assert "Imesitishwa kwenye simu" in data["ticket_text"], (data["ticket_text"], words)


def test_print_now_pay_later_does_not_hold_the_kiosk(pay_server, mpesa_sim, mosquitto, tmp_path,  # noqa: F811
                                                     run_kiosk, screen_of):
    """All three modes on a landscape screen: the confirmation's fee line fits beside "Print my ticket"."""
    mpesa_sim.control(timeout_s=30)  # this citizen never answers the prompt (last digit 3)
    data, paper = run_pay(pay_server, mosquitto, tmp_path, run_kiosk, "0712345673", "later-en",
                          KIOSK_PRINT_NOW="1", KIOSK_MODE="high_contrast,large_text,low_layout",
                          DISPLAY=screen_of(1280, 800))
    assert data["payment"]["state"] == "later" and data["modes"]["high_contrast"] is True
    assert payment_of(pay_server, data["ticket"]["id"])["state"] == "pending"  # the prompt still counts
    assert "Fee: KSh 1,050" in paper and any(line.startswith("M-Pesa payment pending") for line in paper), paper


def test_paid_by_the_query_prints_receipt_to_follow(pay_server, mpesa_sim, mosquitto, tmp_path,  # noqa: F811
                                                    run_kiosk):
    """M-Pesa's callback lost: the centre's STK query settles the payment, whose answer has no receipt number.
    The screen and the paper say paid, receipt to follow (never a made-up number); the ticket's page (its QR
    code) shows the number once the late callback brings it."""
    mpesa_sim.control(lose_callbacks=True)
    data, paper = run_pay(pay_server, mosquitto, tmp_path, run_kiosk, "0712345670", "to-follow-en")
    server_side = payment_of(pay_server, data["ticket"]["id"])
    assert server_side["state"] == "paid" and server_side["receipt"] is None and server_side["receipt_to_follow"]
    assert data["payment"] == {"state": "paid", "receipt": "", "choice": "mpesa"}
    assert "receipt number to follow" in data["ticket_text"]
    assert "PAID BY M-PESA" in paper, paper
    assert "M-Pesa receipt: to follow (your ticket's page shows it)" in " ".join(paper), paper


def test_a_centre_without_mpesa_never_offers_it(payments_off_env, pay_server, mpesa_sim, mosquitto,  # noqa: F811
                                                 tmp_path, run_kiosk):
    """[payments] off: the kiosk learns it at start (GET /payments/availability), so even the first citizen
    is never asked "pay now or at the counter": after priority comes the SMS phone, and nothing reaches M-Pesa."""
    config = kiosk_config(pay_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    data = run_kiosk(config, "pay_unavailable", env={"KIOSK_TAG": "off-en"}).result(timeout=200)["data"]
    assert data["first_after_priority"] == "phone"
    assert mpesa_sim.requests() == []


def test_mpesa_out_of_reach_is_not_offered_until_it_comes_back(pay_server, mpesa_sim, mosquitto,  # noqa: F811
                                                               tmp_path, run_kiosk):
    """M-Pesa's link down when the kiosk starts: no "Pay now" for anyone; the link back, the kiosk asks again
    when its own link reconnects, and the next citizen is offered M-Pesa."""
    port = int(mpesa_sim.url.rsplit(":", 1)[1])
    mpesa_sim.proc.terminate()
    mpesa_sim.proc.wait(10)
    wait_until(lambda: availability(pay_server)["mpesa"] is False, timeout=30, what="the centre noticing")
    config = kiosk_config(pay_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")})
    run = run_kiosk(config, "pay_unavailable", env={"KIOSK_TAG": "unreachable-en", "KIOSK_AGAIN": "1"})
    run.wait_mark("first", timeout=200)
    mpesa_sim.proc = start_sim(port, tmp_path / "mpesa-sim-again.log")  # M-Pesa's link is back
    data = run.result(timeout=200)["data"]
    assert data["first_after_priority"] == "phone"
    assert data["second_after_priority"] == "pay_choice"
