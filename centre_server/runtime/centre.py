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
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from centre_server.config import CentreSettings
from centre_server.contract import (
    CounterStatePayload,
    DayStatePayload,
    Event,
    EventPayload,
    HallStatePayload,
    HeadquartersHealth,
    HeadquartersLinkHealth,
    ServiceStatePayload,
    TicketOut,
)
from centre_server.contract.catalogue import (
    Catalogue,
    CatalogueStatePayload,
    CentreCatalogueReport,
    Offering,
    shipped_catalogue,
)
from centre_server.queue import engine
from centre_server.queue.engine import Command, QueueError, State
from centre_server.queue.model import Ticket
from centre_server.runtime import national, projections
from centre_server.runtime.forecaster import Forecaster
from centre_server.runtime.periodic import HeadquartersLinks
from centre_server.runtime.policy import policy_from
from centre_server.runtime.projections import public_ticket_id  # noqa: F401  (pages and devices' payloads)
from centre_server.store import catalogue as catalogue_store, database as storage

logger = logging.getLogger(__name__)

Listener = Callable[[list[Event]], None]
MAX_BATCH = 256
CHECKPOINT_EVERY_S = 1.0
SLOW_BATCH_S = 0.05
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default, back in force when the writer stops
# who waits for a command: a thread (``execute``) or a coroutine on an event loop (``submit``)
Waiter = Future | tuple[asyncio.AbstractEventLoop, asyncio.Future]


class _Between:
    """Not a queue command: a change the writer makes between two commands (a new catalogue, an offering),
    so no command sees half of it."""

    def __init__(self, change: Callable[[], Any]) -> None:
        self.change = change


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


def _constant(value: Any) -> Callable[[list[Event]], Any]:
    return lambda _events: value


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


