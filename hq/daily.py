"""The figures the national board reads, kept as columns when a summary arrives.

The board used to parse every stored summary (about 33 KB of JSON each) on
every request: 4.9 s for 92 days of 100 centres. Now ``Store.put_summary``
writes, in the same transaction as the summary, one ``day_totals`` row per
centre and day and one ``day_services`` row per service of that day; a newer
revision of a day replaces both (delete then insert), so nothing is counted
twice. ``hq.board`` adds them up in SQL.

What is kept is what the board adds up across centres and days:

* counts (``arrived``, ``served``, ``within_target``, ``measured``,
  ``satisfaction_count``): summed;
* a service level is summed ``within_target`` over summed ``measured``
  (``figures.share``), never a mean of daily shares;
* a mean wait across days is weighted (``wait_sum`` / ``wait_n``, see
  ``wait_weight``); a mean rating by its ratings (``rating_sum``);
* per service, the sums are also kept per week (``week_services``,
  recomputed from the week's days whenever one of them changes), so a
  92-day period adds up 13 weeks and the days at its edges;
* medians and p90s are NOT combined: a p90 over several days cannot be
  computed from daily p90s, so the board shows them per day only (the CSV);
* each service's own figures as the centre sent them (``item``, a small JSON
  object): the per-service CSV is read from here, never from the 33 KB
  summary.

A summary that does not hold the summary's shape (stored before headquarters
checked them, or written by hand) gets a ``day_totals`` row with its
``problem`` and no figures: the board lists it as skipped.

Rows stored before this table existed, or changed behind headquarters' back,
are found by ``stale`` (their revision or arrival time differs) and filled by
``refresh`` (``huduma-hq refresh-figures``, and before each board read for the
dates it shows).
"""

from __future__ import annotations

import json
import logging
from datetime import date as Date, timedelta
from typing import Any

from centre_server.contract import summary as schema

logger = logging.getLogger(__name__)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS day_totals (centre_id TEXT NOT NULL, date TEXT NOT NULL, revision INTEGER NOT NULL, "
    "received_at DOUBLE PRECISION NOT NULL, problem TEXT, timezone TEXT, simulated INTEGER NOT NULL DEFAULT 0, "
    "total TEXT, arrived INTEGER, served INTEGER, within_target INTEGER, measured INTEGER, "
    "within_target_share DOUBLE PRECISION, wait_mean_s DOUBLE PRECISION, satisfaction_count INTEGER, "
    "rating_sum DOUBLE PRECISION, kept INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (centre_id, date))",
    "CREATE INDEX IF NOT EXISTS day_totals_by_date ON day_totals (date, centre_id)",
    "CREATE TABLE IF NOT EXISTS day_services (centre_id TEXT NOT NULL, date TEXT NOT NULL, position INTEGER NOT NULL, "
    "service_id TEXT NOT NULL, name_en TEXT, name_sw TEXT, target_wait_s INTEGER, arrived INTEGER NOT NULL, "
    "within_target INTEGER NOT NULL, measured INTEGER NOT NULL, wait_sum DOUBLE PRECISION NOT NULL, "
    "wait_n INTEGER NOT NULL, item TEXT, PRIMARY KEY (centre_id, date, position))",
    # the same sums per centre, service and week (``week_of``): a 92-day period reads 13 weeks and a few days
    "CREATE TABLE IF NOT EXISTS week_services (centre_id TEXT NOT NULL, week INTEGER NOT NULL, "
    "service_id TEXT NOT NULL, first_date TEXT NOT NULL, arrived INTEGER NOT NULL, within_target INTEGER NOT NULL, "
    "measured INTEGER NOT NULL, wait_sum DOUBLE PRECISION NOT NULL, wait_n INTEGER NOT NULL, "
    "PRIMARY KEY (centre_id, week, service_id))",
]

EPOCH = Date(1970, 1, 1)


def week_of(day: str) -> int:
    """The week a date belongs to: whole 7-day blocks since 1970-01-01 (a Thursday); any fixed block would do."""
    return (Date.fromisoformat(day) - EPOCH).days // 7


def week_dates(week: int) -> tuple[str, str]:
    """The first and last date of a week (``week_of``)."""
    start = EPOCH + timedelta(days=week * 7)
    return start.isoformat(), (start + timedelta(days=6)).isoformat()


WEEK_SUMS = ("INSERT INTO week_services (centre_id, week, service_id, first_date, arrived, within_target, measured, "
             "wait_sum, wait_n) SELECT centre_id, ?, service_id, MIN(date), SUM(arrived), SUM(within_target), "
             "SUM(measured), SUM(wait_sum), SUM(wait_n) FROM day_services WHERE date >= ? AND date <= ? {centre} "
             "GROUP BY centre_id, service_id")


