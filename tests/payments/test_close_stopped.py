"""The day closed on a stopped server (``huduma-centre close-day DIR``) texts the citizens still waiting, as the
running server's close does, before it erases their numbers.

Found walking an evening: the manager stopped the server, then closed the day from the command line; the two
citizens still waiting (one of them had paid KSh 4,550 by M-Pesa) heard nothing, and their numbers were erased.
Here a real server and the M-Pesa simulator for the day, then the real command on the stopped directory; the SMS
go through the demo gateway (its log), as the server's would.
"""

from __future__ import annotations

import json
import subprocess

from tests.conftest import BIN, wait_until
from tests.payments.conftest import db_rows
from tests.payments.test_payments import PAID_PHONE, payment, settled
from tests.payments.test_refund_due import WAITING_PHONE, close_texts, join, sms_lines


def test_a_close_on_the_stopped_server_texts_who_still_waits_then_erases(pay_server, mpesa_sim):
    owed = join(pay_server, PAID_PHONE, "en", pay=True)  # pays by M-Pesa on /join, never called
    unpaid = join(pay_server, WAITING_PHONE, "sw", pay=False)
    assert settled(pay_server, owed)["state"] == "paid"
    receipt = wait_until(lambda: payment(pay_server, owed)["receipt"], timeout=15, what="the receipt")
    number = {t: payment(pay_server, t)["number"] for t in (owed, unpaid)}
    before = len(sms_lines(pay_server))
    pay_server.stop()

    out = subprocess.run([str(BIN / "huduma-centre"), "close-day", str(pay_server.centre.path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["cancelled"], result["sms_sent"], result["sms_not_sent"]) == (2, 3, 0), result

    new = sms_lines(pay_server)[before:]
    texts = [text for _, text in new]
    closed_en, refund_en, closed_sw = close_texts(texts, number[owed], number[unpaid], receipt)
    assert len(texts) == 3 and all(len(t) <= 160 for t in texts), texts
    # sent, then erased: the log keeps no number, nor does any table
    assert all(phone == "[erased]" for phone, text in new if text in (closed_en, refund_en, closed_sw))
    outbox = db_rows(pay_server, "SELECT phone, sent_at IS NOT NULL FROM sms_outbox WHERE kind='day_closed'")
    assert sorted(outbox) == [("", 1)] * 3, outbox
    assert db_rows(pay_server, "SELECT COUNT(*) FROM tickets WHERE phone IS NOT NULL")[0][0] == 0

    # closed again: nothing is cancelled, nobody is texted twice
    again = subprocess.run([str(BIN / "huduma-centre"), "close-day", str(pay_server.centre.path)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "SMS to citizens" not in again.stdout and len(sms_lines(pay_server)) == before + 3

    # nothing is left in the outbox for the server to send the next time it starts (no "closed" SMS next morning)
    assert db_rows(pay_server, "SELECT COUNT(*) FROM sms_outbox WHERE sent_at IS NULL AND failed_at IS NULL "
                               "AND phone != ''")[0][0] == 0
    pay_server.start()
    assert payment(pay_server, owed)["refund_due"] is True
