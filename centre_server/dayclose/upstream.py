"""The outbox sender: daily summaries to headquarters, whatever the link does.

A daemon thread with its own SQLite connection reads the outbox (rows with no
``sent_at`` whose ``next_attempt_at`` has come), posts each to
``{hq_url}/api/v1/summaries`` with ``Authorization: Bearer <hq_token>`` and
``Idempotency-Key: centre:date:revision``, and marks it sent on a 2xx answer.
Any failure (no route, refused, reset mid-request, timeout, 5xx, 4xx) keeps
the row and schedules the next attempt with exponential backoff and jitter.
Requests of the centre never wait on it. The thread is a ``runtime.periodic.Periodic``
(one shape with the centre's other links to headquarters); each row keeps its own
next try, so a pass sleeps until the next row is due. Headquarters stores a key once, so a
request whose answer was lost and is sent again is counted once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils

from centre_server.config import CentreSettings
from centre_server.contract.catalogue import CATALOGUE_VERSION_HEADER
from centre_server.runtime.periodic import Backoff, HeadquartersLink, LinkStatus, TryAgain, Untried, env_float
from centre_server.store import catalogue as catalogue_store, database as storage

logger = logging.getLogger(__name__)

SUMMARIES_PATH = "/api/v1/summaries"


__all__ = ["Backoff", "Sender", "payload_of", "rekey", "send_now", "status", "upstream_target"]


def upstream_target(settings: CentreSettings) -> tuple[str, str]:
    """(hq_url, hq_token) for this centre, as its centre.toml says: no address, no headquarters.

    A demo centre has no default headquarters either: tests and benches make demo centres by the dozen, and
    one that fell back to ``huduma-hq --demo`` on port 8100 fed a stranger's figures (and callers' bookings)
    to whoever runs the demo there. ``huduma-provision init --demo --demo-hq`` (``make run``) writes the
    demo headquarters' address and token into centre.toml instead."""
    return settings.upstream.hq_url.strip(), settings.upstream.hq_token.strip()


