"""The national board's figures: centres side by side, national trend, worst service levels, CSV.

A centre's day is shown as the centre computed it (``centre_server.reports.figures``,
the one definition its board, reports and day close use); where headquarters
adds days or centres up it uses the same definitions: the service level is the
summed ``within_target`` over the summed ``measured``, a mean wait is weighted
by the visits measured.

Charts are small SVGs drawn here on the server: the page needs no script and
no CDN, and prints well.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import json
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date as Date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from centre_server.reports import figures
from hq import callcentre_store, daily
from hq.store import CENTRES_SQL, DATES_SQL, Store

logger = logging.getLogger(__name__)

FIGURES = ["arrived", "served", "served_share", "no_shows", "no_show_share", "cancelled", "transfers",
           "wait_mean_s", "wait_median_s", "wait_p90_s", "wait_max_s", "service_mean_s", "service_median_s",
           "service_p90_s", "service_max_s", "within_target", "measured", "within_target_share",
           "satisfaction_mean", "satisfaction_count"]


DEFAULT_TZ = "Africa/Nairobi"


def zone(name: str | None) -> ZoneInfo:
    """A centre's time zone (from its summary); Africa/Nairobi when absent or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: showing Nairobi time", name)
        return ZoneInfo(DEFAULT_TZ)


def local_time(ts: float | None, tz: str | None) -> dict[str, str] | None:
    """A moment as the centre's clock showed it: ``{"iso", "date", "time", "zone"}`` (zone as "EAT")."""
    if ts is None:
        return None
    t = datetime.fromtimestamp(ts, zone(tz))
    return {"iso": t.isoformat(timespec="seconds"), "date": t.date().isoformat(), "time": t.strftime("%H:%M"),
            "zone": t.tzname() or ""}


