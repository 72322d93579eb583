"""The SMS a citizen gets when the fee is paid (issue 20), through the real channels hub and centre on a
SQLite file: a payment the STK query settled has no receipt number yet, so the first SMS says it follows,
and the late callback's receipt comes in one SMS of its own; a duplicate callback sends nothing more."""

from __future__ import annotations

from centre_server.channels.core import ChannelHub
from centre_server.channels.settings import ChannelSettings
from centre_server.config import load_settings
from centre_server.contract import Channel, Language
from centre_server.queue import engine
from centre_server.runtime.centre import Centre
from tests.channels.test_phone_erasure import Clock, at

PHONE = "+254712345678"


def texts(hub: ChannelHub, ticket_id: str) -> list[str]:
    return [r[0] for r in hub.db.execute("SELECT text FROM sms_outbox WHERE ticket_id=? AND kind='payment' "
                                         "ORDER BY rowid", [ticket_id]).fetchall()]


def test_paid_without_a_receipt_then_the_receipt_alone(centre_dir) -> None:
    centre = Centre(load_settings(centre_dir.path), clock=Clock(at(9, 0)))
    hub = ChannelHub(centre, ChannelSettings(sms_gateway="log"), centre_dir.path)
    try:
        for tid, lang in (("pay-en", Language.en), ("pay-sw", Language.sw), ("pay-cb", Language.en)):
            centre.execute(engine.IssueTicket(tid, "passport", channel=Channel.sms, language=lang, phone=PHONE,
                                              checked_in=False))
        for tid in ("pay-en", "pay-sw"):  # settled by the query: no receipt yet
            centre.execute(engine.RecordPayment(tid, state="paid", amount_ksh=4550, method="mpesa"))
        [first] = texts(hub, "pay-en")
        assert first.endswith("fee KSh 4,550 paid. The M-Pesa receipt number follows."), first
        assert "Namba ya risiti ya M-Pesa itafuata." in texts(hub, "pay-sw")[0]
        for _ in range(2):  # the late callback, and Daraja's retry of it
            centre.execute(engine.RecordPayment("pay-en", state="paid", amount_ksh=4550, method="mpesa",
                                                receipt="SLK4XM2P9Q"))
        sent = texts(hub, "pay-en")
        assert len(sent) == 2 and "M-Pesa receipt SLK4XM2P9Q for your fee of KSh 4,550" in sent[1], sent
        # paid with its receipt at once (the callback came first): one SMS with the number
        centre.execute(engine.RecordPayment("pay-cb", state="paid", amount_ksh=4550, method="mpesa",
                                            receipt="SLK4XM2P9R"))
        [one] = texts(hub, "pay-cb")
        assert "fee KSh 4,550 paid. M-Pesa receipt SLK4XM2P9R." in one and "-" not in one.split("receipt")[1]
        assert all(len(t) <= 160 for t in sent + [one])
    finally:
        hub.stop()
        centre.close()
