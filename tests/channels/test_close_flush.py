"""The day close sends its own messages before it erases the numbers (``OutboxWorker.flush``), and a gateway
that is down cannot hold the close: the flush stops at the first message it fails to take, while a number
the gateway refuses for good (blacklisted) is passed over. A real SQLite outbox, the real Africa's Talking
client, and the fake aggregator on loopback; no worker thread, so what each message saw is exact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from centre_server.channels.settings import ChannelSettings
from centre_server.channels.sms import AfricasTalkingGateway, OutboxWorker
from centre_server.store import database as storage
from tests.channels.conftest import API_KEY, FakeAggregator


@pytest.fixture
def outbox(tmp_path) -> Iterator[tuple[OutboxWorker, FakeAggregator]]:
    agg = FakeAggregator()
    db = storage.connect(tmp_path / "centre.db")
    worker = OutboxWorker(db, AfricasTalkingGateway(agg.url, "sandbox", API_KEY, timeout=5), ChannelSettings())
    yield worker, agg
    worker.gateway.close()
    db.conn.close()
    agg.close()


def queue(worker: OutboxWorker, key: str, phone: str, kind: str) -> None:
    worker.db.execute("INSERT INTO sms_outbox(key, phone, text, kind, ticket_id, next_attempt_at, created_at) "
                      "VALUES (?, ?, ?, ?, NULL, ?, ?)", [key, phone, f"Huduma: {key}", kind, 9e9, 0])


def rows(worker: OutboxWorker) -> dict[str, tuple]:
    return {k: (a, s is not None, f is not None) for k, a, s, f in worker.db.execute(
        "SELECT key, attempts, sent_at, failed_at FROM sms_outbox").fetchall()}


def test_the_close_sends_its_messages_now_past_a_refused_number(outbox):
    worker, agg = outbox
    agg.blacklisted.add("+254711000002")
    queue(worker, "a", "+254711000001", "day_closed")  # not due for hours: the close sends it anyway
    queue(worker, "b", "+254711000002", "day_closed")  # refused for good: given up, the next still goes
    queue(worker, "c", "+254711000003", "day_closed")
    queue(worker, "other", "+254711000004", "called")  # not the close's: left to the worker
    assert worker.flush("day_closed") == 2
    assert rows(worker) == {"a": (1, True, False), "b": (1, False, True), "c": (1, True, False),
                            "other": (0, False, False)}
    assert [m["to"] for m in agg.sent] == ["+254711000001", "+254711000003"]


def test_a_gateway_that_is_down_does_not_hold_the_close(outbox):
    worker, agg = outbox
    agg.fail_next = 100
    for k in "defg":
        queue(worker, k, "+25471100001" + str("defg".index(k)), "day_closed")
    assert worker.flush("day_closed") == 0
    # one attempt, then it stops: the rest would each wait the gateway's timeout while the close waits
    assert rows(worker) == {"d": (1, False, False), "e": (0, False, False), "f": (0, False, False),
                            "g": (0, False, False)}
    assert agg.requests == 1
