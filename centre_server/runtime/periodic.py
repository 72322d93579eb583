"""One shape for every thread that talks to headquarters: the catalogue sync, the live figures, the call
centre's inbox and the outbox sender of day summaries.

Each is a ``Periodic``: a daemon thread that runs ``run_once()`` every ``every_s``
seconds while headquarters answers, and backs off (exponential, jitter, a ceiling)
while it does not; a success resets the backoff. ``poke()`` runs a pass now (an
offering changed, a day was closed); ``stop()`` wakes a sleeping thread at once
and waits a moment for a request in flight, never longer: a request hanging on
headquarters must not hold up the centre's shutdown. The log says each change of
state once (started, failing, back, stopped) and, while it keeps failing, "still
failing" at most once a minute, so a week offline is a few hundred lines, not
tens of thousands. ``status()`` is what a board or a health check shows: the
last success, the last error, the next try.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from centre_server.contract import INSTALL_HEADER

logger = logging.getLogger(__name__)

STILL_FAILING_EVERY_S = 60.0  # while a link keeps failing, one log line a minute at most


def env_float(name: str, default: float) -> float:
    """A number from the environment (tests and the demo shorten waits this way); a bad value is the default."""
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt n waits about base * 2**(n-1), capped, half of it random."""

    base_s: float = 5.0
    cap_s: float = 3600.0

    @classmethod
    def for_link(cls, every_s: float, env: str, *, cap_at_least_s: float, cap_at_most_s: float) -> Backoff:
        """From a few seconds (never above the interval), doubling, to a ceiling of at least ``cap_at_least_s``
        and the interval; ``HUDUMA_<env>_RETRY_MIN_S`` / ``_MAX_S`` shorten both (the tests and the demo)."""
        return cls(base_s=min(every_s, env_float(f"HUDUMA_{env}_RETRY_MIN_S", 5.0)),
                   cap_s=min(max(every_s, cap_at_least_s), env_float(f"HUDUMA_{env}_RETRY_MAX_S", cap_at_most_s)))

    def delay(self, attempts: int, rng: random.Random) -> float:
        full = min(self.cap_s, self.base_s * (2 ** max(0, attempts - 1)))
        return full / 2 + rng.uniform(0, full / 2)


class TryAgain(Exception):
    """A pass that did not get through, with its own time for the next try (else the backoff decides).

    The outbox sender keeps a time per row; a pass that failed some rows says when the next row is due.
    """

    def __init__(self, words: str, after_s: float | None = None) -> None:
        super().__init__(words)
        self.after_s = after_s


class Untried(Exception):
    """A pass that did not speak to headquarters (the outbox sender with no row due): neither a success nor a
    failure, so the link's state stays what the last real try made it."""

    def __init__(self, after_s: float) -> None:
        super().__init__("nothing to send")
        self.after_s = after_s


# off: no address or interval (never runs); waiting: running, nothing heard yet; ok: the last try got through;
# failing: the last try did not; stopped: the thread has ended
LinkState = Literal["off", "waiting", "ok", "failing", "stopped"]


@dataclass(frozen=True)
class LinkStatus:
    """What one link to headquarters knows of itself (POSIX seconds; None: not yet)."""

    name: str
    running: bool
    last_success_at: float | None
    last_error: str | None
    failures: int  # in a row
    next_try_at: float | None
    failing_since_at: float | None = None  # the first failed try of this run of failures
    state: LinkState = "waiting"