def date_range(last: str, days: int) -> list[str]:
    end = Date.fromisoformat(last)
    return [(end - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]


def sparkline(values: list[float | None], *, width: int = 120, height: int = 28, lo: float | None = None,
              hi: float | None = None) -> str:
    """An SVG polyline of the values (gaps where None); empty string when nothing to draw.

    Drawn once per distinct line: the page draws two per centre on every
    reload, and a 92-day board of 100 centres is 18,000 points.
    """
    return _sparkline(tuple(values), width, height, lo, hi)


@functools.lru_cache(maxsize=4096)
def _sparkline(values: tuple[float | None, ...], width: int, height: int, lo: float | None,
               hi: float | None) -> str:
    pts = [v for v in values if v is not None]
    if not pts:
        return ""
    lo = min(pts) if lo is None else lo
    hi = max(pts) if hi is None else hi
    span = (hi - lo) or 1.0
    n = max(1, len(values) - 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        x = 2 + i * (width - 4) / n
        y = height - 2 - (v - lo) / span * (height - 4)
        segments[-1].append(f"{x:.1f},{y:.1f}")
    lines = "".join(f'<polyline points="{" ".join(s)}" />' for s in segments if len(s) > 1)
    dots = "".join(f'<circle cx="{s[-1].split(",")[0]}" cy="{s[-1].split(",")[1]}" r="2" />'
                   for s in segments[-1:] if s)
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-hidden="true">{lines}{dots}</svg>')


def trend_chart(dates: list[str], arrived: list[int], share: list[float | None], *, width: int = 760,
                height: int = 200) -> str:
    """Bars of citizens per day and a line of the share within target (right axis 0-100%); drawn once per figures."""
    return _trend_chart(tuple(dates), tuple(arrived), tuple(share), width, height)


@functools.lru_cache(maxsize=256)
def _trend_chart(dates: tuple[str, ...], arrived: tuple[int, ...], share: tuple[float | None, ...], width: int,
                 height: int) -> str:
    if not dates:
        return ""
    top = max([*arrived, 1])
    left, bottom, plot_h = 44, 28, height - 40
    step = (width - left - 44) / len(dates)
    parts = [f'<svg class="trend" viewBox="0 0 {width} {height}" width="100%" role="img">']
    for frac in (0, 0.5, 1):
        y = height - bottom - frac * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 40}" y1="{y:.1f}" y2="{y:.1f}" />')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(top * frac)}</text>')
        parts.append(f'<text class="axis" x="{width - 36}" y="{y + 4:.1f}">{int(frac * 100)}%</text>')
    pts = []
    for i, (d, a, s) in enumerate(zip(dates, arrived, share)):
        x = left + i * step
        h = a / top * plot_h
        parts.append(f'<rect class="bar" x="{x + step * 0.15:.1f}" y="{height - bottom - h:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>{d}: {a}</title></rect>')
        if s is not None:
            pts.append(f"{x + step / 2:.1f},{height - bottom - s * plot_h:.1f}")
        if len(dates) <= 16 or i % 2 == 0:
            parts.append(f'<text class="axis" x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                         f'{d[5:]}</text>')
    if len(pts) > 1:
        parts.append(f'<polyline class="share" points="{" ".join(pts)}" />')
    for p in pts:
        x, y = p.split(",")
        parts.append(f'<circle class="share-dot" cx="{x}" cy="{y}" r="3" />')
    parts.append("</svg>")
    return "".join(parts)


def centre_names(store: Store) -> dict[str, str]:
    """Registered names: a summary's own ``centre_name`` is the centre's say, never shown as its name."""
    return {c["id"]: c["name"] for c in store.centres()}


def skipped_rows(store: Store, first: str, last: str) -> list[dict[str, Any]]:
    """Stored summaries of first..last that do not hold the summary's shape: left out of the figures, listed.

    A row stored before headquarters validated summaries (or written to the
    database by hand) must not break the board for every centre.
    """
    with store.tx() as cur:
        return skipped_in(cur, first, last)


def skipped_in(cur: Any, first: str, last: str) -> list[dict[str, Any]]:
    """``skipped_rows`` inside the caller's transaction."""
    cur.execute("SELECT centre_id, date, revision, problem FROM day_totals WHERE date >= ? AND date <= ? "
                "AND problem IS NOT NULL ORDER BY date, centre_id", [first, last])
    rows = cur.fetchall()
    for c, d, r, why in rows:
        logger.warning("skipped the stored summary of %s for %s (revision %s): %s", c, d, r, why)
    return [{"centre_id": c, "date": d, "revision": r, "reason": why} for c, d, r, why in rows]


NATIONAL_SQL = ("SELECT date, COUNT(*), SUM(arrived), SUM(served), SUM(within_target), SUM(measured), "
                "SUM(rating_sum), SUM(satisfaction_count) FROM day_totals "
                "WHERE date >= ? AND date <= ? AND problem IS NULL GROUP BY date")

# Per centre and service over the dates: the sums, and the first day it appears (whose names the board shows).
# Whole weeks inside the period come from ``week_services``, the days at its edges from ``day_services``
# (each edge a range of its own: each is then read from the covering index alone, never the wide rows).
SERVICES_SQL = ("WITH parts AS (SELECT centre_id, service_id, first_date, arrived, within_target, measured, wait_sum, "
                "wait_n FROM week_services WHERE week >= ? AND week <= ? UNION ALL "
                "SELECT centre_id, service_id, date, arrived, within_target, measured, wait_sum, wait_n "
                "FROM day_services WHERE date >= ? AND date <= ? UNION ALL "
                "SELECT centre_id, service_id, date, arrived, within_target, measured, wait_sum, wait_n "
                "FROM day_services WHERE date >= ? AND date <= ?) "
                "SELECT centre_id, service_id, MIN(first_date), SUM(within_target), SUM(measured), SUM(arrived), "
                "SUM(wait_sum), SUM(wait_n) FROM parts GROUP BY centre_id, service_id HAVING SUM(measured) >= ?")

NOTHING = ("1", "0")  # a date range no date is in


def period_parts(first: str, last: str) -> tuple[tuple[int, int], tuple[str, str], tuple[str, str]]:
    """The whole weeks inside first..last (``daily.week_of``; (1, 0) when none) and the day ranges either side."""
    w0, w1 = daily.week_of(first), daily.week_of(last)
    if daily.week_dates(w0)[0] < first:
        w0 += 1
    if daily.week_dates(w1)[1] > last:
        w1 -= 1
    if w0 > w1:
        return (1, 0), (first, last), NOTHING
    start, end = daily.week_dates(w0)[0], daily.week_dates(w1)[1]
    before = (first, (Date.fromisoformat(start) - timedelta(days=1)).isoformat()) if first < start else NOTHING
    after = ((Date.fromisoformat(end) + timedelta(days=1)).isoformat(), last) if end < last else NOTHING
    return (w0, w1), before, after


def worst_services(cur: Any, first: str, last: str, names: dict[str, str], min_measured: int,
                   limit: int = 12) -> list[dict[str, Any]]:
    """The centre-services with the lowest service level over first..last (at least ``min_measured`` visits).

    Ties (same level, same visits) keep the order the services first appear
    in: by day, centre, and place in the centre's menu. Read inside the
    caller's transaction.
    """
    weeks, before, after = period_parts(first, last)
    cur.execute(SERVICES_SQL, [*weeks, *before, *after, min_measured])
    sums = cur.fetchall()

    def rank(r: tuple[Any, ...]) -> tuple[Any, ...]:  # the order but for the place in the menu
        return figures.share(int(r[3]), int(r[4])), -int(r[4]), r[2], r[0]

    ranked = sorted(sums, key=rank)
    if len(ranked) > limit:  # the place in the menu only breaks ties: only the first ``limit`` and theirs
        cutoff = rank(ranked[limit - 1])
        ranked = [r for r in ranked if rank(r) <= cutoff]
    named: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    pairs = sorted({(r[0], r[2]) for r in ranked})
    for i in range(0, len(pairs), 50):  # each service's names on the first day it appears (by primary key)
        part = pairs[i:i + 50]
        cur.execute("SELECT centre_id, date, service_id, position, name_en, name_sw, target_wait_s FROM day_services "
                    f"WHERE {' OR '.join(['(centre_id = ? AND date = ?)'] * len(part))} ORDER BY position DESC",
                    [x for pair in part for x in pair])
        for row in cur.fetchall():
            named[(row[0], row[1], row[2])] = row[3:]  # the same service twice that day: its first place
    found = []
    for cid, sid, first_day, within, measured, arrived, wait_sum, wait_n in ranked:
        pos, en, sw, target = named[(cid, first_day, sid)]
        found.append({
            "centre_id": cid, "centre_name": names.get(cid), "service_id": sid, "name_en": en, "name_sw": sw,
            "target_wait_s": target, "within_target": int(within), "measured": int(measured),
            "arrived": int(arrived), "within_target_share": figures.share(int(within), int(measured)),
            "wait_mean_s": figures.seconds(wait_sum / wait_n) if wait_n else None,
            "_order": (first_day, cid, pos)})
    worst = sorted(found, key=lambda a: (a["within_target_share"], -a["measured"], a["_order"]))
    return [{k: v for k, v in a.items() if k != "_order"} for a in worst[:limit]]


NO_FEEDBACK: dict[str, Any] = {"count": 0, "mean": None, "unhappy": 0}


def callers_feedback(cur: Any, first: str, last: str) -> dict[str, dict[str, Any]]:
    """Callers' ratings of each centre recorded by the call centre on the dates first..last (Nairobi days).

    The board's period is a run of dates; a rating is a moment: the period
    runs from midnight of ``first`` to midnight after ``last``, headquarters'
    time (``DEFAULT_TZ``). Read inside the caller's transaction.
    """
    tz = zone(DEFAULT_TZ)
    since = datetime.combine(Date.fromisoformat(first), datetime.min.time(), tz).timestamp()
    until = datetime.combine(Date.fromisoformat(last) + timedelta(days=1), datetime.min.time(), tz).timestamp()
    return callcentre_store.feedback_sums(cur, since, until)


class Answers:
    """The board's answers already computed, each kept with the ``daily.generation`` it was computed at.

    The figures change when a summary arrives (once a night per centre), a
    centre is registered or a caller's rating is recorded; each of those
    moves the generation in its own transaction. The board is read far more
    often (every viewer's page reloads each minute), so an answer is computed
    once per generation and period and served again as JSON text until the
    generation moves. Kept per store (one process may serve two in tests).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.kept: OrderedDict[tuple[str, str, int, int], tuple[int, str]] = OrderedDict()
        self.flights: dict[tuple[tuple[str, str, int, int], int], threading.Event] = {}

    def get(self, key: tuple[str, str, int, int], gen: int) -> dict[str, Any] | None:
        with self.lock:
            found = self.kept.get(key)
            if found is None or found[0] != gen:
                return None
            self.kept.move_to_end(key)
            text = found[1]
        return dict(json.loads(text))  # a fresh copy: the pages add their own keys to what they get

    def put(self, key: tuple[str, str, int, int], gen: int, data: dict[str, Any]) -> None:
        text = json.dumps(data, separators=(",", ":"))
        with self.lock:
            self.kept[key] = (gen, text)
            self.kept.move_to_end(key)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)

    def once(self, key: tuple[str, str, int, int], gen: int, compute: Callable[[], dict[str, Any]],
             wait: float = 30.0) -> dict[str, Any]:
        """The answer for ``key`` at ``gen``, computed by one thread only.

        When the figures move, the warmer (``Warmer``) and a viewer, or several
        viewers, ask for the same answer at once: the first computes it, the
        others wait for it rather than each adding up the same rows again.
        """
        with self.lock:
            flight = self.flights.get((key, gen))
            mine = flight is None
            if flight is None:
                flight = self.flights[(key, gen)] = threading.Event()
        if not mine:
            flight.wait(wait)
            found = self.get(key, gen)
            return found if found is not None else compute()  # the other one failed or took too long
        try:
            data = compute()
            self.put(key, gen, data)
            return data
        finally:
            with self.lock:
                self.flights.pop((key, gen), None)
            flight.set()


ANSWERS = Answers()


def board_data(store: Store, day: str | None = None, days: int = 14, min_measured: int = 10) -> dict[str, Any]:
    """Everything the board page and ``GET /api/v1/board`` show, added up by the database (``hq.daily``).

    First one transaction: the dates, whether any of the period's figures are
    older than their summary (then ``daily.refresh`` fills them first) and the
    figures' generation; an answer computed at that generation is served as
    it was (``Answers``). Otherwise every figure in one more transaction: each
    query is a round trip, and on a busy machine a round trip waits for
    PostgreSQL's process to be scheduled.
    """
    with store.tx() as cur:
        cur.execute(DATES_SQL)
        dates_known = [r[0] for r in cur.fetchall()]
        if day is None:
            day = dates_known[-1] if dates_known else Date.today().isoformat()
        dates = date_range(day, days)
        todo = daily.stale(cur, dates[0], dates[-1])
        gen = daily.generation(cur)
    if todo:
        daily.refresh(store, dates[0], dates[-1])
        with store.tx() as cur:
            gen = daily.generation(cur)
    key = (store.url, day, days, min_measured)
    kept = ANSWERS.get(key, gen)
    if kept is not None and kept["known_dates"] == dates_known:
        return kept
    return ANSWERS.once(key, gen, lambda: compute_board(store, day, dates, dates_known, min_measured))


# The periods the board's links offer, ending at the newest date: computed by ``Warmer`` when the figures move.
COMMON_PERIODS = (14, 1, 7, 31, 92)


class Warmer:
    """Computes the board's common periods, ending at the newest date, as soon as its figures change.

    The first viewer after a change paid for a fresh answer (about 100 ms of
    CPU at 92 days, several times that in wall time on a busy machine), and a
    night moves the figures once per centre. This thread watches the
    generation (``daily.generation``, one indexed read every ``every``
    seconds); once it has stood still for ``quiet`` seconds, or ``patience``
    seconds after it first moved while summaries keep arriving, it computes
    ``COMMON_PERIODS`` so that viewers find them kept. A viewer asking while
    it computes waits for the same answer (``Answers.once``).
    """

    def __init__(self, store: Store, periods: tuple[int, ...] = COMMON_PERIODS, *, every: float = 1.0,
                 quiet: float = 2.0, patience: float = 30.0) -> None:
        self.store = store
        self.periods = periods
        self.every, self.quiet, self.patience = every, quiet, patience
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.warmed: int | None = None  # the generation whose answers are computed
        self.rounds = 0
        self.failing = False

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.run, name="board-warmer", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None

    def current(self) -> int:
        with self.store.tx() as cur:
            return daily.generation(cur)

    def warm(self, gen: int) -> None:
        """Compute (or find kept) every common period at the newest date."""
        started, cpu = time.perf_counter(), time.thread_time()
        for days in self.periods:
            board_data(self.store, None, days)
        self.rounds += 1
        logger.info("computed the board's common periods %s for generation %s in %.0f ms (%.0f ms of HQ's CPU, "
                    "PostgreSQL's apart)", self.periods, gen, (time.perf_counter() - started) * 1000,
                    (time.thread_time() - cpu) * 1000)

    def run(self) -> None:
        """Watch the generation until stopped; a failed round (the database restarting) is tried again later."""
        seen: int | None = None
        since = changed = 0.0
        while not self.stop_event.wait(self.every):
            try:
                gen = self.current()
                now = time.monotonic()
                if gen != seen:
                    if seen is None or seen == self.warmed:
                        since = now  # the first change after the last warming
                    seen, changed = gen, now
                if gen != self.warmed and (now - changed >= self.quiet or now - since >= self.patience):
                    self.warm(gen)
                    self.warmed = gen
                if self.failing:
                    logger.info("warming the board's common periods again")
                    self.failing = False
            except Exception:  # a database restart must not end the thread: try again at the next tick
                if not self.failing:  # once, not every second while the database is away
                    logger.exception("warming the board's common periods failed; trying again in %s s",
                                     self.patience)
                self.failing = True
                self.stop_event.wait(self.patience)  # a round that failed is not retried every second


def compute_board(store: Store, day: str, dates: list[str], dates_known: list[str],
                  min_measured: int) -> dict[str, Any]:
    """The board's answer for ``day`` and ``dates``, added up by the database in one transaction."""
    days = len(dates)
    by_centre: dict[str, dict[str, tuple[Any, ...]]] = defaultdict(dict)
    with store.tx() as cur:
        skipped = skipped_in(cur, dates[0], dates[-1])
        cur.execute(CENTRES_SQL)
        registered = {r[0]: r[1] for r in cur.fetchall()}
        names: dict[str, str] = dict(registered)
        cur.execute("SELECT centre_id, date, revision, received_at, timezone, simulated, arrived, "
                    "within_target_share, wait_mean_s, CASE WHEN date = ? THEN total END FROM day_totals "
                    "WHERE date >= ? AND date <= ? AND problem IS NULL", [day, dates[0], dates[-1]])
        for row in cur.fetchall():
            by_centre[row[0]][row[1]] = row
            names.setdefault(row[0], row[0])
        cur.execute(NATIONAL_SQL, [dates[0], dates[-1]])
        per_day = {r[0]: r for r in cur.fetchall()}
        worst = worst_services(cur, dates[0], dates[-1], names, min_measured)
        callers = callers_feedback(cur, dates[0], dates[-1])
    for cid in by_centre:
        names.setdefault(cid, cid)
    for k in skipped:
        k["centre_name"] = names.get(k["centre_id"], k["centre_id"])
    centres = []
    for cid in sorted(set(registered) | set(by_centre), key=lambda c: names.get(c, c)):
        days_of = by_centre.get(cid, {})
        today = days_of.get(day)
        trend = [days_of.get(d) for d in dates]
        latest = days_of[max(days_of)] if days_of else None
        tz = (today or latest or (None,) * 5)[4] or DEFAULT_TZ
        centres.append({
            "id": cid, "name": names.get(cid, cid), "timezone": tz, "callers": callers.get(cid, NO_FEEDBACK),
            "total": json.loads(today[9]) if today else None,
            "revision": today[2] if today else None,
            "received": local_time(today[3], tz) if today else None,
            "simulated": bool(today and today[5]),
            "arrived_trend": [t[6] if t else None for t in trend],
            "within_trend": [t[7] if t else None for t in trend],
            "wait_trend": [t[8] if t else None for t in trend],
            "reported_days": sum(1 for t in trend if t),
            "missing": [d for d in dates if d not in days_of],
        })
    national = []
    for d in dates:
        _, n, arrived, served, within, measured, ratings, rcount = per_day.get(d, (d, 0, 0, 0, 0, 0, 0.0, 0))
        national.append({"date": d, "centres": int(n), "arrived": int(arrived or 0), "served": int(served or 0),
                         "within_target_share": figures.share(int(within or 0), int(measured or 0)),
                         "satisfaction_mean": round(float(ratings) / int(rcount), 2) if rcount else None})
    return {"date": day, "dates": dates, "days": days, "centres": centres, "national": national,
            "worst": worst, "reporting": sum(1 for c in centres if c["total"]), "known_dates": dates_known,
            "skipped": skipped}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: text starting like a formula gets a leading quote.

    Centre-supplied text (service names, ids) reached the spreadsheet raw, so
    ``=HYPERLINK(...)`` became a live formula (OWASP "CSV injection").
    Numbers are left alone: the schema keeps them non-negative.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


SERVICE_EXTRA = ["service_id", "name_en", "name_sw", "target_wait_s", "issued", "transfers_in", "counters"]


def _text_cell(expr: str) -> str:
    """SQL of ``cell`` for text: a leading quote before a formula's first character; empty text as no value."""
    return (f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ({expr}) "
            f"ELSE NULLIF({expr}, '') END")


# One row per centre, day and service from the kept figures (``day_services.item``, each service as the
# centre sent it): PostgreSQL writes the CSV itself (``COPY ... TO STDOUT``), the same text csv.writer gives.
# ``json_to_record`` parses each item once and gives every value as the text it holds in the JSON, so a
# number is written exactly as Python wrote it (1.0 stays 1.0), without parsing any 33 KB summary.
SERVICES_COPY = (
    "COPY (SELECT {cid}, {name}, d.date, t.revision, t.simulated, {sid}, {en}, {sw}, {extra}, {figures} "
    "FROM day_services d JOIN day_totals t ON t.centre_id = d.centre_id AND t.date = d.date "
    "LEFT JOIN centres c ON c.id = d.centre_id CROSS JOIN LATERAL json_to_record(d.item::json) AS i({columns}) "
    "WHERE d.date >= {first} AND d.date <= {last} AND t.problem IS NULL "
    "ORDER BY d.date, d.centre_id, d.position) TO STDOUT WITH (FORMAT csv)")


def services_csv(store: Store, first: str, last: str) -> Iterator[str]:
    """The per-service export on PostgreSQL, streamed from ``COPY`` a few hundred KB at a time."""
    from psycopg import sql

    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(
        ["centre_id", "centre_name", "date", "revision", "simulated", *SERVICE_EXTRA, *FIGURES])
    yield header.getvalue()
    statement = SERVICES_COPY.format(
        cid=_text_cell("d.centre_id"), name=_text_cell("COALESCE(c.name, d.centre_id)"),
        sid=_text_cell("i.service_id"), en=_text_cell("i.name_en"), sw=_text_cell("i.name_sw"),
        extra=", ".join(f"i.{k}" for k in SERVICE_EXTRA[3:]), figures=", ".join(f"i.{k}" for k in FIGURES),
        columns=", ".join(f"{k} text" for k in [*SERVICE_EXTRA, *FIGURES]),
        first=sql.Literal(first).as_string(None), last=sql.Literal(last).as_string(None))
    for chunk in store.copy_out(statement):
        yield chunk.decode()


def export_csv(store: Store, first: str, last: str, level: str = "total") -> Iterator[str]:
    """One row per centre and day (``total``), per service (``services``) or per hour (``hours``), streamed.

    Centres are named by their registered name; rows that do not hold the
    summary's shape are left out (see ``skipped_rows``). The summaries are read
    through a server-side cursor and written a few hundred lines at a time, so
    a year's export does not hold a year in memory.
    """
    daily.refresh(store, first, last)
    if level == "services" and store.is_pg:
        yield from services_csv(store, first, last)
        return
    names = centre_names(store)
    extra = {"total": ["counters_open", "staffed_hours"],
             "services": ["service_id", "name_en", "name_sw", "target_wait_s", "issued", "transfers_in", "counters"],
             "hours": ["hour", "counters_open", "staffed_hours"]}[level]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["centre_id", "centre_name", "date", "revision", "simulated", *extra, *FIGURES])
    if level == "total":  # the day's totals are kept apart: no need to read the whole summary
        sql = ("SELECT centre_id, date, revision, total, simulated FROM day_totals "
               "WHERE date >= ? AND date <= ? AND problem IS NULL ORDER BY date, centre_id")
    else:
        sql = ("SELECT s.centre_id, s.date, s.revision, s.data, 0 FROM summaries s JOIN day_totals t "
               "ON t.centre_id = s.centre_id AND t.date = s.date AND t.revision = s.revision "
               "WHERE s.date >= ? AND s.date <= ? AND t.problem IS NULL ORDER BY s.date, s.centre_id")
    with store.stream(sql, [first, last]) as rows:
        for cid, day, revision, data, simulated in rows:
            if level == "total":
                items = [json.loads(data)]
            else:
                s = json.loads(data)
                items, simulated = s.get(level, []), s.get("simulated")
            for item in items:
                w.writerow([cell(x) for x in [
                    cid, names.get(cid, cid), day, revision,
                    int(bool(simulated)), *[item.get(k) for k in extra],
                    *["" if item.get(k) is None else item.get(k) for k in FIGURES]]])
            if out.tell() > 256 * 1024:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    yield out.getvalue()


def warming(store: Store) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan: a ``Warmer`` runs while headquarters serves, on PostgreSQL.

    SQLite is the small installation (the demo, a test): its board is cheap
    and its single connection is better left to the requests.
    """
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        warmer = Warmer(store) if store.is_pg else None
        app.state.board_warmer = warmer
        if warmer is not None:
            warmer.start()
        try:
            yield
        finally:
            if warmer is not None:
                await asyncio.to_thread(warmer.stop)  # waits for a round under way: not on the event loop
    return lifespan
