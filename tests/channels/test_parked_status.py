"""A citizen sent to fetch a document (parked) asks USSD for their ticket: it is still theirs, and they will be
called again; before, USSD answered "You have no ticket waiting today". The real server, both languages."""

from __future__ import annotations

from tests.channels.conftest import clerk, kiosk_ticket
from tests.channels.test_closing import ussd_screen


def test_ussd_my_ticket_while_parked(channel_server, new_phone):
    c = clerk(channel_server)
    assert c.post("/api/v1/counters/c15/open", json={"services": ["sha-registration"]}).status_code == 200
    try:
        for answer, words in (("1", "bring what the clerk asked for, then wait: you will be called again"),
                              ("2", "leta ulichoombwa na karani, kisha subiri: utaitwa tena")):
            phone = new_phone()
            ticket = kiosk_ticket(channel_server, "sha-registration", phone)
            called = c.post("/api/v1/counters/c15/call-next")
            assert called.status_code == 200 and called.json()["id"] == ticket["id"], called.text
            assert c.post("/api/v1/counters/c15/park", json={"note": "bring the KRA PIN"}).status_code == 200
            status = ussd_screen(channel_server, phone, [answer, "2"])
            assert status.startswith("END ") and f"{ticket['number']}: {words}." in status, status
            assert "no ticket" not in status and "Huna tiketi" not in status
            back = c.post(f"/api/v1/counters/c15/call-parked/{ticket['id']}")
            assert back.status_code == 200, back.text
            again = ussd_screen(channel_server, phone, [answer, "2"])
            assert "15" in again and words not in again, again  # called back: go to the counter now
            assert c.post("/api/v1/counters/c15/no-show").status_code in (200, 409)
    finally:
        c.post("/api/v1/counters/c15/close")