class Periodic:
    """A thread that runs ``run_once`` now and then; subclasses say what a pass does and which errors mean
    "headquarters is away" (``expected``: logged in words) rather than a bug (logged with its traceback).
    The thread lives on after either."""

    expected: tuple[type[BaseException], ...] = ()

    def __init__(self, name: str, what: str, *, every_s: float, backoff: Backoff, rng: random.Random | None = None,
                 join_s: float = 2.0) -> None:
        self.name = name  # the thread's name
        self.what = what  # in the log: "catalogue sync with https://hq…"
        self.every_s = every_s
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.join_s = join_s
        self.failures = 0  # in a row, for the backoff
        self.last_success_at: float | None = None
        self.last_error: str | None = None
        self.next_try_at: float | None = None
        self._failing_since: float | None = None
        self.failing_since_at: float | None = None  # wall clock, for the board and /healthz
        self.off = False  # set by a link with no address: it never runs
        # told after each pass that got through (True: after failures) and each that failed
        self.on_heard: Callable[[Periodic, bool], None] | None = None
        self.on_failed: Callable[[Periodic], None] | None = None
        self._said_at = 0.0  # monotonic: when the log last spoke of this failure
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- what a subclass gives

    def run_once(self) -> float | None:
        """One pass; returns the wait until the next (None: ``every_s``). Raises when it did not get through."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of connections (the thread calls it when it ends; one-off users call it themselves)."""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Run a pass now, not at the next tick."""
        self._wake.set()

    wake = poke  # the name the day closer and the catalogue listeners know

    def stop(self) -> bool:
        """Stop and wake the thread; True when it ended (a request in flight may keep it a while: it is left)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            self.close()
            return True
        thread.join(self.join_s)
        if thread.is_alive():
            logger.info("%s: still waiting on headquarters; leaving it", self.what)
            return False
        return True

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def headquarters_back(self) -> None:
        """Another link heard headquarters again: try now rather than at the end of a long backoff."""
        if self.failures:
            self.poke()

    def status(self) -> LinkStatus:
        running = self._thread is not None and self._thread.is_alive()
        state: LinkState
        if self.off:
            state = "off"
        elif self._thread is not None and (not running or self._stop.is_set()):
            state = "stopped"
        elif self.failures:
            state = "failing"
        elif self.last_success_at is not None:
            state = "ok"
        else:
            state = "waiting"
        return LinkStatus(name=self.name, running=running,
                          last_success_at=self.last_success_at, last_error=self.last_error,
                          failures=self.failures, next_try_at=self.next_try_at,
                          failing_since_at=self.failing_since_at if self.failures else None, state=state)

    # ---------------------------------------------------------------- the loop

    def _run(self) -> None:
        logger.info("%s started (every %g s)", self.what, self.every_s)
        try:
            while not self._stop.is_set():
                wait = self._pass()
                self.next_try_at = time.time() + wait
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            self.next_try_at = None
            self.close()
            logger.info("%s stopped", self.what)

    def _pass(self) -> float:
        """One pass and its bookkeeping; the wait until the next."""
        try:
            wait = self.run_once()
        except Untried as quiet:
            return quiet.after_s
        except Exception as err:  # headquarters away, or a bug: the thread lives on and tries later
            return self._note_failure(err)
        self._note_success()
        return self.every_s if wait is None else wait

    def _note_success(self) -> None:
        back = self._failing_since is not None
        if self._failing_since is not None:
            logger.info("%s: headquarters answered again after %d failed tr%s over %.0f s", self.what,
                        self.failures, "y" if self.failures == 1 else "ies", time.monotonic() - self._failing_since)
        self.failures, self._failing_since, self.failing_since_at = 0, None, None
        self.last_success_at, self.last_error = time.time(), None
        if self.on_heard is not None:
            try:
                self.on_heard(self, back)
            except Exception:  # noqa: BLE001 - waking the others must never stop this link
                logger.exception("%s: telling the other links failed", self.what)

    def _note_failure(self, err: Exception) -> float:
        self.failures += 1
        self.last_error = describe(err, self.expected)
        after = err.after_s if isinstance(err, TryAgain) else None
        wait = self.backoff.delay(self.failures, self.rng) if after is None else after
        now = time.monotonic()
        bug = not isinstance(err, (TryAgain, *self.expected))
        if self._failing_since is None:
            self._failing_since, self._said_at, self.failing_since_at = now, now, time.time()
            if bug:
                logger.exception("%s: the pass failed; next try in %.1f s", self.what, wait)
            else:
                logger.warning("%s failing (%s); next try in %.1f s", self.what, self.last_error, wait)
        elif now - self._said_at >= STILL_FAILING_EVERY_S:
            self._said_at = now
            logger.warning("%s still failing after %d tries over %.0f s (%s); next try in %.1f s", self.what,
                           self.failures, now - self._failing_since, self.last_error, wait)
        else:
            logger.debug("%s: try %d failed (%s); next in %.1f s", self.what, self.failures, self.last_error, wait)
        if self.on_failed is not None:
            try:
                self.on_failed(self)
            except Exception:  # noqa: BLE001 - the book of the outage must never stop this link
                logger.exception("%s: noting the failure failed", self.what)
        return wait


class HeadquartersLink(Periodic):
    """A ``Periodic`` that speaks HTTP to headquarters with this centre's token: the address, the token,
    one client made when first needed and closed with the thread; no address (or no interval) keeps it off."""

    user_agent = "huduma-centre-sync/1"

    def __init__(self, name: str, what: str, hq_url: str, hq_token: str, *, every_s: float, backoff: Backoff,
                 timeout_s: float, off_words: str, rng: random.Random | None = None, join_s: float = 2.0) -> None:
        self.hq_url = hq_url.rstrip("/")
        super().__init__(name, f"{what} {self.hq_url}", every_s=every_s, backoff=backoff, rng=rng, join_s=join_s)
        self.hq_token = hq_token
        self.timeout_s = timeout_s
        self.off_words = off_words  # in the log when the link is off
        self.install_id = ""  # this install's id (``store.database.install_id``), sent with every request
        self._http: httpx.Client | None = None

    def start(self) -> None:
        if not self.hq_url or self.every_s <= 0:
            logger.info("%s", self.off_words)
            self.off = True
            return
        super().start()

    def client_headers(self) -> dict[str, str]:
        """What every request to headquarters carries: who is asking, and which install of the centre."""
        return {"User-Agent": self.user_agent, **({INSTALL_HEADER: self.install_id} if self.install_id else {})}

    def new_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout_s, headers=self.client_headers())

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = self.new_client()
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


