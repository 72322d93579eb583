"""Headquarters storage: centres and their tokens, daily summaries, and the receipt of every key.

PostgreSQL (psycopg 3) in production, SQLite for a demo: the same SQL runs on
both (``ON CONFLICT ... DO UPDATE ... WHERE`` and ``RETURNING``). A summary is
stored by idempotency key ``centre:date:revision``: the same key twice is
stored once (the receipt counts the deliveries), a higher revision of a day
replaces the lower one, a lower revision arriving late changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centre_server.contract.errors import Refusal
from hq import daily, live_store

logger = logging.getLogger(__name__)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS centres (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "token_hash TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS summaries (centre_id TEXT NOT NULL, date TEXT NOT NULL, revision INTEGER NOT NULL, "
    "key TEXT NOT NULL, data TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (centre_id, date))",
    "CREATE INDEX IF NOT EXISTS summaries_by_date ON summaries (date)",
    # what ``daily.stale`` compares, read from the index alone (never the 33 KB rows) on every board request
    "CREATE INDEX IF NOT EXISTS summaries_held ON summaries (date, centre_id, revision, received_at)",
    "CREATE TABLE IF NOT EXISTS receipts (key TEXT PRIMARY KEY, centre_id TEXT NOT NULL, date TEXT NOT NULL, "
    "revision INTEGER NOT NULL, body_sha TEXT NOT NULL, first_at DOUBLE PRECISION NOT NULL, "
    "last_at DOUBLE PRECISION NOT NULL, deliveries INTEGER NOT NULL DEFAULT 1, outcome TEXT)",
    # which install of a centre may speak for its id (the first to call; an admin's re-bind or a new token frees
    # it), and the last other install refused (shown on the centres page): two servers never merge into one centre
    "CREATE TABLE IF NOT EXISTS centre_installs (centre_id TEXT PRIMARY KEY, install_id TEXT NOT NULL, "
    "bound_at DOUBLE PRECISION NOT NULL, refused_install TEXT, refused_at DOUBLE PRECISION, "
    "refused_count INTEGER NOT NULL DEFAULT 0)",
]

# What the tables of this version are made of: a store whose ``hq_schema`` holds this fingerprint needs no DDL.
SCHEMA_FINGERPRINT = hashlib.sha256(repr((SCHEMA, daily.SCHEMA, daily.UPGRADES, daily.INDEXES, daily.PG_VACUUM,
                                          live_store.SCHEMA)).encode()).hexdigest()
MIGRATION_LOCK = 7_220_001  # the advisory lock's key: one process migrates at a time


# Every registered centre (disabled too: its name still labels its past days), by id.
# Every statement planned for its own values. psycopg prepares a statement run 5 times on a connection, and
# PostgreSQL then switches to a plan for any values: for the board's date ranges (its stale check on every
# request) that plan merge-joined on the date alone and walked 455,000 index rows at 92 days: 12 ms became
# 135-190 ms on a pooled connection after about ten requests (the board's "served again" CPU that varied).
CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"
CENTRES_SQL = "SELECT id, name, created_at, disabled FROM centres ORDER BY id"
# Every date a summary is held for, walked through the index one probe per date (``Store.dates``).
DATES_SQL = ("WITH RECURSIVE d(date) AS (SELECT MIN(date) FROM summaries UNION ALL "
             "SELECT (SELECT MIN(date) FROM summaries WHERE date > d.date) FROM d WHERE d.date IS NOT NULL) "
             "SELECT date FROM d WHERE date IS NOT NULL")


class StoreError(Refusal):
    """A request headquarters refuses, with a code for the API."""

    def __init__(self, code: str, message: str, status: int = 409, extra: dict[str, Any] | None = None) -> None:
        super().__init__(status, code, message, **(extra or {}))


def hash_token(token: str) -> str:
    """Centre tokens are 256-bit random strings: a plain SHA-256 is a safe one-way store for them."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Stored:
    outcome: str  # stored | duplicate | superseded
    revision: int  # the revision headquarters holds for that day now
    deliveries: int