class Sender(HeadquartersLink):
    """Sends due outbox rows, oldest first; one instance per process."""

    def __init__(self, db_path: Path | str, hq_url: str, hq_token: str, *, backoff: Backoff | None = None,
                 poll_s: float = 5.0, timeout_s: float = 15.0, rng: random.Random | None = None) -> None:
        # a failed pass (the database, a bug) waits as a failed row does; rows keep their own times
        super().__init__("upstream-sender", "upstream sender to", hq_url, hq_token, every_s=poll_s,
                         backoff=backoff or Backoff(), rng=rng, timeout_s=timeout_s,
                         off_words="no [upstream] hq_url: summaries stay in the outbox until one is configured")
        self.db_path = Path(db_path)
        self.poll_s = poll_s
        self._db: sqlite_utils.Database | None = None
        self.sent = 0
        self.row_failures = 0  # rows not delivered, over the life of this sender
        self._pass_error: str | None = None
        self._tried = 0  # rows offered to headquarters in this pass
        self._due_now = False  # headquarters answered another link: what waits is due at once
        self._book: tuple[int, float] | None = None  # (most tries of a waiting summary, its next try), by the thread

    @classmethod
    def for_settings(cls, settings: CentreSettings) -> Sender:
        url, token = upstream_target(settings)
        backoff = Backoff(base_s=env_float("HUDUMA_SYNC_RETRY_MIN_S", 5.0),
                          cap_s=env_float("HUDUMA_SYNC_RETRY_MAX_S", 3600.0))
        return cls(settings.db_path, url, token, backoff=backoff,
                   poll_s=env_float("HUDUMA_SYNC_POLL_S", 5.0))

    # ---------------------------------------------------------------- thread

    def new_client(self) -> httpx.Client:
        """Made in the thread that sends (its own database connection): with this install's id."""
        self.install_id = self.install_id or storage.install_id(self.db)
        return super().new_client()

    def close(self) -> None:
        super().close()
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.conn.close()
            self._db = None

    def run_once(self) -> float:
        """Send what is due; a row that failed makes the pass a failure (for the log and the status), and the
        thread sleeps until the next row is due either way."""
        self._pass_error, self._tried = None, 0
        if self._due_now:
            self._due_now = False
            with self.db.conn:
                self.db.conn.execute("UPDATE outbox SET next_attempt_at=? WHERE sent_at IS NULL AND next_attempt_at>?",
                                     [time.time(), time.time()])
        self.send_due()
        self._read_book()
        if self._pass_error is not None:
            raise TryAgain(self._pass_error, after_s=self._sleep_s())
        if not self._tried:  # nothing was due: headquarters was not asked, the link's state stays as it was
            held = None if self.failures else self._failed_before()
            if held is not None:  # after a restart: a summary that failed before waits out its backoff
                raise TryAgain(held, after_s=self._sleep_s())
            raise Untried(self._sleep_s())
        return self._sleep_s()

    def _read_book(self) -> None:
        """What the outbox says of the summaries headquarters has not taken: the most tries any one has had (the
        rows keep their count across restarts) and when the next is due (its backoff, kept on the row)."""
        row = self.db.execute("SELECT MAX(attempts), MIN(next_attempt_at) FROM outbox WHERE sent_at IS NULL "
                              "AND attempts > 0").fetchone()
        self._book = (int(row[0]), float(row[1])) if row and row[0] is not None else None

    def status(self) -> LinkStatus:
        """The link's status, with the outbox's own figures while it fails: ``failures`` is how many times
        headquarters was asked for the summary waiting longest (not how many passes of this thread found it
        still waiting: those ask nobody), and ``next_try_at`` when a summary is next offered, after its backoff
        (not when the thread next looks at the outbox)."""
        st = super().status()
        book = self._book
        if st.state != "failing" or book is None:
            return st
        return replace(st, failures=max(1, book[0]), next_try_at=book[1])

    def headquarters_back(self) -> None:
        """Headquarters answered another link: the summaries waiting out their backoff go now, not in an hour
        (after a restart too: the rows keep their times, this thread's count of failures starts at nothing)."""
        self._due_now = True
        self.poke()

    def _failed_before(self) -> str | None:
        """The oldest undelivered summary that headquarters did not take at its last try, in words; None when
        none (a server restarted during an outage is failing, not "waiting", while one is held)."""
        row = self.db.execute("SELECT key, last_error FROM outbox WHERE sent_at IS NULL AND attempts > 0 "
                              "AND last_error IS NOT NULL ORDER BY id LIMIT 1").fetchone()
        return None if row is None else f"could not deliver {row[0]}: {row[1]}"

    def _sleep_s(self) -> float:
        """Until the next due row or the poll interval, whichever comes first."""
        try:
            row = self.db.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE sent_at IS NULL").fetchone()
        except Exception:
            return self.poll_s
        if row and row[0] is not None:
            return max(0.05, min(self.poll_s, row[0] - time.time()))
        return self.poll_s

    # ---------------------------------------------------------------- sending

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = storage.connect(self.db_path)
        return self._db

    def send_due(self, now: float | None = None, _again: int = 2) -> int:
        """One pass over the due rows; returns how many were delivered."""
        if not self.hq_url:
            return 0
        now = time.time() if now is None else now
        rows = self.db.execute("SELECT id, key, payload, attempts FROM outbox WHERE sent_at IS NULL "
                               "AND next_attempt_at <= ? ORDER BY id", [now]).fetchall()
        delivered = 0
        rekeyed = False
        for oid, key, payload, attempts in rows:
            if self.stopping:
                break
            error, detail = self._post(key, payload)
            self._tried += 1
            if detail.get("code") == "key_reused" and isinstance(detail.get("revision_held"), int):
                new_key = rekey(self.db, oid, payload, detail["revision_held"])
                logger.warning("headquarters holds other figures under %s: queued them again as %s", key, new_key)
                rekeyed = True
                continue
            with self.db.conn:
                if error is None:
                    self.db.conn.execute("UPDATE outbox SET sent_at=?, attempts=?, last_error=NULL WHERE id=?",
                                         [time.time(), attempts + 1, oid])
                    delivered += 1
                    self.sent += 1
                    logger.info("delivered %s to headquarters", key)
                else:
                    delay = self.backoff.delay(attempts + 1, self.rng)
                    self.db.conn.execute("UPDATE outbox SET attempts=?, next_attempt_at=?, last_error=? WHERE id=?",
                                         [attempts + 1, time.time() + delay, error[:500], oid])
                    self.row_failures += 1
                    self._pass_error = f"could not deliver {key}: {error}"
                    # the thread's log says it once per change of state (``Periodic``); each try is a debug line
                    logger.debug("could not deliver %s (%s); next try in %.1fs", key, error, delay)
        if rekeyed and _again:
            delivered += self.send_due(_again=_again - 1)
        return delivered

    def _post(self, key: str, payload: str) -> tuple[str | None, dict[str, Any]]:
        """(None, {}) when headquarters has the summary; else what went wrong, in words, and HQ's error object."""
        try:
            r = self.http.post(self.hq_url + SUMMARIES_PATH, content=payload.encode(),
                               headers={"Authorization": f"Bearer {self.hq_token}", "Idempotency-Key": key,
                                        "Content-Type": "application/json",
                                        # the national catalogue version running here, for HQ's uniformity page
                                        CATALOGUE_VERSION_HEADER: str(catalogue_store.applied(self.db)[0])})
        except httpx.HTTPError as err:
            return (f"{type(err).__name__}: {err}" if str(err) else type(err).__name__), {}
        if 200 <= r.status_code < 300:
            return None, {}
        try:
            detail = r.json()["error"]
            message = detail["message"]
        except Exception:
            detail, message = {}, r.text[:200]
        return f"HTTP {r.status_code}: {message}", detail if isinstance(detail, dict) else {}