def sum_week(cur: Any, week: int, centre_id: str | None = None) -> None:
    """(Re)compute a week's sums from its days, for one centre or every centre: never a running total."""
    first, last = week_dates(week)
    if centre_id is None:
        cur.execute("DELETE FROM week_services WHERE week=?", [week])
        cur.execute(WEEK_SUMS.format(centre=""), [week, first, last])
    else:
        cur.execute("DELETE FROM week_services WHERE centre_id=? AND week=?", [centre_id, week])
        cur.execute(WEEK_SUMS.format(centre="AND centre_id = ?"), [week, first, last, centre_id])


# What a row holds, by the version of this module that wrote it: 2 added each service's own figures
# (``day_services.item``, the per-service CSV's source). Rows of an older version are refilled by ``refresh``.
KEPT = 2
UPGRADES = [("day_services", "item", "TEXT"), ("day_totals", "kept", "INTEGER NOT NULL DEFAULT 1")]
# what ``stale`` compares, read from the index alone on every board request (once the columns exist)
INDEXES = ["CREATE INDEX IF NOT EXISTS day_totals_held ON day_totals (date, centre_id, revision, received_at, kept)",
           # the days at a period's edges and a week's sums read from the index alone, never the wide rows
           # (``item`` makes a row about 700 bytes): it starts with the date, so it serves date ranges too
           "CREATE INDEX IF NOT EXISTS day_services_sums ON day_services (date, centre_id, service_id, arrived, "
           "within_target, measured, wait_sum, wait_n)",
           "DROP INDEX IF EXISTS day_services_by_date",
           "DROP INDEX IF EXISTS week_services_by_week",
           "CREATE INDEX IF NOT EXISTS week_services_sums ON week_services (week, centre_id, service_id, first_date, "
           "arrived, within_target, measured, wait_sum, wait_n)",
           # one row counting every change the board shows (``bump``): its answers are kept until it moves
           "CREATE TABLE IF NOT EXISTS board_generation (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
           "INSERT INTO board_generation (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"]


# PostgreSQL only: vacuum these tables after a night's rows, not after a fifth of the table (the default).
# The board reads them from covering indexes alone only while their pages are marked all-visible; a page
# written since the last vacuum sends each of its rows back to the wide table (``Heap Fetches``). With the
# defaults, ``day_services`` (1.4 million rows a year at 100 centres) would be vacuumed every 70 nights, so
# the newest days -- those every board reads -- were the ones not all-visible, and a rewrite of every row
# (``refresh-figures``) left the whole table so. Thresholds of about one night's rows keep it index-only.
# (A night of 100 centres: 3,800 ``day_services`` rows, 3,900 ``week_services`` rows rewritten, 100 days.)
PG_VACUUM = ["ALTER TABLE day_services SET (autovacuum_vacuum_insert_scale_factor = 0.001, "
             "autovacuum_vacuum_insert_threshold = 2000, autovacuum_vacuum_scale_factor = 0.002, "
             "autovacuum_vacuum_threshold = 1000)",
             "ALTER TABLE week_services SET (autovacuum_vacuum_insert_scale_factor = 0.005, "
             "autovacuum_vacuum_insert_threshold = 1000, autovacuum_vacuum_scale_factor = 0.005, "
             "autovacuum_vacuum_threshold = 1000)",
             "ALTER TABLE day_totals SET (autovacuum_vacuum_insert_scale_factor = 0.002, "
             "autovacuum_vacuum_insert_threshold = 50, autovacuum_vacuum_scale_factor = 0.01)",
             "ALTER TABLE summaries SET (autovacuum_vacuum_insert_scale_factor = 0.002, "
             "autovacuum_vacuum_insert_threshold = 50, autovacuum_vacuum_scale_factor = 0.01)"]


def bump(cur: Any) -> None:
    """Count a change the board shows (a day's figures, a centre's name, a caller's rating), in the writer's
    transaction: a board answer computed before it is not served again (``hq.board``'s cache)."""
    cur.execute("UPDATE board_generation SET n = n + 1 WHERE id = 1")


def generation(cur: Any) -> int:
    cur.execute("SELECT n FROM board_generation WHERE id = 1")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def migrate(cur: Any, is_pg: bool = True) -> None:
    """Create the tables, add the columns of later versions (``Store.migrate`` calls this).

    Rows already stored are filled by ``refresh`` (``huduma-hq refresh-figures``).
    """
    for stmt in SCHEMA:
        cur.execute(stmt)
    for table, column, kind in UPGRADES:
        if is_pg:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
        else:
            cur.execute(f"PRAGMA table_info({table})")
            if column not in {r[1] for r in cur.fetchall()}:
                cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    for stmt in INDEXES:
        cur.execute(stmt)
    for stmt in PG_VACUUM if is_pg else []:
        cur.execute(stmt)


def wait_weight(row: dict[str, Any]) -> int:
    """How many visits a day's mean wait stands for when days are added up.

    The summary does not carry the number of waits measured; ``measured``
    (visits called, plus those never called that waited past the target) is
    the nearest count it holds, at least 1 so a day with a wait never weighs
    nothing. The same weight the board has always used.
    """
    return max(1, int(row.get("measured", 0)))


