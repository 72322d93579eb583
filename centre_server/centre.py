"""The running centre: the engine's state, its database, and who hears of each change.

``Centre.execute`` is the only way anything changes: under one lock it applies
a command to the engine, commits the events and touched rows in one SQLite
transaction, and only then tells the listeners (MQTT, live web pages). If the
commit fails the in-memory state is rebuilt from the database, so memory never
runs ahead of the disk.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from centre_server import engine, storage
from centre_server.config import CentreSettings
from centre_server.contract import (
    CounterStatePayload,
    EventPayload,
    HallCall,
    HallStatePayload,
    ServiceStatePayload,
    TicketOut,
    TicketState,
)
from centre_server.engine import Command, Event, QueueError, State, Ticket

logger = logging.getLogger(__name__)

Listener = Callable[[list[Event]], None]


def new_ticket_id() -> str:
    """Unguessable: the citizen's page is reached by this id alone."""
    return secrets.token_urlsafe(12)


def policy_from(settings: CentreSettings) -> engine.Policy:
    q = settings.queue
    return engine.Policy(
        priority_streak_limit=q.priority_streak_limit, prefer_breached_target=q.prefer_breached_target,
        call_order=q.call_order, min_recalls_before_no_show=q.min_recalls_before_no_show,
        auto_no_show_after_recalls=q.auto_no_show_after_recalls,
        reactivation_window_s=q.reactivation_window_min * 60,
        complete_on_call_next=q.complete_on_call_next, timezone=settings.timezone)


class Centre:
    def __init__(self, settings: CentreSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)
        self.db: sqlite_utils.Database = storage.connect(settings.db_path)
        self.lock = self.db.conn.lock  # one lock for the state and the database: they move together
        self.listeners: list[Listener] = []
        self.state: State = self._load()

    def _load(self) -> State:
        today = engine.day_of(self.clock(), self.settings.timezone)
        return storage.load_state(self.db, policy_from(self.settings), today)

    def close(self) -> None:
        self.db.conn.close()

    # ---------------------------------------------------------------- commands

    def execute(self, command: Command) -> list[Event]:
        """Apply, commit, then notify. Raises QueueError for a refused command."""
        with self.lock:
            now = self.clock()
            try:
                events = engine.apply(self.state, command, now)
            except QueueError as err:
                if err.events:  # a day roll-over before the refusal is kept
                    self._commit(err.events)
                raise
            self._commit(events)
        return events

    def _commit(self, events: list[Event]) -> None:
        try:
            storage.commit_events(self.db, self.state, events)
        except Exception as err:
            logger.error("commit failed (%s); reloading state from the database", err)
            self.state = self._load()
            raise
        for listener in list(self.listeners):
            try:
                listener(events)
            except Exception:  # a broken listener must not undo a committed change
                logger.exception("listener %r failed", listener)

    # ---------------------------------------------------------------- reading

    def iso(self, ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, self.tz)

    def ticket(self, ticket_id: str) -> Ticket | None:
        with self.lock:
            t = self.state.tickets.get(ticket_id)
        return t if t is not None else storage.find_ticket(self.db, ticket_id)

    def ticket_by_key(self, key: str) -> Ticket | None:
        with self.lock:
            tid = self.state.idempotency.get(key)
            if tid and tid in self.state.tickets:
                return self.state.tickets[tid]
        return storage.find_by_idempotency_key(self.db, key)

    def ticket_out(self, t: Ticket) -> TicketOut:
        with self.lock:
            now = self.clock()
            svc = self.state.services.get(t.service_id)
            counter = self.state.counters.get(t.counter_id or "")
            pos = engine.position(self.state, t) if t.id in self.state.tickets else 0
            est = engine.ticket_estimate(self.state, t, now, ahead=pos) if t.id in self.state.tickets else 0
        return TicketOut(
            id=t.id, number=t.number, service_id=t.service_id,
            service_name_en=svc.name_en if svc else t.service_id,
            service_name_sw=svc.name_sw if svc else t.service_id,
            priority=t.priority, channel=t.channel, language=t.language, state=t.state,
            issued_at=self.iso(t.issued_at), position=pos, estimated_wait_s=est,
            status_url=f"{self.settings.public_url.rstrip('/')}/t/{t.id}",
            counter_id=t.counter_id, counter_name=counter.name if counter else None,
            called_at=self.iso(t.called_at), started_at=self.iso(t.started_at),
            ended_at=self.iso(t.ended_at), recalls=t.recalls, outcome=t.outcome, rating=t.rating)

    def service_payload(self, service_id: str) -> ServiceStatePayload:
        with self.lock:
            s = self.state.services[service_id]
            figures = engine.service_figures(self.state, service_id, self.clock())
        return ServiceStatePayload(service_id=s.id, prefix=s.prefix, name_en=s.name_en, name_sw=s.name_sw,
                                   category=s.category, enabled=s.enabled, target_wait_s=s.target_wait_s,
                                   updated_at=self.iso(self.clock()), category_sw=s.category_sw, **figures)

    def counter_payload(self, counter_id: str) -> CounterStatePayload:
        with self.lock:
            c = self.state.counters[counter_id]
            t = self.state.tickets.get(c.ticket_id or "")
            return CounterStatePayload(
                counter_id=c.id, name=c.name, state=c.state, services=list(c.services),
                ticket=t.number if t else None, ticket_id=t.id if t else None,
                ticket_state=t.state if t else None, service_id=t.service_id if t else None,
                called_at=self.iso(t.called_at) if t else None, recalls=t.recalls if t else 0,
                clerk=c.clerk, updated_at=self.iso(self.clock()))

    def hall_payload(self) -> HallStatePayload:
        with self.lock:
            calls = [HallCall(number=h["number"], counter_id=h["counter_id"], counter_name=h["counter_name"],
                              service_id=h["service_id"], called_at=self.iso(h["called_at"]),
                              recall=h["recall"], seq=h["seq"]) for h in self.state.hall]
            return HallStatePayload(centre_name=self.settings.centre_name, calls=calls,
                                    notice_en=self.state.notice_en, notice_sw=self.state.notice_sw,
                                    updated_at=self.iso(self.clock()))

    def event_payload(self, ev: Event) -> EventPayload:
        d = {k: v for k, v in ev.data.items() if k not in ("phone", "idempotency_key")}
        return EventPayload(type=ev.type, seq=ev.seq, at=self.iso(ev.at), **d)

    def touched(self, events: list[Event]) -> tuple[set[str], set[str], bool]:
        """The services, counters and whether the hall changed: what to republish."""
        services: set[str] = set()
        counters: set[str] = set()
        hall = False
        with self.lock:
            for ev in events:
                d = ev.data
                for key in ("service_id", "from_service_id", "to_service_id"):
                    if d.get(key):
                        services.add(d[key])
                if d.get("counter_id"):
                    counters.add(d["counter_id"])
                    c = self.state.counters.get(d["counter_id"])
                    if c and ev.type.value.startswith("counter_"):
                        services.update(c.services)
                if ev.type.value in ("ticket_called", "ticket_recalled", "notice_changed", "day_closed"):
                    hall = True
                if ev.type.value == "day_closed":
                    services.update(self.state.services)
                    counters.update(self.state.counters)
        return services, counters, hall

    def waiting_count(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.state.queues.values())


def clerk_can_use(counter_id: str, principal_counters: tuple[str, ...]) -> bool:
    return not principal_counters or counter_id in principal_counters


def describe(err: QueueError) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": err.message}}