def rekey(db: sqlite_utils.Database, outbox_id: int, payload: str, revision_held: int) -> str:
    """Queue a summary again above the revision HQ holds (a centre rebuilt from scratch reuses numbers).

    The figures are the same; they become the day's next revision here and at HQ,
    and the old outbox row is closed with a note saying where it went.
    """
    body = json.loads(payload)
    day = body["date"]
    now = time.time()
    conn = db.conn
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        local = conn.execute("SELECT COALESCE(MAX(revision), 0) FROM daily_summaries WHERE date=?", [day]).fetchone()[0]
        revision = max(local, revision_held) + 1
        key = f"{body['centre_id']}:{day}:{revision}"
        body.update(key=key, revision=revision, created_at=now)
        data = json.dumps(body["summary"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        conn.execute("INSERT INTO daily_summaries(centre_id, date, revision, created_at, data) VALUES (?,?,?,?,?)",
                     [body["centre_id"], day, revision, now, data])
        conn.execute("INSERT INTO outbox(key, payload, attempts, next_attempt_at, created_at) VALUES (?,?,0,?,?)",
                     [key, json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False), now, now])
        conn.execute("UPDATE outbox SET sent_at=?, last_error=? WHERE id=?",
                     [now, f"re-queued as {key}: headquarters held other figures under this key", outbox_id])
    return key


# --------------------------------------------------------------------------
# What is pending (for `huduma-centre sync-status`)
# --------------------------------------------------------------------------


def status(db: sqlite_utils.Database, limit: int = 50) -> dict[str, Any]:
    """Pending rows (oldest first) and the last delivered ones."""
    pending = [dict(zip(("key", "attempts", "next_attempt_at", "last_error", "created_at"), r))
               for r in db.execute("SELECT key, attempts, next_attempt_at, last_error, created_at FROM outbox "
                                   "WHERE sent_at IS NULL ORDER BY id LIMIT ?", [limit]).fetchall()]
    sent = [dict(zip(("key", "attempts", "sent_at", "note"), r))
            for r in db.execute("SELECT key, attempts, sent_at, last_error FROM outbox WHERE sent_at IS NOT NULL "
                                "ORDER BY sent_at DESC, id DESC LIMIT 10").fetchall()]
    counts = db.execute("SELECT COUNT(*) FILTER (WHERE sent_at IS NULL), COUNT(*) FILTER (WHERE sent_at IS NOT NULL) "
                        "FROM outbox").fetchone()
    return {"pending_count": counts[0], "sent_count": counts[1], "pending": pending, "recently_sent": sent}


def send_now(settings: CentreSettings) -> tuple[int, int]:
    """Try every pending row once, now (safe beside a running server: HQ stores each key once)."""
    url, token = upstream_target(settings)
    sender = Sender(settings.db_path, url, token)
    try:
        with sender.db.conn:
            sender.db.conn.execute("UPDATE outbox SET next_attempt_at=? WHERE sent_at IS NULL", [time.time()])
        delivered = sender.send_due()
        left = sender.db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
        return delivered, left
    finally:
        sender.close()


def payload_of(db: sqlite_utils.Database, key: str) -> dict[str, Any] | None:
    row = db.execute("SELECT payload FROM outbox WHERE key=?", [key]).fetchone()
    return json.loads(row[0]) if row else None
