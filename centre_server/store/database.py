"""SQLite storage: schema migrations, loading the engine's state, committing events.

WAL mode with ``synchronous=FULL``: a ticket acknowledged over HTTP is on disk,
whatever happens to the process or the power next. Every engine command is one
transaction holding its events and the rows they changed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.contract import (
    Channel,
    CounterState,
    DayClosed,
    DayReopened,
    Language,
    NoticeChanged,
    Priority,
    TicketCalled,
    TicketRecalled,
    TicketState,
    counter_of,
    event_from_data,
    event_json,
    ticket_of,
)
from centre_server.queue.engine import Counter, Event, Policy, Service, State, Ticket, new_state

logger = logging.getLogger(__name__)


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.table("services").create({
        "id": str, "prefix": str, "name_en": str, "name_sw": str, "category": str,
        "category_sw": str, "target_wait_s": int, "service_time_s": float, "enabled": int,
        "position": int}, pk="id")
    db.table("counters").create({
        "id": str, "name": str, "services": str, "state": str, "ticket_id": str, "clerk": str,
        "priority_streak": int, "idle_since": float, "last_ticket_id": str, "position": int}, pk="id")
    db.table("tickets").create({
        "id": str, "day": str, "seq": int, "number": str, "service_id": str, "priority": str,
        "channel": str, "language": str, "phone": str, "state": str, "issued_at": float,
        "queued_at": float, "called_at": float, "first_called_at": float, "started_at": float,
        "ended_at": float, "counter_id": str, "clerk": str, "recalls": int, "transfers": str,
        "outcome": str, "rating": int, "comment": str, "no_show_at": float, "cancel_reason": str,
        "idempotency_key": str, "device_id": str, "estimated_wait_s": int}, pk="id")
    db.table("tickets").create_index(["day", "service_id", "seq"], unique=True)
    db.table("tickets").create_index(["state"])
    db.execute("CREATE UNIQUE INDEX idx_tickets_idem ON tickets(idempotency_key) WHERE idempotency_key IS NOT NULL")
    db.table("events").create({"seq": int, "at": float, "type": str, "data": str}, pk="seq")
    db.table("events").create_index(["type", "at"])
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("devices").create({
        "id": str, "kind": str, "role": str, "token_hash": str, "mqtt_username": str,
        "mqtt_password_hash": str, "counters": str, "created_at": float, "revoked_at": float,
        "note": str}, pk="id")
    db.table("devices").create_index(["token_hash"], unique=True)
    db.table("staff").create({
        "username": str, "role": str, "password_hash": str, "full_name": str, "disabled": int,
        "failed_logins": int, "locked_until": float, "created_at": float}, pk="username")
    db.table("sessions").create({
        "token_hash": str, "username": str, "role": str, "created_at": float, "expires_at": float,
        "csrf": str}, pk="token_hash")
    db.table("audit").create({"id": int, "at": float, "actor": str, "action": str, "detail": str}, pk="id")


def _m2_day_close(db: sqlite_utils.Database) -> None:
    """Issue 8: daily summaries (a revision per re-close) and the outbox to headquarters."""
    db.execute("CREATE TABLE daily_summaries (centre_id TEXT NOT NULL, date TEXT NOT NULL, "
               "revision INTEGER NOT NULL, created_at REAL NOT NULL, data TEXT NOT NULL, "
               "PRIMARY KEY (date, revision))")
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, "
               "attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, sent_at REAL, "
               "last_error TEXT, created_at REAL)")
    db.execute("CREATE INDEX idx_outbox_pending ON outbox(next_attempt_at) WHERE sent_at IS NULL")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m1_initial]
MIGRATIONS.append(_m2_day_close)


def _m3_remote_tickets(db: sqlite_utils.Database) -> None:
    """Remote tickets check in on arrival; appointments carry their slot."""
    db.execute("ALTER TABLE tickets ADD COLUMN checked_in INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE tickets ADD COLUMN slot_at REAL")
    db.execute("ALTER TABLE tickets ADD COLUMN appointment_id TEXT")


MIGRATIONS.append(_m3_remote_tickets)

from centre_server.channels.schema import migrate_channels as _m4_channels  # noqa: E402  (issue 10)

MIGRATIONS.append(_m4_channels)


def _m5_numbers_unique_per_day(db: sqlite_utils.Database) -> None:
    """A transferred ticket keeps its number but changes service: uniqueness is (day, number)."""
    db.execute("DROP INDEX IF EXISTS idx_tickets_day_service_id_seq")
    db.execute("CREATE UNIQUE INDEX idx_tickets_day_number ON tickets(day, number)")
    db.execute("CREATE INDEX idx_tickets_day_service ON tickets(day, service_id)")


MIGRATIONS.append(_m5_numbers_unique_per_day)


def _m6_keys_unique_per_day(db: sqlite_utils.Database) -> None:
    """Idempotency keys are remembered for today and the day before (engine.State.earlier_keys):
    uniqueness is per day, so a kiosk's key reused days later is a new ticket, never a failed commit."""
    db.execute("DROP INDEX IF EXISTS idx_tickets_idem")
    # key first: the same index finds a key of any day (find_by_idempotency_key), one index per ticket fewer
    db.execute("CREATE UNIQUE INDEX idx_tickets_idem_day ON tickets(idempotency_key, day) "
               "WHERE idempotency_key IS NOT NULL")


MIGRATIONS.append(_m6_keys_unique_per_day)


class LockedConnection(sqlite3.Connection):
    """One connection shared by threads: every statement, and every ``with conn:`` transaction, holds its lock.

    Without it a statement from a web request could land inside (or commit) the
    engine's open transaction. The lock is re-entrant, so the holder of a
    transaction runs its own statements freely.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()

    def execute(self, *args: Any) -> sqlite3.Cursor:
        if args and isinstance(args[0], str) and args[0].endswith('"sqlite_utils_query"'):
            # sqlite-utils wraps each query() in a savepoint that stays open while its
            # generator lives, i.e. an open transaction another thread would fall into.
            # Single statements read a consistent snapshot anyway, so it is not needed.
            return super().execute("SELECT 1")
        with self.lock:
            return super().execute(*args)

    def executemany(self, *args: Any) -> sqlite3.Cursor:
        with self.lock:
            return super().executemany(*args)

    def executescript(self, *args: Any) -> sqlite3.Cursor:
        with self.lock:
            return super().executescript(*args)

    def __enter__(self) -> LockedConnection:
        self.lock.acquire()
        return super().__enter__()

    def __exit__(self, *exc: Any) -> Any:
        try:
            return super().__exit__(*exc)
        finally:
            self.lock.release()


def connect(path: Path | str, *, durable: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) a centre database in WAL mode."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False,
                           factory=LockedConnection)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA journal_size_limit={64 * 2**20}")  # a WAL grown by a rush shrinks back once folded in
    db = sqlite_utils.Database(conn)
    migrate(db)
    return db


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the schema to the newest version, each step in its own transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            step(db)
            db.conn.execute(f"PRAGMA user_version={number}")
        logger.info("database migrated to version %s", number)
    return len(MIGRATIONS)


# --------------------------------------------------------------------------
# Rows <-> engine objects
# --------------------------------------------------------------------------

SERVICE_COLS = ["id", "prefix", "name_en", "name_sw", "category", "category_sw", "target_wait_s",
                "service_time_s", "enabled", "position"]
COUNTER_COLS = ["id", "name", "services", "state", "ticket_id", "clerk", "priority_streak",
                "idle_since", "last_ticket_id", "position"]
TICKET_COLS = ["id", "day", "seq", "number", "service_id", "priority", "channel", "language", "phone",
               "state", "issued_at", "queued_at", "called_at", "first_called_at", "started_at",
               "ended_at", "counter_id", "clerk", "recalls", "transfers", "outcome", "rating",
               "comment", "no_show_at", "cancel_reason", "idempotency_key", "device_id",
               "estimated_wait_s", "checked_in", "slot_at", "appointment_id"]


def service_row(s: Service) -> dict[str, Any]:
    return {"id": s.id, "prefix": s.prefix, "name_en": s.name_en, "name_sw": s.name_sw,
            "category": s.category, "category_sw": s.category_sw, "target_wait_s": s.target_wait_s,
            "service_time_s": s.service_time_s, "enabled": int(s.enabled), "position": s.position}


def service_from_row(r: dict[str, Any]) -> Service:
    return Service(id=r["id"], prefix=r["prefix"], name_en=r["name_en"], name_sw=r["name_sw"],
                   category=r["category"] or "", category_sw=r["category_sw"] or "",
                   target_wait_s=int(r["target_wait_s"]), service_time_s=float(r["service_time_s"]),
                   enabled=bool(r["enabled"]), position=int(r["position"] or 0))


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
            t.appointment_id)


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
        slot_at=r.get("slot_at"), appointment_id=r.get("appointment_id"))


# Columns a ticket never changes once issued, each in an index: an update that leaves them out
# rewrites two indexes instead of six (INSERT OR REPLACE deleted and re-inserted every one), so a
# call writes a third of the pages to the WAL, and its fsync is shorter.
_TICKET_FIXED = ("id", "day", "number", "idempotency_key")
_TICKET_UPSERT = (f"INSERT INTO tickets ({', '.join(TICKET_COLS)}) "
                  f"VALUES ({', '.join('?' * len(TICKET_COLS))}) ON CONFLICT(id) DO UPDATE SET "
                  + ", ".join(f"{c}=excluded.{c}" for c in TICKET_COLS if c not in _TICKET_FIXED))
_COUNTER_UPDATE = ("UPDATE counters SET name=?, services=?, state=?, ticket_id=?, clerk=?, "
                   "priority_streak=?, idle_since=?, last_ticket_id=? WHERE id=?")


def get_meta(db: sqlite_utils.Database, key: str, default: str = "") -> str:
    row = db.execute("SELECT value FROM meta WHERE key=?", [key]).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])


def save_menu(db: sqlite_utils.Database, services: Iterable[Service]) -> None:
    db.table("services").upsert_all([service_row(s) for s in services], pk="id")


def save_counters(db: sqlite_utils.Database, counters: Iterable[Counter]) -> None:
    cols = COUNTER_COLS
    with db.conn:
        for i, c in enumerate(counters):
            db.conn.execute(f"INSERT OR REPLACE INTO counters ({', '.join(cols)}) VALUES "
                            f"({', '.join('?' * len(cols))})", counter_row(c, i))


def load_state(db: sqlite_utils.Database, policy: Policy, today: str) -> State:
    """Rebuild the engine's state: services, counters, the open day's tickets, the last calls."""
    services = [service_from_row(r) for r in db.query("SELECT * FROM services ORDER BY position, id")]
    counters = [counter_from_row(r) for r in db.query("SELECT * FROM counters ORDER BY position, id")]
    state = new_state(services, counters, policy)
    state.day = get_meta(db, "day") or today
    state.last_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    state.notice_en = get_meta(db, "notice_en")
    state.notice_sw = get_meta(db, "notice_sw")
    closed_day, _, closed_reason = get_meta(db, "closed").partition("|")
    if closed_day and closed_day == state.day:  # closed before midnight (a manager, or the closing time)
        state.closed = closed_reason
    if get_meta(db, "reopened") == state.day:
        state.reopened = state.day
    for r in db.query("SELECT * FROM tickets WHERE day=? OR state IN ('waiting','called','serving')",
                      [state.day]):
        t = ticket_from_row(r)
        state.tickets[t.id] = t
        if t.day == state.day:
            issued_in = t.transfers[0]["from"] if t.transfers else t.service_id  # numbers belong to the first service
            state.numbers[issued_in] = max(state.numbers.get(issued_in, 0), t.seq)
            if t.idempotency_key:
                state.idempotency[t.idempotency_key] = t.id
    before = db.execute("SELECT MAX(day) FROM tickets WHERE day < ?", [state.day]).fetchone()[0]
    if before:
        state.earlier_keys = dict(db.execute(
            "SELECT idempotency_key, id FROM tickets WHERE day=? AND idempotency_key IS NOT NULL", [before]).fetchall())
    state.reindex()
    # learn service times from the last days' finished tickets, oldest first
    for r in db.query("SELECT service_id, started_at, ended_at FROM tickets WHERE state='done' "
                      "AND started_at IS NOT NULL AND ended_at > ? ORDER BY ended_at",
                      [time.time() - 14 * 86400]):
        if r["service_id"] in state.services:
            state.predictor.observe(r["service_id"], r["ended_at"] - r["started_at"])
    for r in db.query("SELECT data, seq, at, type FROM events WHERE type IN "
                      "('ticket_called','ticket_recalled') ORDER BY seq DESC LIMIT 10"):
        d = json.loads(r["data"])
        call = event_from_data(r["type"], d)
        assert isinstance(call, (TicketCalled, TicketRecalled))
        t = state.tickets.get(call.ticket_id)
        if t is None or t.day != state.day:
            continue
        state.hall.append({"number": call.number, "counter_id": call.counter_id,
                           "counter_name": call.counter_name,
                           "service_id": call.service_id, "called_at": r["at"],
                           "recall": isinstance(call, TicketRecalled), "seq": r["seq"]})
    return state


def commit_events(db: sqlite_utils.Database, state: State, events: list[Event]) -> None:
    """Write the events and every row they touched, in one transaction."""
    if not events:
        return
    ticket_ids: set[str] = set()
    counter_ids: set[str] = set()
    for ev in events:
        tid = ticket_of(ev.data)
        if tid:
            ticket_ids.add(tid)
        cid = counter_of(ev.data)
        if cid:
            counter_ids.add(cid)
        if isinstance(ev.data, DayClosed):
            counter_ids.update(state.counters)
    conn = db.conn
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events(seq, at, type, data) VALUES (?, ?, ?, ?)",
                         [(ev.seq, ev.at, ev.type.value, event_json(ev.data))
                          for ev in events])
        tickets = (state.tickets.get(t) or state.retired.get(t) for t in ticket_ids)
        rows = [ticket_row(t) for t in tickets if t is not None]
        if rows:
            conn.executemany(_TICKET_UPSERT, rows)
        for cid in counter_ids:
            c = state.counters.get(cid)
            if c is not None:
                conn.execute(_COUNTER_UPDATE, (c.name, json.dumps(c.services), c.state.value,
                                               c.ticket_id, c.clerk, c.priority_streak,
                                               c.idle_since, c.last_ticket_id, c.id))
        for ev in events:
            if isinstance(ev.data, NoticeChanged):
                set_meta(conn, "notice_en", state.notice_en)
                set_meta(conn, "notice_sw", state.notice_sw)
            if isinstance(ev.data, (DayClosed, DayReopened)):
                set_meta(conn, "day", state.day)
                set_meta(conn, "closed", f"{state.day}|{state.closed}" if state.closed else "")
                set_meta(conn, "reopened", state.reopened or "")
                if isinstance(ev.data, DayClosed) and ev.data.next_day:
                    # a day once closed keeps no phone numbers
                    conn.execute("UPDATE tickets SET phone=NULL WHERE day<=? AND phone IS NOT NULL",
                                 [retained_until(ev.data.day, state.policy.phone_retention_days)])
        if get_meta(db, "day") != state.day:
            set_meta(conn, "day", state.day)
    state.retired.clear()  # written: memory may forget them


def retained_until(day: str, retention_days: int) -> str:
    """The last day whose phone numbers go when ``day`` closes: ``[day] phone_retention_days`` earlier."""
    from datetime import date, timedelta

    return (date.fromisoformat(day) - timedelta(days=retention_days)).isoformat()


def find_ticket(db: sqlite_utils.Database, ticket_id: str) -> Ticket | None:
    row = next(db.query("SELECT * FROM tickets WHERE id=?", [ticket_id]), None)
    return ticket_from_row(row) if row else None


def find_by_idempotency_key(db: sqlite_utils.Database, key: str) -> Ticket | None:
    row = next(db.query("SELECT * FROM tickets WHERE idempotency_key=? ORDER BY day DESC LIMIT 1", [key]), None)
    return ticket_from_row(row) if row else None


def audit(db: sqlite_utils.Database, actor: str, action: str, **detail: Any) -> None:
    with db.conn:
        db.conn.execute("INSERT INTO audit(at, actor, action, detail) VALUES (?, ?, ?, ?)",
                        [time.time(), actor, action, json.dumps(detail, default=str)])
