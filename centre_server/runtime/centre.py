"""The running centre: the engine's state, its database, and who hears of each change.

``Centre.execute`` is the only way anything changes: under one lock it applies
a command to the engine, commits the events and touched rows in one SQLite
transaction, and only then tells the listeners (MQTT, live web pages). If the
commit fails the in-memory state is rebuilt from the database, so memory never
runs ahead of the disk.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import queue
import sqlite3
import threading
from concurrent.futures import Future
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from centre_server.queue import engine
from centre_server.store import database as storage
from centre_server.config import CentreSettings
from centre_server.contract import (
    CounterStatePayload,
    DayStatePayload,
    EventPayload,
    HallCall,
    HallStatePayload,
    ServiceStatePayload,
    TicketOut,
)
from centre_server.contract import (
    TICKET_EVENT_MODELS,
    CounterEvent,
    DayClosed,
    DayReopened,
    NoticeChanged,
    TicketCalled,
    TicketIssued,
    TicketRecalled,
    TicketTransferred,
    counter_of,
    ticket_of,
)
from centre_server.queue.engine import Command, Event, QueueError, State, Ticket
from centre_server.queue.hours import OpeningHours, parse_hhmm, public_holidays, weekdays_from

logger = logging.getLogger(__name__)

Listener = Callable[[list[Event]], None]
MAX_BATCH = 256
CHECKPOINT_EVERY_S = 1.0
SLOW_BATCH_S = 0.05
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default, back in force when the writer stops
# who waits for a command: a thread (``execute``) or a coroutine on an event loop (``submit``)
Waiter = Future | tuple[asyncio.AbstractEventLoop, asyncio.Future]


def _settle(results: list[tuple[Waiter, Any, BaseException | None]]) -> None:
    """Hand each waiter its result; one wake-up per event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any, BaseException | None]]] = {}
    for done, value, err in results:
        if isinstance(done, Future):
            if err is not None:
                done.set_exception(err)
            else:
                done.set_result(value)
        else:
            by_loop.setdefault(done[0], []).append((done[1], value, err))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_on_loop, items)
        except RuntimeError:  # that loop has closed: nobody is waiting any more
            pass