class Centre:
    def __init__(self, settings: CentreSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)
        self.db: sqlite_utils.Database = storage.connect(settings.db_path)
        # one lock for the state and the database: they move together (storage.connect opens a LockedConnection)
        conn = self.db.conn
        assert isinstance(conn, storage.LockedConnection), "storage.connect opens a LockedConnection"
        self.lock = conn.lock
        self.listeners: list[Listener] = []
        # told (the day) by a close just before it erases the day's phone numbers, outside the lock: the
        # channels send the close's own messages ("closed before your number") while the numbers exist
        self.before_phones_erased: list[Callable[[str], None]] = []
        # the national catalogue this centre runs: the newest stored version, else the one shipped (0)
        self.catalogue: Catalogue = catalogue_store.newest(self.db) or shipped_catalogue()
        version, at = catalogue_store.applied(self.db)
        self.catalogue_applied_at: float | None = at if version == self.catalogue.version else None
        self.offerings: dict[str, Offering] = catalogue_store.offerings(self.db)
        # told (on the writer's thread, after the change) when the catalogue or an offering changed
        self.catalogue_listeners: list[Callable[[], None]] = []
        # told when the forecaster leaves a new table: every service's estimate may have moved (the boards)
        self.forecast_listeners: list[Callable[[], None]] = []
        # the threads that talk to headquarters, each added by its part as it starts (/healthz, the board)
        self.headquarters = HeadquartersLinks(settings.db_path)
        self.state: State = self._load()
        self._writer: threading.Thread | None = None
        self.forecaster: Forecaster | None = None  # started with the writer
        self._checkpointer: threading.Thread | None = None
        self._checkpoints_stop = threading.Event()
        self._disk_s = 0.0  # the last commit's time on disk, for the slow-batch warning
        self._local = threading.local()
        self._inbox: queue.SimpleQueue[tuple[Command | _Between, Waiter, Callable | None] | None] = queue.SimpleQueue()

    def _load(self) -> State:
        today = engine.day_of(self.clock(), self.settings.timezone)
        state = storage.load_state(self.db, policy_from(self.settings), today)
        national.overlay(state, self.catalogue, self.offerings)
        storage.save_targets(self.db, state.services.values())
        national.replay_suspensions(state, catalogue_store.suspensions_in_log(self.db))
        return state

    def close(self) -> None:
        self.stop_writer()
        self.headquarters.close()
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
        if writer is None or threading.current_thread() is writer or self.lock._is_owned():  # type: ignore[attr-defined]  # CPython RLock: a holder runs at once
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

    def between_commands(self, change: Callable[[], Any]) -> Any:
        """Run ``change`` in the writer between two commands (under the lock, with nothing half-applied),
        then tell the catalogue listeners. Returns what ``change`` returned."""
        writer = self._writer
        if writer is None or threading.current_thread() is writer or self.lock._is_owned():  # type: ignore[attr-defined]  # CPython RLock
            with self.lock:
                result = change()
        else:
            done: Future[Any] = Future()
            self._inbox.put((_Between(change), done, None))
            result = done.result()
        self._catalogue_changed()
        return result

    def _catalogue_changed(self) -> None:
        for listener in list(self.catalogue_listeners):
            try:
                listener()
            except Exception:  # a broken listener must not undo the change
                logger.exception("catalogue listener %r failed", listener)

    def apply_catalogue(self, catalogue: Catalogue, *, new_epoch: bool = False) -> bool:
        """Run ``catalogue`` from now on (between two commands): False when it is not newer than the running one
        (``new_epoch``: headquarters was rebuilt and numbers anew, so its number says nothing: it runs)."""
        def change() -> bool:
            if not new_epoch and catalogue.version <= self.catalogue.version and self.catalogue_applied_at is not None:
                return False
            now = self.clock()
            # on disk first (a full disk refuses it with memory untouched); headquarters is to hear of it
            catalogue_store.set_applied(self.db, catalogue.version, now)
            national.overlay(self.state, catalogue, self.offerings)
            storage.save_targets(self.db, self.state.services.values())
            self.catalogue, self.catalogue_applied_at = catalogue, now
            logger.info("running national catalogue version %s", catalogue.version)
            return True
        return bool(self.between_commands(change))

    def record_offering(self, offering: Offering) -> None:
        """Keep a manager's decision for one national service and apply it (between two commands)."""
        def change() -> None:
            catalogue_store.save_offering(self.db, offering, self.clock())  # and headquarters is to hear of it
            self.offerings[offering.service_id] = offering
            national.overlay(self.state, self.catalogue, self.offerings)
            storage.save_targets(self.db, self.state.services.values())
        self.between_commands(change)

    def catalogue_report(self) -> CentreCatalogueReport:
        """What headquarters is told: the version this centre runs and each national service's offering."""
        payload = self.catalogue_payload()
        return CentreCatalogueReport(version=payload.version, applied_at=payload.applied_at,
                                     offerings=[i.offering for i in payload.services])

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
        if self.settings.queue.forecast_every_s > 0:  # wait estimates from simulated futures (issue 18)
            self.forecaster = Forecaster(self, period_s=self.settings.queue.forecast_every_s)
            self.forecaster.start()

    def stop_writer(self) -> None:
        forecaster, self.forecaster = self.forecaster, None
        if forecaster is not None:
            forecaster.stop()
        writer, self._writer = self._writer, None
        if writer is not None:
            self._inbox.put(None)
            writer.join(10)
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            self._checkpoints_stop.set()
            checkpointer.join(10)
            self.db.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        if writer is not None:  # a clean stop keeps everything learned up to now
            try:
                self.keep_learned()
            except Exception:
                logger.exception("storing the learned rates at stop failed")

    def keep_learned(self) -> None:
        """Store what the wait predictor has learned (read back by ``storage.load_state`` at start):
        copied under the lock, written outside it on a connection of its own."""
        with self.lock:
            learned = self.state.predictor.learned()
            at = self.clock()
        storage.keep_learned(self.settings.db_path, learned, at)

    def _checkpoint_loop(self) -> None:
        """A PASSIVE checkpoint every CHECKPOINT_EVERY_S: each changed page is copied once, however
        often it changed, and the writer goes on committing to the WAL meanwhile."""
        conn = sqlite3.connect(str(self.settings.db_path), timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            kept = time.monotonic()
            every = self.settings.queue.keep_learned_every_s
            while not self._checkpoints_stop.wait(CHECKPOINT_EVERY_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as err:  # a full disk, say: the WAL still holds every commit
                    logger.warning("WAL checkpoint failed (will try again): %s", err)
                if every > 0 and time.monotonic() - kept >= every:  # a kill -9 loses at most this much learning
                    kept = time.monotonic()
                    try:
                        self.keep_learned()
                    except (sqlite3.Error, OSError) as err:
                        logger.warning("storing the learned rates failed (will try again): %s", err)
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

    def _run_batch(self, batch: list[tuple[Command | _Between, Waiter, Callable | None]]) -> None:
        outcomes: list[tuple[Waiter, list[Event] | None, BaseException | None, Callable | None]] = []
        events: list[Event] = []
        results: list[tuple[Waiter, Any, BaseException | None]] = []
        started = time.perf_counter()
        with self.lock:
            for command, done, answer in batch:
                if isinstance(command, _Between):  # between two commands: nothing to commit for it
                    try:
                        outcomes.append((done, [], None, _constant(command.change())))
                    except Exception as err:
                        logger.exception("changing the catalogue failed")
                        outcomes.append((done, None, err, None))
                    continue
                try:
                    evs = engine.apply(self.state, command, self.clock())
                except QueueError as err:
                    events += err.events
                    outcomes.append((done, None, err, None))
                    continue
                except Exception as err:  # an engine bug: drop the whole batch, memory back to disk
                    logger.exception("command %r failed", command)
                    self.state = self._load()
                    _settle([(d, None, err) for _, d, _ in batch])
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
        return projections.iso(ts, self.tz)

    def headquarters_health(self) -> HeadquartersHealth:
        """The links to headquarters as /healthz and the manager's board show them, in the centre's time."""
        statuses = self.headquarters.statuses()
        since = self.headquarters.unreachable_since()
        links = [HeadquartersLinkHealth(name=s.name, state=s.state, last_success_at=self.iso(s.last_success_at),
                                        last_error=s.last_error, failing_since=self.iso(s.failing_since_at),
                                        failures=s.failures, next_try_at=self.iso(s.next_try_at))
                 for s in statuses]
        return HeadquartersHealth(reachable=since is None, unreachable_since=self.iso(since), links=links)

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
        """The ticket as the API shows it (``projections.ticket_out``)."""
        with self.lock:
            return projections.ticket_out(self.state, t, self.clock(), self.tz, self.settings.public_url, issued)

    def service_payload(self, service_id: str) -> ServiceStatePayload:
        with self.lock:
            return projections.service_payload(self.state, service_id, self.clock(), self.tz)

    def day_payload(self) -> DayStatePayload:
        """Whether the centre takes tickets now, and when it opens next: retained on ``state/day``."""
        d = self.settings.day
        with self.lock:
            return projections.day_payload(self.state, self.clock(), self.tz, d.opening_time, d.closing_time)

    def catalogue_payload(self) -> CatalogueStatePayload:
        """The national catalogue this centre runs with what it offers: retained on ``state/catalogue``."""
        with self.lock:
            return projections.catalogue_payload(self.state, self.catalogue, self.catalogue_applied_at,
                                                 self.offerings, self.tz)

    def counter_payload(self, counter_id: str) -> CounterStatePayload:
        with self.lock:
            return projections.counter_payload(self.state, counter_id, self.clock(), self.tz)

    def hall_payload(self) -> HallStatePayload:
        with self.lock:
            return projections.hall_payload(self.state, self.settings.centre_name, self.clock(), self.tz)

    def event_payload(self, ev: Event) -> EventPayload:
        """An event as devices and watchers hear it: no phone, no key, and a public ticket id."""
        return projections.event_payload(ev, self.tz)

    def touched(self, events: list[Event]) -> tuple[set[str], set[str], bool]:
        """The services, counters and whether the hall changed: what to republish."""
        with self.lock:
            return projections.touched(self.state, events)
