"""Rows of the centre database to and from the engine's objects: one mapping, used by loading, committing and admin."""

from __future__ import annotations

import json
from typing import Any

from centre_server.contract import Channel, CounterState, Language, Priority, TicketState
from centre_server.queue.model import Counter, Service, Ticket
from centre_server.queue.visits import from_json as visit_from_json, parse_then, to_json as visit_json

SERVICE_COLS = ["id", "prefix", "name_en", "name_sw", "category", "category_sw", "target_wait_s",
                "service_time_s", "enabled", "position", "outcomes", "then_services"]
COUNTER_COLS = ["id", "name", "services", "state", "ticket_id", "clerk", "priority_streak",
                "idle_since", "last_ticket_id", "position"]
TICKET_COLS = ["id", "day", "seq", "number", "service_id", "priority", "channel", "language", "phone",
               "state", "issued_at", "queued_at", "called_at", "first_called_at", "started_at",
               "ended_at", "counter_id", "clerk", "recalls", "transfers", "outcome", "rating",
               "comment", "no_show_at", "cancel_reason", "idempotency_key", "device_id",
               "estimated_wait_s", "checked_in", "slot_at", "appointment_id",
               "outcome_reason", "parked_at", "park_note", "visit", "passed_over_at"]


def service_row(s: Service) -> dict[str, Any]:
    return {"id": s.id, "prefix": s.prefix, "name_en": s.name_en, "name_sw": s.name_sw,
            "category": s.category, "category_sw": s.category_sw, "target_wait_s": s.target_wait_s,
            "service_time_s": s.service_time_s, "enabled": int(s.enabled), "position": s.position,
            "outcomes": json.dumps(list(s.outcomes if s.menu_outcomes is None else s.menu_outcomes)),
            "then_services": " ".join(s.then)}


def service_from_row(r: dict[str, Any]) -> Service:
    return Service(id=r["id"], prefix=r["prefix"], name_en=r["name_en"], name_sw=r["name_sw"],
                   category=r["category"] or "", category_sw=r["category_sw"] or "",
                   target_wait_s=int(r["target_wait_s"]), service_time_s=float(r["service_time_s"]),
                   enabled=bool(r["enabled"]), position=int(r["position"] or 0),
                   outcomes=tuple(json.loads(r.get("outcomes") or "[]")),
                   then=parse_then(r.get("then_services")))


def counter_row(c: Counter, position: int = 0) -> tuple:
    return (c.id, c.name, json.dumps(c.services), c.state.value, c.ticket_id, c.clerk,
            c.priority_streak, c.idle_since, c.last_ticket_id, position)


def counter_from_row(r: dict[str, Any]) -> Counter:
    return Counter(id=r["id"], name=r["name"], services=json.loads(r["services"] or "[]"),
                   state=CounterState(r["state"]), ticket_id=r["ticket_id"], clerk=r["clerk"],
                   priority_streak=int(r["priority_streak"] or 0), idle_since=r["idle_since"],
                   last_ticket_id=r["last_ticket_id"])


def ticket_row(t: Ticket) -> tuple:
    return (t.id, t.day, t.seq, t.number, t.service_id, t.priority.value, t.channel.value,
            t.language.value, t.phone, t.state.value, t.issued_at, t.queued_at, t.called_at,
            t.first_called_at, t.started_at, t.ended_at, t.counter_id, t.clerk, t.recalls,
            json.dumps(t.transfers), t.outcome, t.rating, t.comment, t.no_show_at, t.cancel_reason,
            t.idempotency_key, t.device_id, t.estimated_wait_s, int(t.checked_in), t.slot_at,
            t.appointment_id, t.outcome_reason, t.parked_at, t.park_note, visit_json(t.visit),
            t.passed_over_at)


def ticket_from_row(r: dict[str, Any]) -> Ticket:
    return Ticket(
        id=r["id"], day=r["day"], seq=int(r["seq"]), number=r["number"], service_id=r["service_id"],
        priority=Priority(r["priority"]), channel=Channel(r["channel"]),
        language=Language(r["language"]), issued_at=r["issued_at"], queued_at=r["queued_at"],
        state=TicketState(r["state"]), phone=r["phone"], called_at=r["called_at"],
        first_called_at=r["first_called_at"], started_at=r["started_at"], ended_at=r["ended_at"],
        counter_id=r["counter_id"], clerk=r["clerk"], recalls=int(r["recalls"] or 0),
        transfers=json.loads(r["transfers"] or "[]"), outcome=r["outcome"], rating=r["rating"],
        comment=r["comment"], no_show_at=r["no_show_at"], cancel_reason=r["cancel_reason"],
        idempotency_key=r["idempotency_key"], device_id=r["device_id"],
        estimated_wait_s=None if r["estimated_wait_s"] is None else int(r["estimated_wait_s"]),
        checked_in=bool(r.get("checked_in", 1)),
        slot_at=r.get("slot_at"), appointment_id=r.get("appointment_id"),
        outcome_reason=r.get("outcome_reason"), parked_at=r.get("parked_at"), park_note=r.get("park_note"),
        visit=visit_from_json(r.get("visit")), passed_over_at=r.get("passed_over_at"))


# Columns a ticket never changes once issued, each in an index: an update that leaves them out
# rewrites two indexes instead of six (INSERT OR REPLACE deleted and re-inserted every one), so a
# call writes a third of the pages to the WAL, and its fsync is shorter.