def _settle_on_loop(items: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, value, err in items:
        if fut.done():  # the caller went away (a cancelled request)
            continue
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(value)


class _RandomPool:
    """Random bytes from the OS, fetched a thousand ids at a time.

    Each os.urandom call lets go of the GIL, and under load getting it back
    costs the event loop far more than the call itself.
    """

    CHUNK = 12 * 1024

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buf, self.pos = b"", 0
        os.register_at_fork(after_in_child=self.reset)  # a child must never repeat its parent's ids

    def reset(self) -> None:
        self.buf, self.pos = b"", 0

    def take(self, n: int) -> bytes:
        with self.lock:
            if self.pos + n > len(self.buf):
                self.buf, self.pos = os.urandom(self.CHUNK), 0
            self.pos += n
            return self.buf[self.pos - n:self.pos]


_random = _RandomPool()


def new_ticket_id() -> str:
    """Unguessable (96 random bits): the citizen's page is reached by this id alone."""
    return base64.urlsafe_b64encode(_random.take(12)).decode()


def hours_from(settings: CentreSettings, year: int | None = None) -> OpeningHours:
    """The centre's opening hours from ``[day]``, with this year's public holidays and the next."""
    d = settings.day
    year = year or datetime.now(ZoneInfo(settings.timezone)).year
    return OpeningHours(opening_s=parse_hhmm(d.opening_time) or 0, closing_s=parse_hhmm(d.closing_time),
                        last_call_s=parse_hhmm(d.last_call_time), open_weekdays=weekdays_from(d.open_days),
                        holidays=public_holidays(d.public_holidays, range(year - 1, year + 2)))


def public_ticket_id(ticket_id: str) -> str:
    """What devices and watchers see of a ticket: stable, but the secret id (the key to the
    citizen's page and check-in code) cannot be recovered from it."""
    digest = hashlib.sha256(b"huduma-public-ticket:" + ticket_id.encode()).digest()
    return "p" + base64.urlsafe_b64encode(digest[:12]).decode()


def policy_from(settings: CentreSettings) -> engine.Policy:
    q = settings.queue
    return engine.Policy(hours=hours_from(settings), phone_retention_days=settings.day.phone_retention_days,
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
        self._writer: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self._checkpoints_stop = threading.Event()
        self._disk_s = 0.0  # the last commit's time on disk, for the slow-batch warning
        self._local = threading.local()
        self._inbox: queue.SimpleQueue[tuple[Command, Waiter, Callable | None] | None] = queue.SimpleQueue()

    def _load(self) -> State:
        today = engine.day_of(self.clock(), self.settings.timezone)
        return storage.load_state(self.db, policy_from(self.settings), today)

    def close(self) -> None:
        self.stop_writer()
        self.db.conn.close()

    def reader(self) -> sqlite_utils.Database:
        """This thread's own read-only connection: reads (tokens, look-ups) never wait for the writer's fsync."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.settings.db_path), timeout=30)
            conn.execute("PRAGMA query_only=1")
            conn.execute("PRAGMA busy_timeout=30000")
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    # ---------------------------------------------------------------- commands

    def execute(self, command: Command) -> list[Event]:
        """Apply, commit, then notify; answered only once the change is on disk.

        With the writer running (``start_writer``), commands from many threads are
        applied one by one but committed together: one fsync for a batch (group
        commit), the same promise for each caller at a fraction of the disk's time.
        Raises QueueError for a refused command.
        """
        writer = self._writer
        if writer is None or threading.current_thread() is writer or self.lock._is_owned():
            return self._execute_now(command)
        done: Future[list[Event]] = Future()
        self._inbox.put((command, done, None))
        return done.result()

    async def submit(self, command: Command, answer: Callable[[list[Event]], Any] | None = None) -> Any:
        """``execute`` for async handlers: no thread hop, and ``answer(events)`` runs in the writer
        right after the commit, under the lock, so the reply reads the state its own command made.
        The writer wakes the event loop once per batch, not once per command."""
        if self._writer is None:
            events = self._execute_now(command)
            return answer(events) if answer else events
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._inbox.put((command, (loop, done), answer))
        return await done

    def _execute_now(self, command: Command) -> list[Event]:
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

    def start_writer(self) -> None:
        """Run commands through one writer thread that commits them in batches, and fold the WAL
        into the database file from another thread, never inside a command's commit."""
        if self._writer is not None:
            return
        # SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 pages, and a
        # clerk's call then waits for a whole checkpoint's writes and fsync (measured: 15-280 ms).
        self.db.conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoints_stop.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="wal-checkpoint", daemon=True)
        self._checkpointer.start()
        self._writer = threading.Thread(target=self._write_loop, name="centre-writer", daemon=True)
        self._writer.start()

    def stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            self._inbox.put(None)
            writer.join(10)
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            self._checkpoints_stop.set()
            checkpointer.join(10)
            self.db.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")

    def _checkpoint_loop(self) -> None:
        """A PASSIVE checkpoint every CHECKPOINT_EVERY_S: each changed page is copied once, however
        often it changed, and the writer goes on committing to the WAL meanwhile."""
        conn = sqlite3.connect(str(self.settings.db_path), timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            while not self._checkpoints_stop.wait(CHECKPOINT_EVERY_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as err:  # a full disk, say: the WAL still holds every commit
                    logger.warning("WAL checkpoint failed (will try again): %s", err)
        finally:
            conn.close()

    def _write_loop(self) -> None:
        while True:
            first = self._inbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._inbox.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[Command, Waiter, Callable | None]]) -> None:
        outcomes: list[tuple[Waiter, list[Event] | None, BaseException | None, Callable | None]] = []
        events: list[Event] = []
        results: list[tuple[Waiter, Any, BaseException | None]] = []
        started = time.perf_counter()
        with self.lock:
            for command, done, answer in batch:
                try:
                    evs = engine.apply(self.state, command, self.clock())
                except QueueError as err:
                    events += err.events
                    outcomes.append((done, None, err, None))
                    continue
                except Exception as err:  # an engine bug: drop the whole batch, memory back to disk
                    logger.exception("command %r failed", command)
                    self.state = self._load()
                    _settle([(d, None, err) for d, _, _ in batch])
                    return
                events += evs
                outcomes.append((done, evs, None, answer))
            applied = time.perf_counter()
            try:
                self._commit(events)
            except Exception as err:  # nothing of the batch is on disk: every caller hears so
                _settle([(done, None, err) for done, _, _, _ in outcomes])
                return
            for done, evs, err, answer in outcomes:
                if err is None and answer is not None:
                    try:
                        results.append((done, answer(evs or []), None))
                    except Exception as failure:  # the change is made; only the reply failed
                        if not isinstance(failure, QueueError):  # a refusal is an answer, not a fault
                            logger.exception("answering %r failed", answer)
                        results.append((done, None, failure))
                else:
                    results.append((done, evs or [], err))
        _settle(results)
        took = time.perf_counter() - started
        if took > SLOW_BATCH_S:  # a slow disk shows here first: say so, with where the time went
            logger.warning("%d command(s) took %.0f ms: %.0f ms deciding, %.0f ms on disk, %.0f ms telling",
                           len(batch), took * 1000, (applied - started) * 1000, self._disk_s * 1000,
                           (took - (applied - started) - self._disk_s) * 1000)

    def _commit(self, events: list[Event]) -> None:
        if not events:
            return
        disk = time.perf_counter()
        try:
            storage.commit_events(self.db, self.state, events)
            self._disk_s = time.perf_counter() - disk
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
        return t if t is not None else storage.find_ticket(self.reader(), ticket_id)

    def ticket_by_key(self, key: str) -> Ticket | None:
        with self.lock:
            tid = engine.issued_for(self.state, key)
            if tid and tid in self.state.tickets:
                return self.state.tickets[tid]
        return storage.find_by_idempotency_key(self.reader(), key)  # a key of an earlier day

    def ticket_out(self, t: Ticket, issued: Event | None = None) -> TicketOut:
        """The ticket as the API shows it. ``issued``: its ticket_issued event, whose place in the
        queue and estimate are the ones printed on the ticket (and need no walk of the queue)."""
        with self.lock:
            now = self.clock()
            svc = self.state.services.get(t.service_id)
            counter = self.state.counters.get(t.counter_id or "")
            unknown = None
            if issued is not None:
                assert isinstance(issued.data, TicketIssued)
                pos, est = issued.data.position, issued.data.estimated_wait_s
                if est is None:
                    unknown = engine.wait_for(self.state, t.service_id, pos, now)[1]
            elif t.id in self.state.tickets:
                pos = engine.position(self.state, t)
                est, unknown = engine.ticket_wait(self.state, t, now, ahead=pos)
            else:
                pos, est = 0, 0
        return TicketOut(
            id=t.id, number=t.number, service_id=t.service_id,
            service_name_en=svc.name_en if svc else t.service_id,
            service_name_sw=svc.name_sw if svc else t.service_id,
            priority=t.priority, channel=t.channel, language=t.language, state=t.state,
            issued_at=self.iso(t.issued_at), position=pos, estimated_wait_s=est, wait_unknown=unknown,
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

    def day_payload(self) -> DayStatePayload:
        """Whether the centre takes tickets now, and when it opens next: retained on ``state/day``."""
        with self.lock:
            now = self.clock()
            reason = engine.day_closed_reason(self.state, now)
            opens = engine.opens_at(self.state, now)
            day = self.state.day
        d = self.settings.day
        return DayStatePayload(day=day, open=reason is None, reason=reason, opening_time=d.opening_time,
                               closing_time=d.closing_time, opens_at=opens, updated_at=self.iso(now))

    def counter_payload(self, counter_id: str) -> CounterStatePayload:
        with self.lock:
            c = self.state.counters[counter_id]
            t = self.state.tickets.get(c.ticket_id or "")
            return CounterStatePayload(
                counter_id=c.id, name=c.name, state=c.state, services=list(c.services),
                ticket=t.number if t else None, ticket_id=public_ticket_id(t.id) if t else None,
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
        """An event as devices and watchers hear it: no phone, no key, and a public ticket id."""
        d = ev.data.to_data()
        d.pop("phone", None)
        d.pop("idempotency_key", None)
        tid = ticket_of(ev.data)
        if tid:
            d["ticket_id"] = public_ticket_id(tid)
        return EventPayload(type=ev.type, seq=ev.seq, at=self.iso(ev.at), **d)

    def touched(self, events: list[Event]) -> tuple[set[str], set[str], bool]:
        """The services, counters and whether the hall changed: what to republish."""
        services: set[str] = set()
        counters: set[str] = set()
        hall = False
        with self.lock:
            for ev in events:
                d = ev.data
                if isinstance(d, TICKET_EVENT_MODELS):
                    services.add(d.service_id)
                if isinstance(d, TicketTransferred):  # its service_id is the one it left
                    services.add(d.to_service_id)
                cid = counter_of(d)
                if cid:
                    counters.add(cid)
                    c = self.state.counters.get(cid)
                    if c and isinstance(d, CounterEvent):
                        services.update(c.services)
                if isinstance(d, (TicketCalled, TicketRecalled, NoticeChanged, DayClosed)):
                    hall = True
                if isinstance(d, (DayClosed, DayReopened)):
                    services.update(self.state.services)
                    counters.update(self.state.counters)
        return services, counters, hall