class HeadquartersLinks:
    """The centre's links to headquarters, as one: what /healthz and the manager's board show, and the link that
    hears headquarters again wakes the others (their backoff may be half an hour long: the board would say
    "not reachable" that long after it came back, and the waiting summaries would wait as long).

    Since when headquarters has been away is kept in the centre's database (``headquarters_reach``): a server
    restarted during an outage says since when it really is, not since its restart."""

    def __init__(self, db_path: Path | str | None = None) -> None:
        self._links: list[Periodic] = []
        self._lock = threading.Lock()
        self._db_path = db_path
        self._db: sqlite3.Connection | None = None
        self._heard: set[int] = set()  # the links (by id) that got through at least once since the start
        self.away_since: float | None = self._read() if db_path is not None else None

    def add(self, link: Periodic) -> None:
        link.on_heard, link.on_failed = self._heard_from, self._failed
        with self._lock:
            self._links.append(link)

    def remove(self, link: Periodic) -> None:
        with self._lock:
            if link in self._links:
                self._links.remove(link)
        link.on_heard = link.on_failed = None

    def statuses(self) -> list[LinkStatus]:
        with self._lock:
            links = list(self._links)
        return [link.status() for link in links]

    def unreachable_since(self) -> float | None:
        """Since when no link gets through, the outage before a restart included; None while one does."""
        since = unreachable_since(self.statuses())
        if since is None:
            return None
        kept = self.away_since
        return since if kept is None else min(since, kept)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _heard_from(self, heard: Periodic, back: bool) -> None:
        if self.away_since is not None:
            self._keep(None)
        first = id(heard) not in self._heard
        self._heard.add(id(heard))
        if back or first:  # after a restart too: what waits from before the restart goes now
            with self._lock:
                others = [link for link in self._links if link is not heard]
            for link in others:
                link.headquarters_back()

    def _failed(self, link: Periodic) -> None:
        if self.away_since is None:
            since = unreachable_since(self.statuses())
            if since is not None:
                self._keep(since)

    # ---------------------------------------------------------------- the book, across restarts

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(str(self._db_path), timeout=30, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=30000")
        return self._db

    def _read(self) -> float | None:
        try:
            row = self._conn().execute("SELECT unreachable_since FROM headquarters_reach WHERE id = 1").fetchone()
        except sqlite3.Error as err:  # an old database (not migrated yet) or a locked one: nothing kept
            logger.warning("could not read since when headquarters is away: %s", err)
            return None
        return None if row is None or row[0] is None else float(row[0])

    def _keep(self, since: float | None) -> None:
        self.away_since = since
        if self._db_path is None:
            return
        try:
            with self._lock:
                self._conn().execute("UPDATE headquarters_reach SET unreachable_since = ? WHERE id = 1", [since])
        except sqlite3.Error as err:  # the board still shows this run's outage; the log says why
            logger.warning("could not keep since when headquarters is away: %s", err)


def unreachable_since(statuses: list[LinkStatus]) -> float | None:
    """Since when headquarters has not answered any link (POSIX seconds), or None while it answers.

    Headquarters is unreachable when some link is failing and no link got through since that run of
    failures began; one link failing while another gets through (a refused request, a bug) is not
    headquarters away, and is for the technician's /healthz, not the manager's board."""
    failing = [s.failing_since_at for s in statuses if s.state == "failing" and s.failing_since_at is not None]
    if not failing:
        return None
    since = min(failing)
    heard = max((s.last_success_at for s in statuses if s.last_success_at is not None), default=None)
    if heard is not None and heard >= since:
        return None
    return since


def describe(err: BaseException, expected: tuple[type[BaseException], ...] = ()) -> str:
    """An error in a line for the board: our own words as they are, anything else with its type."""
    words = str(err)
    if words and isinstance(err, (TryAgain, *expected)) and not _is_library_error(err):
        return words[:300]
    return (f"{type(err).__name__}: {words}" if words else type(err).__name__)[:300]


def _is_library_error(err: BaseException) -> bool:
    """A library's error (httpx, pydantic) keeps its type name: its message alone rarely says what failed."""
    return not type(err).__module__.startswith("centre_server")
