"""The ticket SMS of a fee paid now (findings 9): the kiosk sends the M-Pesa prompt just after the ticket, so
the ticket SMS must not invite a payment on the ticket page while that prompt is on the phone. A real centre
server and M-Pesa simulator; the SMS as the centre's outbox holds them once sent (the "log" gateway)."""

from __future__ import annotations

from tests.conftest import wait_until
from tests.payments.conftest import db_rows
from tests.payments.test_payments import PAID_PHONE, settled, start


def kiosk_ticket(server, phone: str, language: str) -> dict:
    kiosk = server.client(server.centre.bundle("kiosk-1")["token"])
    r = kiosk.post("/api/v1/tickets", json={"service_id": "passport", "phone": phone, "language": language})
    assert r.status_code == 201, r.text
    return r.json()


def sent_texts(server, ticket_id: str) -> list[str]:
    """The ticket's SMS in the order they went, once none is waiting any more."""
    def all_sent() -> list[str] | None:
        rows = db_rows(server, "SELECT text, sent_at FROM sms_outbox WHERE ticket_id=? ORDER BY sent_at, id",
                       (ticket_id,))
        return [t for t, _ in rows] if rows and all(s is not None for _, s in rows) else None
    return wait_until(all_sent, timeout=60, what="the ticket's SMS sent")


def test_a_prompt_sent_with_the_ticket_is_what_its_sms_says(pay_server, mpesa_sim):
    for lang, prompt, invite, ahead in (
            ("en", "an M-Pesa prompt has been sent to your phone", "Pay by M-Pesa on", " ahead"),
            ("sw", "ombi la M-Pesa limetumwa kwenye simu yako", "Lipa kwa M-Pesa kwenye", " mbele")):
        t = kiosk_ticket(pay_server, PAID_PHONE, lang)
        assert start(pay_server, t["id"], PAID_PHONE).status_code == 200
        assert settled(pay_server, t["id"])["state"] == "paid"
        wait_until(lambda: len(db_rows(pay_server, "SELECT 1 FROM sms_outbox WHERE ticket_id=? AND kind='payment'",
                                       (t["id"],))) == 1, timeout=30, what="the paid SMS queued")
        texts = sent_texts(pay_server, t["id"])
        told = [m for m in texts if "KSh 4,550" in m]
        # the ticket (people ahead, the wait, its page), then the prompt sent, then paid: never "pay on the page"
        assert ahead in texts[0] and "/t/" in texts[0], texts
        assert prompt in told[0] and "4,550" in told[0], texts
        assert not any(invite.lower() in m.lower() for m in texts), texts
        assert ("paid" if lang == "en" else "imelipwa") in told[-1], texts
        assert all(len(m) <= 160 for m in texts), texts


def test_no_prompt_then_the_sms_says_where_to_pay(pay_server, mpesa_sim):
    """Paying at the counter (no prompt): the held ticket SMS goes as written, the ticket page or the counter."""
    t = kiosk_ticket(pay_server, "0712345670", "en")
    texts = sent_texts(pay_server, t["id"])
    assert " ahead" in texts[0], texts
    fee = [m for m in texts if "KSh 4,550" in m]
    assert fee and ("Pay by M-Pesa on" in fee[0] or "pay by M-Pesa on that page" in fee[0]), texts
    assert not any("prompt has been sent" in m for m in texts), texts
    assert all(p["request"]["AccountReference"] != t["number"] for p in mpesa_sim.requests())
