"""The typed events: every type has its model, and the log's JSON and the MQTT payload keep their shape."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from centre_server.contract import (
    AnyEvent,
    Channel,
    EventType,
    Language,
    Priority,
    TicketIssued,
    event_from_data,
    event_json,
)
from centre_server.menu import builtin_menu, demo_counters
from centre_server.queue import engine
from centre_server.runtime import projections

TZ = "Africa/Nairobi"
NOON = 1795510800.0  # 2026-11-24 12:00 in Nairobi, a Tuesday


def _day() -> list[engine.Event]:
    state = engine.new_state(builtin_menu(), demo_counters(), engine.Policy(timezone=TZ))
    svc, cid = next(iter(state.services)), next(iter(state.counters))
    commands: list[engine.Command] = [
        engine.OpenCounter(cid, clerk="amina"),
        engine.IssueTicket("X1", svc, priority=Priority.elderly, channel=Channel.sms, language=Language.sw,
                           phone="0712345678", idempotency_key="k1", checked_in=False),
        engine.CheckIn("X1"), engine.CallNext(cid), engine.Recall(cid), engine.StartService(cid),
        engine.GiveFeedback(rating=4, counter_id=cid, comment="ok"), engine.SetNotice("hello", "habari"),
        engine.IssueTicket("X5", svc, channel=Channel.web, checked_in=False),  # passed over at the next call
        engine.IssueTicket("X2", svc), engine.CancelTicket("X2", reason="left"), engine.IssueTicket("X3", svc),
        engine.CallNext(cid), engine.MarkNoShow(cid), engine.Reactivate("X3"), engine.CallNext(cid),
        engine.ParkTicket(cid, "copy of ID"), engine.CallParked(cid, "X3"),
        engine.Transfer(cid, [s for s in state.services if s != svc][0]), engine.PauseCounter(cid),
        engine.ResumeCounter(cid),
        engine.IssueTicket("X4", svc, then=("kra-pin", "sha-registration")), engine.CallNext(cid),
        engine.ChangeVisit(cid, ("kra-pin",)), engine.Complete(cid),
        engine.SetCounterServices(cid, (svc,)), engine.CloseCounter(cid),
        engine.SuspendService(svc, "The agency's system is down", "Mfumo wa shirika haufanyi kazi", by="mgr"),
        engine.ResumeService(svc, by="mgr"),
        engine.RecordPayment("X1", state="paid", amount_ksh=200, method="mpesa", receipt="SLK4XM2P9Q"),
        engine.CloseDay(), engine.ReopenDay(), engine.Tick(),
    ]
    log: list[engine.Event] = []
    for i, cmd in enumerate(commands):
        log += engine.apply(state, cmd, NOON + 60 * i)
    log += engine.apply(state, engine.Tick(), NOON + 86400)  # midnight: the day rolls over
    return log


def test_every_event_type_is_emitted_typed_and_reads_back_as_written() -> None:
    log = _day()
    assert {ev.type for ev in log} == set(EventType)
    for ev in log:
        stored = event_json(ev.data)
        back: AnyEvent = event_from_data(ev.type.value, json.loads(stored))
        assert back == ev.data and event_json(back) == stored


def test_the_log_and_mqtt_keep_their_keys_in_their_order() -> None:
    issued = next(ev for ev in _day() if isinstance(ev.data, TicketIssued))
    assert list(json.loads(event_json(issued.data))) == [
        "ticket_id", "number", "seq_no", "day", "service_id", "priority", "channel", "language", "phone",
        "idempotency_key", "device_id", "position", "estimated_wait_s", "checked_in", "slot_at", "appointment_id",
        "people_ahead"]
    assert '"priority":"elderly","channel":"sms","language":"sw","phone":"0712345678"' in event_json(issued.data)
    wire = json.loads(projections.event_payload(issued, ZoneInfo(TZ)).to_bytes())
    assert list(wire)[:9] == ["type", "seq", "at", "ticket_id", "number", "service_id", "counter_id",
                              "counter_name", "priority"]
    assert "phone" not in wire and "idempotency_key" not in wire and wire["ticket_id"] != "X1"


def test_an_old_log_without_the_later_fields_still_loads() -> None:
    old = {"ticket_id": "T1", "number": "A001", "seq_no": 1, "day": "2025-01-02", "service_id": "s",
           "priority": "none", "channel": "kiosk", "language": "en", "phone": None, "idempotency_key": None,
           "device_id": None, "position": 0, "estimated_wait_s": 300}
    ev = event_from_data("ticket_issued", old)
    assert isinstance(ev, TicketIssued) and ev.checked_in is True and ev.slot_at is None
    assert ev.priority is Priority.none and ev.channel is Channel.kiosk
    called = event_from_data("ticket_called", {"ticket_id": "T1", "number": "A001", "service_id": "s",
                                               "priority": "elderly", "counter_id": "c01", "counter_name": "1",
                                               "clerk": None, "waited_s": 5})
    assert called.jumped is None  # type: ignore[union-attr]  # the engine decides from the priority