class Store:
    """Either backend behind one small interface; a connection per operation (thread-safe, simple)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_pg = url.startswith(("postgresql://", "postgres://"))
        self._sqlite_lock = threading.Lock()
        self._pool: Any = None
        if not self.is_pg:
            path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        if self.is_pg:
            from urllib.parse import urlsplit

            u = urlsplit(self.url)
            return f"PostgreSQL {u.hostname}:{u.port or 5432}{u.path}"
        return f"SQLite {self.path}"

    def pg_options(self) -> str:
        """The URL's own ``options`` (a test's ``search_path``, say) with ``CUSTOM_PLANS`` added, not replaced."""
        from psycopg.conninfo import conninfo_to_dict

        own = str(conninfo_to_dict(self.url).get("options") or "")
        return f"{own} {CUSTOM_PLANS}".strip()

    def pool(self) -> Any:
        """PostgreSQL connections kept open between requests (psycopg_pool), opened on first use.

        A board request runs a handful of queries; a new connection for each
        (a PostgreSQL backend forked every time) cost more than the queries.
        """
        with self._sqlite_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(self.url, min_size=1, max_size=8, timeout=10, open=True,
                                            kwargs={"connect_timeout": 10, "options": self.pg_options()},
                                            check=ConnectionPool.check_connection, name="hq")
            return self._pool

    @contextlib.contextmanager
    def tx(self) -> Iterator[Any]:
        """A cursor inside one transaction; ``?`` placeholders on both backends."""
        if self.is_pg:
            with self.pool().connection() as conn, conn.cursor() as cur:  # commits on success
                yield _PgCursor(cur)
        else:
            with self._sqlite_lock:
                conn = sqlite3.connect(self.path, timeout=30)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA busy_timeout=30000")
                    with conn:
                        yield conn.cursor()
                finally:
                    conn.close()

    def migrate(self) -> None:
        """Create and upgrade the tables, only when this version's schema is not there yet.

        A command (``huduma-hq add-centre``) opens the store beside a running headquarters: its DDL
        (``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` takes an exclusive lock even when the column exists)
        then met the server's transactions in another order, and PostgreSQL broke the deadlock by failing
        one. So the DDL runs once per schema version (``hq_schema`` keeps its fingerprint), and processes
        migrating at the same moment take turns (an advisory lock).
        """
        with self.tx() as cur:
            if self.is_pg:
                cur.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
            cur.execute("CREATE TABLE IF NOT EXISTS hq_schema (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL)")
            cur.execute("SELECT fingerprint FROM hq_schema WHERE id = 1")
            row = cur.fetchone()
            if row is not None and row[0] == SCHEMA_FINGERPRINT:
                return
            for stmt in SCHEMA:
                cur.execute(stmt)
            daily.migrate(cur, self.is_pg)  # the board's figures as columns (issue 22 item 5)
            live_store.migrate_in(cur)  # live figures and centres' places (issue 22)
            cur.execute("DELETE FROM hq_schema")
            cur.execute("INSERT INTO hq_schema(id, fingerprint) VALUES (1, ?)", [SCHEMA_FINGERPRINT])

    # ---------------------------------------------------------------- centres

    def add_centre(self, centre_id: str, name: str, token: str | None = None, *, replace: bool = False) -> str:
        """Register a centre and return its token (shown once; stored hashed)."""
        token = token or secrets.token_urlsafe(32)
        with self.tx() as cur:
            cur.execute("SELECT id FROM centres WHERE id=?", [centre_id])
            if cur.fetchone():
                if not replace:
                    raise StoreError("centre_exists", f"centre {centre_id!r} is registered already "
                                     f"(use --new-token to issue it a new token)")
                cur.execute("UPDATE centres SET name=?, token_hash=?, disabled=0 WHERE id=?",
                            [name, hash_token(token), centre_id])
                cur.execute("DELETE FROM centre_installs WHERE centre_id=?", [centre_id])  # a new token: bind anew
            else:
                cur.execute("INSERT INTO centres(id, name, token_hash, created_at) VALUES (?,?,?,?)",
                            [centre_id, name, hash_token(token), time.time()])
            daily.bump(cur)  # the board lists every registered centre by name
        return token

    def centre_for_token(self, token: str) -> dict[str, Any] | None:
        with self.tx() as cur:
            cur.execute("SELECT id, name, disabled FROM centres WHERE token_hash=?", [hash_token(token)])
            row = cur.fetchone()
        if row is None or row[2]:
            return None
        return {"id": row[0], "name": row[1]}

    def install_allowed(self, centre_id: str, install_id: str) -> bool:
        """Whether ``install_id`` may speak for ``centre_id``: the first install to call is bound to it; another
        is refused (and noted for the centres page) until an admin re-binds the centre or issues a new token."""
        with self.tx() as cur:
            cur.execute("SELECT install_id FROM centre_installs WHERE centre_id=?", [centre_id])
            row = cur.fetchone()
            if row is not None and row[0] == install_id:
                return True
            if row is None:
                cur.execute("INSERT INTO centre_installs(centre_id, install_id, bound_at) VALUES (?,?,?) "
                            "ON CONFLICT (centre_id) DO NOTHING", [centre_id, install_id, time.time()])
                cur.execute("SELECT install_id FROM centre_installs WHERE centre_id=?", [centre_id])
                if cur.fetchone()[0] == install_id:
                    logger.info("centre %s bound to install %s", centre_id, install_id)
                    return True
            cur.execute("UPDATE centre_installs SET refused_install=?, refused_at=?, refused_count=refused_count+1 "
                        "WHERE centre_id=?", [install_id, time.time(), centre_id])
        return False

    def rebind_install(self, centre_id: str) -> bool:
        """Free the centre's id for the next install that calls (a centre moved to a new server); False: none."""
        with self.tx() as cur:
            cur.execute("DELETE FROM centre_installs WHERE centre_id=?", [centre_id])
            return bool(cur.rowcount)

    def installs(self) -> dict[str, dict[str, Any]]:
        """Each bound centre's install and the last other install refused, by centre id."""
        with self.tx() as cur:
            cur.execute("SELECT centre_id, install_id, bound_at, refused_install, refused_at, refused_count "
                        "FROM centre_installs")
            return {r[0]: {"install_id": r[1], "bound_at": r[2], "refused_install": r[3], "refused_at": r[4],
                           "refused_count": r[5]} for r in cur.fetchall()}

    def centres(self) -> list[dict[str, Any]]:
        with self.tx() as cur:
            cur.execute(CENTRES_SQL)
            return [{"id": r[0], "name": r[1], "created_at": r[2], "disabled": bool(r[3])} for r in cur.fetchall()]

    # ---------------------------------------------------------------- summaries

    def put_summary(self, centre_id: str, key: str, day: str, revision: int, data: dict[str, Any]) -> Stored:
        """Store a summary once per key; a higher revision replaces a lower one."""
        body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        sha = hashlib.sha256(body.encode()).hexdigest()
        now = time.time()
        with self.tx() as cur:
            cur.execute("INSERT INTO receipts(key, centre_id, date, revision, body_sha, first_at, last_at, deliveries) "
                        "VALUES (?,?,?,?,?,?,?,1) ON CONFLICT (key) DO UPDATE SET "
                        "deliveries = receipts.deliveries + 1, last_at = excluded.last_at "
                        "RETURNING deliveries, body_sha", [key, centre_id, day, revision, sha, now, now])
            deliveries, known_sha = cur.fetchone()
            if deliveries > 1:
                if known_sha != sha:  # e.g. a centre rebuilt from scratch numbering its revisions again
                    cur.execute("SELECT MAX(revision) FROM receipts WHERE centre_id=? AND date=?", [centre_id, day])
                    highest = cur.fetchone()[0]
                    raise StoreError("key_reused", f"{key} was delivered before with different figures; "
                                     f"send them as a revision above {highest}", extra={"revision_held": highest})
                cur.execute("SELECT revision FROM summaries WHERE centre_id=? AND date=?", [centre_id, day])
                held = cur.fetchone()
                return Stored("duplicate", held[0] if held else revision, deliveries)
            cur.execute("INSERT INTO summaries(centre_id, date, revision, key, data, received_at) VALUES (?,?,?,?,?,?) "
                        "ON CONFLICT (centre_id, date) DO UPDATE SET revision=excluded.revision, key=excluded.key, "
                        "data=excluded.data, received_at=excluded.received_at "
                        "WHERE summaries.revision < excluded.revision RETURNING revision",
                        [centre_id, day, revision, key, body, now])
            stored = cur.fetchone()
            outcome = "stored" if stored else "superseded"
            if stored:
                daily.record(cur, centre_id, day, revision, now, data)  # the board's figures, same transaction
            cur.execute("UPDATE receipts SET outcome=? WHERE key=?", [outcome, key])
            if stored is None:
                cur.execute("SELECT revision FROM summaries WHERE centre_id=? AND date=?", [centre_id, day])
                held = cur.fetchone()
                return Stored(outcome, held[0], 1)
        logger.info("stored %s", key)
        return Stored(outcome, revision, 1)

    def summary(self, centre_id: str, day: str) -> dict[str, Any] | None:
        with self.tx() as cur:
            cur.execute("SELECT revision, key, data, received_at FROM summaries WHERE centre_id=? AND date=?",
                        [centre_id, day])
            row = cur.fetchone()
        if row is None:
            return None
        return {"centre_id": centre_id, "date": day, "revision": row[0], "key": row[1],
                "received_at": row[3], "summary": json.loads(row[2])}

    def summaries_between(self, first: str, last: str) -> list[dict[str, Any]]:
        """Every centre's stored summary for dates first..last (inclusive), oldest first."""
        with self.tx() as cur:
            cur.execute("SELECT centre_id, date, revision, data, received_at FROM summaries WHERE date >= ? "
                        "AND date <= ? ORDER BY date, centre_id", [first, last])
            rows = cur.fetchall()
        return [{"centre_id": c, "date": d, "revision": r, "summary": json.loads(data), "received_at": at}
                for c, d, r, data, at in rows]

    @contextlib.contextmanager
    def stream(self, sql: str, params: list[Any]) -> Iterator[Iterator[Any]]:
        """Rows of a long read, fetched a batch at a time (a server-side cursor): memory stays flat.

        SQLite reads through its own connection, so a long export does not
        hold the lock every other request needs (WAL lets readers run beside
        a writer).
        """
        if self.is_pg:
            import psycopg

            with psycopg.connect(self.url, connect_timeout=10) as conn, conn.cursor(name="hq_stream") as cur:
                cur.itersize = 200
                cur.execute(sql.replace("?", "%s"), params)
                yield iter(cur)
        else:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                yield iter(conn.execute(sql, params))
            finally:
                conn.close()

    def copy_out(self, statement: str, chunk: int = 256 * 1024) -> Iterator[bytes]:
        """PostgreSQL's ``COPY ... TO STDOUT`` output, ``chunk`` bytes at a time (a long export in flat memory).

        Its own connection, as ``stream``: an export of minutes must not hold
        one of the pool's few connections.
        """
        import psycopg

        buf = bytearray()
        with psycopg.connect(self.url, connect_timeout=10) as conn, conn.cursor() as cur, \
                cur.copy(statement) as copy:
            for data in copy:
                buf += data
                if len(buf) >= chunk:
                    yield bytes(buf)
                    buf.clear()
        yield bytes(buf)

    def dates(self) -> list[str]:
        """Every date some summary is held for, oldest first.

        Walked date by date through the index (one probe per date) rather
        than a DISTINCT over every row: a year of 100 centres is 36,500 rows
        but 365 dates, and the board asks on every request.
        """
        with self.tx() as cur:
            cur.execute(DATES_SQL)
            return [r[0] for r in cur.fetchall()]

    def receipts(self, centre_id: str | None = None) -> list[dict[str, Any]]:
        with self.tx() as cur:
            if centre_id:
                cur.execute("SELECT key, date, revision, deliveries, outcome FROM receipts WHERE centre_id=? "
                            "ORDER BY date, revision", [centre_id])
            else:
                cur.execute("SELECT key, date, revision, deliveries, outcome FROM receipts ORDER BY date, revision")
            return [dict(zip(("key", "date", "revision", "deliveries", "outcome"), r)) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        with self.tx() as cur:
            cur.execute("SELECT (SELECT COUNT(*) FROM centres), (SELECT COUNT(*) FROM summaries), "
                        "(SELECT COUNT(*) FROM receipts)")
            c, s, r = cur.fetchone()
        return {"centres": c, "summaries": s, "receipts": r}


class _PgCursor:
    """psycopg's cursor with ``?`` placeholders, so both backends share their SQL."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.cur.execute(sql.replace("?", "%s"), params or None)

    def executemany(self, sql: str, rows: list[list[Any]]) -> None:
        self.cur.executemany(sql.replace("?", "%s"), rows)

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self.cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount
