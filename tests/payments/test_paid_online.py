"""A fee paid on eCitizen when applying is never asked for again (finding 2): the shipped catalogue's passport
against a real centre server process with M-Pesa on; and a centre-paid fee beside it still prompts."""

from __future__ import annotations

import httpx

from tests.payments.conftest import serve_at_counter
from tests.payments.test_payments import PAID_PHONE, issue, payment, settled, start


def test_a_fee_paid_on_ecitizen_is_never_prompted_taken_or_counted_due(pay_server, mpesa_sim, shipped_fees):
    info = httpx.get(f"{pay_server.url}/api/v1/catalogue/passport", timeout=10).json()
    fee = info["service"]["fee"]
    assert (fee["paid"], fee["varies"]) == ("online", True)  # 34, 50 or 66 pages: the note says each amount

    t = issue(pay_server, "passport")
    p = payment(pay_server, t["id"])
    assert (p["state"], p["paid_online"], p["offer_prompt"]) == ("not_needed", True, False), p
    r = start(pay_server, t["id"], PAID_PHONE)
    assert r.status_code == 409 and r.json()["error"]["code"] == "paid_online", r.text
    assert "eCitizen" in r.json()["error"]["message"] and "eCitizen" in r.json()["error"]["message_sw"]
    assert mpesa_sim.requests() == []  # no prompt ever left for it

    clerk = pay_server.client(pay_server.login("clerk"))
    for how in ("cash", "waiver"):  # taking it at the counter would charge the citizen twice
        r = clerk.post(f"/api/v1/tickets/{t['id']}/payment/{how}", json={"reason": "Receipt book 7"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "paid_online", r.text

    for lang, words, pay in (("en", "Paid on eCitizen when you apply: bring the receipt", "how will you pay?"),
                             ("sw", "Hulipwa kwenye eCitizen unapoomba: leta risiti", "utalipa vipi?")):
        page = httpx.get(f"{pay_server.url}/join?service=passport&lang={lang}", timeout=10)
        assert page.status_code == 200
        assert words in page.text and pay not in page.text, lang  # never "Fee KSh 4,550: how will you pay?"

    # served, the day closed: nothing of it is due at the centre, so the reconciliation has no passport line
    serve_at_counter(clerk, t["id"])
    manager = pay_server.client(pay_server.login("manager"))
    closed = manager.post("/api/v1/day/close")
    assert closed.status_code == 200, closed.text
    summary = manager.get(f"/api/v1/day/summaries/{closed.json()['date']}").json()
    money = summary.get("payments") or (summary.get("summary") or {}).get("payments")
    # a day with nothing owed or paid sends no reconciliation at all; the old catalogue owed 4,550 here
    assert money is None or "passport" not in {r["service_id"] for r in money["services"]}, money


def test_a_fee_paid_at_the_centre_still_prompts(pay_server, mpesa_sim):
    """The same server code with a catalogue whose passport fee is paid at the centre (``CENTRE_PAID``)."""
    t = issue(pay_server, "passport")
    assert payment(pay_server, t["id"])["paid_online"] is False
    assert start(pay_server, t["id"], PAID_PHONE).status_code == 200
    assert settled(pay_server, t["id"])["state"] == "paid"
