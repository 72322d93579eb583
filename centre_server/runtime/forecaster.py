"""The forecaster: a background thread that keeps the wait forecast table fresh.

Every ``period`` seconds it copies the live state under the centre's lock (a few
milliseconds: the waiting tickets, the counters and the learned figures,
``forecast.take_snapshot``), lets go of the lock, runs the futures
(``forecast.run_futures``) and leaves the table on the state's predictor, where the
issue path reads it in O(1). If it stops or falls behind, the table grows stale and
the estimator's closed forms answer again (``ForecastTable.max_age_s``). Nothing runs
while the day is closed or nobody waits and no counter serves. The first table is made
at the start, before the first ticket, and a new one at once (within ``WAKE_CHECK_S``)
after a counter opens, closes or pauses, which drops the old: the closed forms answer
for moments only, so consecutive tickets' figures come from the same method. After any
other change of the hall (a ticket issued, called, finished) a new table follows within
``AFTER_CHANGE_S`` while the CPU budget allows: a table made before a burst of tickets at a
shared counter does not know that the other services' newcomers stand ahead of the next
citizen (told 15 min at 22:40:12, 27 min by the next table with nothing else changed). Every refresh
draws the same random numbers (``seed``) and runs as many futures as the hall allows
(``forecast.TOP_UP_COMMANDS``), so a hall where nothing happened keeps its figures.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from centre_server.contract import CounterState
from centre_server.queue import engine, forecast
from centre_server.queue.engine import State
from centre_server.queue.estimate import ForecastTable

logger = logging.getLogger(__name__)

PERIOD_S = 15.0
MAX_SHARE = 0.04  # of one core, whatever the hall (the target: under 5 %)
CREDIT_S = 1.0  # CPU seconds the refreshes may spend at once (counters opening in the morning), then MAX_SHARE
WAKE_CHECK_S = 0.5  # how often a dropped table is looked for between refreshes
AFTER_CHANGE_S = 1.0  # a changed hall's new table, at the soonest this long after the last (a burst's events together)


class Live(Protocol):
    """What the forecaster reads of the running centre (``Centre`` is one)."""

    lock: Any  # the lock the writer holds while it changes the state
    state: State
    clock: Callable[[], float]


class Forecaster:
    """Started with the centre's writer, stopped with it (``Centre.start_writer``/``stop_writer``)."""

    def __init__(self, centre: Live, period_s: float = PERIOD_S, futures: int = forecast.FUTURES,
                 most: int = forecast.MAX_FUTURES) -> None:
        self.centre = centre
        self.period_s = period_s
        self.futures, self.most = futures, most
        # the same random numbers every refresh (common random numbers): a hall where nothing changed
        # keeps its figures, a citizen's estimate moves only when the hall does (``forecast.Draws``)
        self.seed = random.SystemRandom().getrandbits(64)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpu_s = 0.0  # this thread's CPU time, all refreshes together
        self.refreshes = 0
        self.started_at = 0.0
        self.last_took = 0.0  # the last refresh's CPU seconds
        self.seen_seq = -1  # the event log's last number when the last refresh looked at the hall
        self.looked_at = 0.0  # when it did (monotonic)
        # CPU the refreshes may spend: MAX_SHARE of each second accrues, up to CREDIT_S; a refresh spends its own
        self.credit, self.credit_at = CREDIT_S, time.monotonic()

    def start(self) -> None:
        """The first table is made here, before the first ticket after a (re)start: until a table
        exists the closed forms answer, and they and the futures can differ several-fold on shared
        counters (K023 printed 604 s, K024 a moment later 113 s)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.started_at = time.monotonic()
        self._refresh_logged()
        self._thread = threading.Thread(target=self._loop, name="wait-forecaster", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(10)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def cpu_share(self) -> float:
        """The share of one core the refreshes took since the start."""
        return self.cpu_s / max(1e-9, time.monotonic() - self.started_at)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wait()
            if not self._stop.is_set():
                self._refresh_logged()

    def _refresh_logged(self) -> None:
        began = time.thread_time()
        try:
            self.refresh()
        except Exception:  # a fault here must not stop the centre: the closed forms answer meanwhile
            logger.exception("wait forecast failed; the estimator's closed forms answer until the next one")
        self.last_took = time.thread_time() - began
        now = time.monotonic()
        self.credit, self.credit_at = self._credit(now) - self.last_took, now

    def _credit(self, now: float) -> float:
        return min(CREDIT_S, self.credit + (now - self.credit_at) * MAX_SHARE)

    def _wait(self) -> None:
        """Until the next refresh: a period, or sooner once the table was dropped (a counter opened,
        closed or paused: the estimator drops a table made with other counters) and counters serve, or
        the hall changed (``AFTER_CHANGE_S`` after the last look at the earliest).

        Never more than MAX_SHARE of a core over time: a refresh spends its CPU from a credit that
        grows by MAX_SHARE a second up to CREDIT_S. A dropped table (or a changed hall's) is made again
        at once while the credit holds one more refresh like the last; a periodic one waits while the credit is
        overdrawn, so a hall of hundreds waiting, where each refresh is dearer, gets them less often
        (past the table's age limit the closed forms answer)."""
        due = time.monotonic() + self.period_s
        while not self._stop.wait(max(0.0, min(WAKE_CHECK_S, due - time.monotonic()))):
            now = time.monotonic()
            credit = self._credit(now)
            if credit < 0.0:
                due = max(due, now + -credit / MAX_SHARE)
            elif now >= due or (credit >= self.last_took and (self._dropped() or self._changed(now))):
                return

    def _changed(self, now: float) -> bool:
        """Events since the last refresh looked at the hall (one attribute: read without the lock)."""
        return self.centre.state.last_seq != self.seen_seq and now - self.looked_at >= AFTER_CHANGE_S

    def _dropped(self) -> bool:
        """No table while a counter is open: the next ticket would get the closed forms' figure."""
        if self.centre.state.predictor.forecast is not None:  # one attribute: read without the lock
            return False
        with self.centre.lock:  # the writer may be changing the counters
            state = self.centre.state
            return (any(c.state is CounterState.open for c in state.counters.values())
                    and engine.day_closed_reason(state, self.centre.clock()) is None)

    def refresh(self) -> ForecastTable | None:
        """One refresh: the snapshot under the lock, the futures outside it, the table left on the state."""
        began = time.thread_time()
        centre = self.centre
        with centre.lock:
            state = centre.state
            now = centre.clock()
            self.seen_seq, self.looked_at = state.last_seq, time.monotonic()
            if engine.day_closed_reason(state, now) is not None or not any(
                    c.state is CounterState.open for c in state.counters.values()):
                return None
            snap = forecast.take_snapshot(state, now)
        table = forecast.run_futures(snap, self.futures, seed=self.seed, most=self.most)
        state.predictor.install(table)  # one attribute: the issue path reads the old or the new table whole
        self.cpu_s += time.thread_time() - began
        self.refreshes += 1
        for listener in list(getattr(centre, "forecast_listeners", ())):  # the boards' figures moved
            try:
                listener()
            except Exception:  # a board that cannot hear of it now hears at the next change
                logger.exception("forecast listener %r failed", listener)
        return table