TOTAL_COLUMNS = ["centre_id", "date", "revision", "received_at", "problem", "timezone", "simulated", "total",
                 "arrived", "served", "within_target", "measured", "within_target_share", "wait_mean_s",
                 "satisfaction_count", "rating_sum", "kept"]
SERVICE_COLUMNS = ["centre_id", "date", "position", "service_id", "name_en", "name_sw", "target_wait_s", "arrived",
                   "within_target", "measured", "wait_sum", "wait_n", "item"]


def rows_of(centre_id: str, day: str, revision: int, received_at: float,
            data: Any) -> tuple[list[Any], list[list[Any]]]:
    """A day's ``day_totals`` row and ``day_services`` rows (columns as ``TOTAL_COLUMNS``, ``SERVICE_COLUMNS``)."""
    why = schema.problem(data)
    if why is not None:
        return [centre_id, day, revision, received_at, why, None, 0, None, *[None] * 8, KEPT], []
    t = data["total"]
    total = [centre_id, day, revision, received_at, None, data.get("timezone"), int(bool(data.get("simulated"))),
             json.dumps(t, separators=(",", ":"), ensure_ascii=False), t["arrived"], t["served"],
             t["within_target"], t["measured"], t["within_target_share"], t["wait_mean_s"],
             t["satisfaction_count"], (t["satisfaction_mean"] or 0) * t["satisfaction_count"], KEPT]
    services = []
    for i, s in enumerate(data["services"]):
        n = wait_weight(s) if s["wait_mean_s"] is not None else 0
        services.append([centre_id, day, i, s["service_id"], s["name_en"], s["name_sw"], s["target_wait_s"],
                         s["arrived"], s["within_target"], s["measured"], (s["wait_mean_s"] or 0.0) * n, n,
                         json.dumps(s, separators=(",", ":"), ensure_ascii=False)])
    return total, services


def record(cur: Any, centre_id: str, day: str, revision: int, received_at: float, data: Any) -> None:
    """Replace a centre's day in the figure tables (inside the caller's transaction)."""
    total, services = rows_of(centre_id, day, revision, received_at, data)
    cur.execute("DELETE FROM day_services WHERE centre_id=? AND date=?", [centre_id, day])
    if services:
        cur.executemany(f"INSERT INTO day_services ({', '.join(SERVICE_COLUMNS)}) "
                        f"VALUES ({','.join('?' * len(SERVICE_COLUMNS))})", services)
    updates = ", ".join(f"{c}=excluded.{c}" for c in TOTAL_COLUMNS[2:])
    cur.execute(f"INSERT INTO day_totals ({', '.join(TOTAL_COLUMNS)}) VALUES ({','.join('?' * len(TOTAL_COLUMNS))}) "
                f"ON CONFLICT (centre_id, date) DO UPDATE SET {updates}", total)
    sum_week(cur, week_of(day), centre_id)
    bump(cur)  # last: the counter's row is locked only until this transaction commits


STALE = ("SELECT s.centre_id, s.date FROM summaries s LEFT JOIN day_totals t ON t.centre_id = s.centre_id "
         f"AND t.date = s.date AND t.revision = s.revision AND t.received_at = s.received_at AND t.kept >= {KEPT} "
         "{days} WHERE t.centre_id IS NULL {days_s} ORDER BY s.date, s.centre_id")


def stale(cur: Any, first: str | None = None, last: str | None = None) -> list[tuple[str, str]]:
    """Centre-days whose figures are missing or older than the summary held.

    Asked on every board request: both sides are read from their indexes
    alone (``summaries_held``, ``day_totals_held``), each within the dates.
    """
    if first is None or last is None:
        cur.execute(STALE.format(days="", days_s=""))
    else:
        cur.execute(STALE.format(days="AND t.date >= ? AND t.date <= ?", days_s="AND s.date >= ? AND s.date <= ?"),
                    [first, last, first, last])
    return [(r[0], r[1]) for r in cur.fetchall()]


def refresh(store: Any, first: str | None = None, last: str | None = None, batch: int = 200) -> int:
    """Fill the figures of every stored summary (of first..last) that lacks them; returns how many.

    Run once after upgrading a headquarters that already holds summaries
    (``huduma-hq refresh-figures``); the board also calls it for its dates, so
    a row changed by hand is never shown with old figures.
    """
    with store.tx() as cur:
        todo = stale(cur, first, last)
    if not todo:
        return 0
    if len(todo) > batch:
        logger.info("filling the board's figures of %s stored summaries", len(todo))
    done = 0
    for i in range(0, len(todo), batch):
        chunk = todo[i:i + batch]
        with store.tx() as cur:
            for centre_id, day in chunk:
                cur.execute("SELECT revision, received_at, data FROM summaries WHERE centre_id=? AND date=?",
                            [centre_id, day])
                row = cur.fetchone()
                if row is None:
                    continue
                try:
                    data = json.loads(row[2])
                except ValueError as err:
                    data = f"not JSON: {err}"
                record(cur, centre_id, day, row[0], row[1], data)
                done += 1
    return done
