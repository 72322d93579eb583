"""SQLite storage: the connection, loading the engine's state, committing events (migrations: ``store.migrations``).

WAL mode with ``synchronous=FULL``: a ticket acknowledged over HTTP is on disk,
whatever happens to the process or the power next. Every engine command is one
transaction holding its events and the rows they changed.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.contract import (
    DayClosed,
    DayReopened,
    NoticeChanged,
    TicketCalled,
    TicketRecalled,
    counter_of,
    event_from_data,
    event_json,
    ticket_of,
)
from centre_server.contract.events import Event
from centre_server.menu import builtin_outcomes
from centre_server.queue.engine import State, new_state
from centre_server.queue.model import Counter, Policy, Service, Ticket
from centre_server.queue.visits import first_service
from centre_server.store.migrations import MIGRATIONS as MIGRATIONS, migrate
from centre_server.store.rows import (
    COUNTER_COLS,
    TICKET_COLS,
    counter_from_row,
    counter_row,
    service_from_row,
    service_row,
    ticket_from_row,
    ticket_row,
)

logger = logging.getLogger(__name__)


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



_TICKET_FIXED = ("id", "day", "number", "idempotency_key")
_TICKET_UPSERT = (f"INSERT INTO tickets ({', '.join(TICKET_COLS)}) "
                  f"VALUES ({', '.join('?' * len(TICKET_COLS))}) ON CONFLICT(id) DO UPDATE SET "
                  + ", ".join(f"{c}=excluded.{c}" for c in TICKET_COLS if c not in _TICKET_FIXED))
_COUNTER_UPDATE = ("UPDATE counters SET name=?, services=?, state=?, ticket_id=?, clerk=?, "
                   "priority_streak=?, idle_since=?, last_ticket_id=? WHERE id=?")


def get_meta(db: sqlite_utils.Database, key: str, default: str = "") -> str:
    row = db.execute("SELECT value FROM meta WHERE key=?", [key]).fetchone()
    return row[0] if row else default


def install_id(db: sqlite_utils.Database) -> str:
    """This install's random id, made on first use and kept in its database: sent to headquarters with every
    request, so a second server using the same centre id (a copied test centre, a stray bench) is refused
    there instead of taking this centre's place. Made lazily, so a copied, never-run template has none."""
    held = get_meta(db, "install_id")
    if held:
        return held
    with db.conn:
        db.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('install_id', ?)", [secrets.token_hex(8)])
    return get_meta(db, "install_id")


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])


def save_menu(db: sqlite_utils.Database, services: Iterable[Service]) -> None:
    db.table("services").upsert_all([service_row(s) for s in services], pk="id")


def save_targets(db: sqlite_utils.Database, services: Iterable[Service]) -> None:
    """The target waits the queue runs (the menu's, the national catalogue's, a demo's cap) kept with the
    services: the day's figures read their targets here, and must judge a wait as the board and alerts do."""
    with db.conn:
        db.conn.executemany("UPDATE services SET target_wait_s=? WHERE id=? AND target_wait_s<>?",
                            [(s.target_wait_s, s.id, s.target_wait_s) for s in services])


def save_counters(db: sqlite_utils.Database, counters: Iterable[Counter]) -> None:
    cols = COUNTER_COLS
    with db.conn:
        for i, c in enumerate(counters):
            db.conn.execute(f"INSERT OR REPLACE INTO counters ({', '.join(cols)}) VALUES "
                            f"({', '.join('?' * len(cols))})", counter_row(c, i))


def keep_learned(path: Path | str, learned: dict[str, Any], at: float) -> None:
    """Store the predictor's learned rates (``WaitPredictor.learned``) on a connection of its own:
    the background forecaster calls it, and the writer's lock is never held for it."""
    data = json.dumps(learned, separators=(",", ":"))
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=NORMAL")  # lost in a power cut at worst: the next save comes soon
        with conn:
            conn.execute("INSERT OR REPLACE INTO learned_rates(id, saved_at, data) VALUES (1, ?, ?)", [at, data])
    finally:
        conn.close()


def load_learned(db: sqlite_utils.Database) -> tuple[float, dict[str, Any]] | None:
    """The learned rates last kept and when, or None (a new centre, or a damaged row: logged)."""
    row = db.execute("SELECT saved_at, data FROM learned_rates WHERE id=1").fetchone()
    if row is None:
        return None
    try:
        data = json.loads(row[1])
    except ValueError as err:
        logger.warning("learned rates unreadable (%s): the estimates start from the menu's times", err)
        return None
    return (float(row[0]), data) if isinstance(data, dict) else None


def load_state(db: sqlite_utils.Database, policy: Policy, today: str) -> State:
    """Rebuild the engine's state: services, counters, the open day's tickets, the last calls."""
    services = [service_from_row(r) for r in db.query("SELECT * FROM services ORDER BY position, id")]
    counters = [counter_from_row(r) for r in db.query("SELECT * FROM counters ORDER BY position, id")]
    state = new_state(services, counters, policy)
    state.outcome_codes = builtin_outcomes()
    state.day = get_meta(db, "day") or today
    state.last_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    state.notice_en = get_meta(db, "notice_en")
    state.notice_sw = get_meta(db, "notice_sw")
    closed_day, _, closed_reason = get_meta(db, "closed").partition("|")
    if closed_day and closed_day == state.day:  # closed before midnight (a manager, or the closing time)
        state.closed = closed_reason
    if get_meta(db, "reopened") == state.day:
        state.reopened = state.day
    for r in db.query("SELECT * FROM tickets WHERE day=? OR state IN ('waiting','called','serving','parked')",
                      [state.day]):
        t = ticket_from_row(r)
        state.tickets[t.id] = t
        if t.day == state.day:
            issued_in = first_service(t)  # numbers belong to the first service (before transfers and visits)
            state.numbers[issued_in] = max(state.numbers.get(issued_in, 0), t.seq)
            if t.idempotency_key:
                state.idempotency[t.idempotency_key] = t.id
    before = db.execute("SELECT MAX(day) FROM tickets WHERE day < ?", [state.day]).fetchone()[0]
    if before:
        state.earlier_keys = dict(db.execute(
            "SELECT idempotency_key, id FROM tickets WHERE day=? AND idempotency_key IS NOT NULL", [before]).fetchall())
    state.reindex()
    # what the predictor had learned when last kept, then the services finished since, oldest first
    since = time.time() - 14 * 86400
    kept = load_learned(db)
    if kept is not None and state.predictor.restore(kept[1]):
        since = kept[0]
        logger.info("wait predictor: learned rates of %s restored", time.strftime("%Y-%m-%d %H:%M", time.gmtime(since)))
    for r in db.query("SELECT service_id, started_at, ended_at, counter_id FROM tickets WHERE state='done' "
                      "AND started_at IS NOT NULL AND ended_at > ? ORDER BY ended_at", [since]):
        if r["service_id"] in state.services:
            state.predictor.observe(r["service_id"], r["ended_at"] - r["started_at"], r["counter_id"])
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
