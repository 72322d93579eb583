"""Headquarters at scale: a year of 100 centres in PostgreSQL, a real ``huduma-hq serve``, the figures.

Builds the history in a database of its own (``hq_bench_<random>``, dropped at
the end, also when the run fails): ``--centres`` x ``--days`` summaries made
from real ones (``centre_server.sim.daysim.simulate_engine_day``: the centre's
own engine and summary code, about 33 KB of JSON and 39 services each at 1,200
citizens), copied with ``COPY`` together with their board figures
(``hq.daily.rows_of``: the same rows headquarters writes when a summary
arrives). Then it starts a real ``huduma-hq serve`` process and measures:

* the board page and ``/api/v1/board`` for 1 to 92 days, at the newest date
  and at dates inside the year;
* a 92-day per-service CSV export, with the server's memory sampled while it
  streams;
* a night's summaries: every centre posting its next day (``POST
  /api/v1/summaries``) from ``--senders`` threads, latency p50/p99;
* the day: every centre posting a live snapshot of its 40 services each
  minute (``POST /api/v1/live``, spread over the minute as centres' clocks
  are) for ``--minutes`` while a viewer reloads the board, latency p50/p99;
  then all centres at once (the capacity);
* the backfill (``huduma-hq refresh-figures``'s function) over some days.

The board is read by a logged-in viewer (an account made in the bench's
database), as headquarters' roles require.

Usage: ``.venv/bin/python bench/hq_scale.py`` (100 centres x 365 days, a few
minutes); ``--days 92`` for the issue's earlier figure; ``--pg`` for another
server. Needs PostgreSQL where the user may ``CREATE DATABASE``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date as Date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from centre_server.contract.national import POLL_EVERY_S  # noqa: E402
from centre_server.menu import builtin_menu  # noqa: E402
from centre_server.sim.daysim import simulate_engine_day  # noqa: E402
from hq import daily  # noqa: E402
from hq.auth import Accounts, HqRole  # noqa: E402
from hq.catalogue import CatalogueStore, seed_demo  # noqa: E402
from hq.store import Store, hash_token  # noqa: E402

logger = logging.getLogger("hq_scale")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (as the centre's figures define it)."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def with_db(url: str, name: str) -> str:
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def templates(n: int, last: Date) -> list[dict]:
    """Real day summaries of centres of different sizes (600-2,000 citizens): the history is made of these."""
    out = []
    for i in range(n):
        citizens = 600 + (i * 97) % 1400
        out.append(simulate_engine_day((last - timedelta(days=i)).isoformat(), centre_id="template",
                                       centre_name="Template", citizens=citizens, seed=i))
    return out


def centre_ids(n: int) -> list[tuple[str, str]]:
    return [(f"centre-{i:04d}", f"Huduma Centre {i:04d}") for i in range(n)]


def build(url: str, centres: int, days: int, last: Date, tpl: list[dict]) -> dict[str, str]:
    """Register the centres (tokens returned) and COPY ``days`` summaries of each, with their board figures."""
    store = Store(url)
    store.migrate()
    tokens: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy("COPY centres (id, name, token_hash, created_at) FROM STDIN") as cp:
            for cid, name in centre_ids(centres):
                tokens[cid] = secrets.token_urlsafe(32)
                cp.write_row((cid, name, hash_token(tokens[cid]), time.time()))
        for back in range(days - 1, -1, -1):
            day = (last - timedelta(days=back)).isoformat()
            now = time.time()
            recs, totals, services = [], [], []
            with conn.cursor() as cur:
                with cur.copy("COPY summaries (centre_id, date, revision, key, data, received_at) FROM STDIN") as cp:
                    for k, (cid, name) in enumerate(centre_ids(centres)):
                        data = dict(tpl[(k * 7 + back) % len(tpl)], centre_id=cid, centre_name=name, date=day)
                        body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                        cp.write_row((cid, day, 1, f"{cid}:{day}:1", body, now))
                        recs.append((f"{cid}:{day}:1", cid, day, 1, "-", now, now, 1, "stored"))
                        t, s = daily.rows_of(cid, day, 1, now, data)
                        totals.append(t)
                        services.extend(s)
                with cur.copy("COPY receipts (key, centre_id, date, revision, body_sha, first_at, last_at, "
                              "deliveries, outcome) FROM STDIN") as cp:
                    for r in recs:
                        cp.write_row(r)
                with cur.copy(f"COPY day_totals ({', '.join(daily.TOTAL_COLUMNS)}) FROM STDIN") as cp:
                    for r in totals:
                        cp.write_row(r)
                with cur.copy(f"COPY day_services ({', '.join(daily.SERVICE_COLUMNS)}) FROM STDIN") as cp:
                    for r in services:
                        cp.write_row(r)
            conn.commit()
    with store.tx() as cur:  # the weekly sums, as record() keeps them: from the days
        first = (last - timedelta(days=days - 1)).isoformat()
        for week in range(daily.week_of(first), daily.week_of(last.isoformat()) + 1):
            daily.sum_week(cur, week)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return tokens


def reuse(url: str, centres: int) -> dict[str, str]:
    """A kept database's centres get new tokens (only their hashes are stored); the schema is brought up to date."""
    Store(url).migrate()
    tokens = {cid: secrets.token_urlsafe(32) for cid, _ in centre_ids(centres)}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany("UPDATE centres SET token_hash = %s WHERE id = %s",
                        [(hash_token(tok), cid) for cid, tok in tokens.items()])
    with psycopg.connect(url) as conn:  # kept before the services' own figures were: filled in SQL, once
        if conn.execute("SELECT 1 FROM day_totals WHERE kept < %s LIMIT 1", [daily.KEPT]).fetchone():
            t = time.perf_counter()
            conn.execute("WITH x AS MATERIALIZED (SELECT s.centre_id, s.date, e.n - 1 AS position, "
                         "e.value::text AS item FROM summaries s, "
                         "json_array_elements(s.data::json -> 'services') WITH ORDINALITY e(value, n)) "
                         "UPDATE day_services d SET item = x.item FROM x WHERE d.centre_id = x.centre_id "
                         "AND d.date = x.date AND d.position = x.position AND d.item IS NULL")
            conn.execute("UPDATE day_totals SET kept = %s WHERE kept < %s", [daily.KEPT, daily.KEPT])
            conn.commit()
            print(f"  services' own figures filled in SQL in {time.perf_counter() - t:.0f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return tokens


def sizes(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        out = {}
        for t in ("summaries", "day_totals", "day_services", "week_services"):
            n, size = conn.execute(f"SELECT COUNT(*), pg_size_pretty(pg_total_relation_size('{t}')) "
                                   f"FROM {t}").fetchone()
            out[t] = f"{n:,} rows, {size}"
        out["database"] = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        return out


def workers(server: psutil.Process, url: str) -> list[psutil.Process]:
    """HQ's process and the PostgreSQL backends serving it: whose CPU a request costs.

    Only the backends whose client is HQ's process (matched by its TCP ports):
    every backend of the database also counted a psql session or another
    process using the same database meanwhile, and autovacuum's workers are
    not a request's either.
    """
    ports = {c.laddr.port for c in server.net_connections(kind="inet") if c.raddr}
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()
    return [server, *[psutil.Process(pid) for pid, port in rows if port in ports and psutil.pid_exists(pid)]]


class Meter:
    """CPU of HQ's process and of its PostgreSQL backends, those opened meanwhile included.

    The connection pool opens backends on demand: a list taken before a
    request missed the backend a busy moment made it open. Each reading
    lists HQ's backends again (``workers``); one opened since counts from zero.
    """

    def __init__(self, server: psutil.Process, url: str) -> None:
        self.server, self.url = server, url

    def read(self) -> dict[int, float]:
        out = {}
        for p in workers(self.server, self.url):
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        return out

    def since(self, before: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in self.read().items())


def bump(url: str) -> None:
    """Move the figures' generation as ``hq.daily.bump`` does (as when a summary arrives)."""
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE board_generation SET n = n + 1 WHERE id = 1")


def cold_get(client: httpx.Client, url: str, path: str, params: dict,
             meter: Meter | None = None, settle: float = 0.0) -> tuple[float, float]:
    """Wall time and CPU of a GET after the board's figures changed (as when a summary arrives).

    With ``settle`` 0 the GET follows the change at once: headquarters
    computes the answer afresh (or waits for its warmer computing the same).
    With ``settle`` a few seconds, the warmer (``hq.board.Warmer``) has had
    the time it takes after a night's last summary: a common period is kept.
    """
    bump(url)
    time.sleep(settle)
    cpu0 = meter.read() if meter else {}
    t = time.perf_counter()
    r = client.get(path, params=params)
    took = time.perf_counter() - t
    r.raise_for_status()
    return took, meter.since(cpu0) if meter else 0.0


def timed_get(client: httpx.Client, path: str, params: dict, repeat: int,
              meter: Meter | None = None) -> tuple[float, float, int, float]:
    """Median and worst wall time of ``repeat`` GETs (after one warm-up), the body size, and CPU per request.

    The CPU (HQ's process plus its PostgreSQL backends) does not grow with the
    machine's load as wall time does: on a quiet 2-core machine a request
    takes about its CPU time.
    """
    r = client.get(path, params=params)
    r.raise_for_status()
    times = []
    cpu0 = meter.read() if meter else {}
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path, params=params)
        times.append(time.perf_counter() - t)
        r.raise_for_status()
    cpu = (meter.since(cpu0) if meter else 0.0) / repeat
    return statistics.median(times), max(times), len(r.content), cpu


def csv_export(client: httpx.Client, server: psutil.Process, first: str, last: str, level: str) -> dict[str, float]:
    """Stream the export, sampling the server's resident memory every 20 ms."""
    base = server.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], server.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    size = lines = 0
    first_byte = None
    with client.stream("GET", "/export.csv", params={"from": first, "to": last, "level": level}) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - t
            size += len(chunk)
            lines += chunk.count(b"\n")
    took = time.perf_counter() - t
    stop.set()
    th.join()
    return {"seconds": took, "first_byte": first_byte or took, "mb": size / 1e6, "lines": lines,
            "rss_before_mb": base / 1e6, "rss_peak_mb": peak[0] / 1e6, "growth_mb": (peak[0] - base) / 1e6}


def night(url: str, tokens: dict[str, str], day: str, tpl: list[dict], senders: int,
          revision: int = 1) -> list[float]:
    """Every centre sends its summary of ``day`` (as its outbox does after closing): latencies in seconds.

    ``revision`` is above any held for that day (a kept database, ``--db``, holds that night already).
    """
    names = dict(centre_ids(len(tokens)))
    bodies = []
    for k, cid in enumerate(sorted(tokens)):
        data = dict(tpl[k % len(tpl)], centre_id=cid, centre_name=names[cid], date=day)
        key = f"{cid}:{day}:{revision}"
        bodies.append((cid, key, {"key": key, "centre_id": cid, "centre_name": names[cid], "date": day,
                                  "revision": revision, "summary": data}))
    latencies: list[float] = []

    def send(item: tuple[str, str, dict]) -> None:
        cid, key, body = item
        with httpx.Client(base_url=url, timeout=60) as c:
            t = time.perf_counter()
            r = c.post("/api/v1/summaries", json=body,
                       headers={"Authorization": f"Bearer {tokens[cid]}", "Idempotency-Key": key})
            latencies.append(time.perf_counter() - t)
            if r.status_code != 201:
                raise RuntimeError(f"{key}: {r.status_code} {r.text[:200]}")

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, bodies))
    return latencies


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry (headquarters' forms refuse a POST without it)."""
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    return found.group(1) if found else ""


@contextlib.contextmanager
def login(base: str, url: str, role: HqRole = HqRole.viewer, username: str = "bench-viewer") -> Iterator[httpx.Client]:
    """A staff member's session (a viewer unless told), through the login form as a browser would."""
    password = secrets.token_urlsafe(12)
    accounts = Accounts(Store(url))
    accounts.migrate()
    accounts.add(username, role, password, replace=True)
    client = httpx.Client(base_url=base, timeout=120, follow_redirects=False)
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"username": username, "password": password,
                                          "csrf": csrf_of(page.text), "next": "/admin"})
    if r.status_code != 303:
        raise SystemExit(f"could not log in as {username}: {r.status_code} {r.text[:200]}")
    try:
        yield client
    finally:
        client.close()


def snapshot(cid: str, k: int, tick: int, day: str) -> dict:
    """A centre's live snapshot: the 39 services of the shipped menu and one of its own (40)."""
    from datetime import datetime

    menu = [(s.id, s.prefix) for s in builtin_menu()][:39] + [("local-notary", "ZN")]
    services = []
    for j, (sid, prefix) in enumerate(menu):
        waiting = (k * 7 + j * 3 + tick) % 30
        services.append({"service_id": sid, "prefix": prefix, "offered": True, "suspended": False, "reason": None,
                         "accepting": True, "waiting": waiting, "estimated_wait_s": waiting * 120,
                         "open_counters": 1 + (j + k) % 3, "service_level": 0.8, "measured": 40 + tick,
                         "issued_today": 60 + tick})
    return {"centre_id": cid, "taken_at": datetime.now(UTC).isoformat(), "day": day,
            "timezone": "Africa/Nairobi", "catalogue_version": 1,
            "hours": {"open_today": True, "opens": "08:00", "closes": "17:00"}, "services": services}


def live_day(base: str, tokens: dict[str, str], day: str, minutes: float, senders: int,
             viewer: httpx.Client) -> tuple[list[float], list[float], int]:
    """Each centre posts a snapshot once a minute at its own second, for ``minutes``; a viewer reloads the board.

    Returns the snapshots' latencies, the board's, and how many snapshots were refused.
    """
    ids = sorted(tokens)
    latencies: list[float] = []
    refused = [0]
    local = threading.local()

    def send(item: tuple[int, int]) -> None:
        k, tick = item
        client = getattr(local, "client", None) or httpx.Client(base_url=base, timeout=60)
        local.client = client
        body = snapshot(ids[k], k, tick, day)
        t = time.perf_counter()
        r = client.post("/api/v1/live", json=body, headers={"Authorization": f"Bearer {tokens[ids[k]]}"})
        latencies.append(time.perf_counter() - t)
        if r.status_code != 201:
            refused[0] += 1
            if refused[0] <= 3:
                print(f"  refused: {r.status_code} {r.text[:200]}")

    board_times: list[float] = []
    stop = threading.Event()

    def reload_board() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            viewer.get("/api/v1/board", params={"days": 7}).raise_for_status()
            board_times.append(time.perf_counter() - t)
            stop.wait(5)

    reader = threading.Thread(target=reload_board, daemon=True)
    reader.start()
    start = time.perf_counter()
    n = len(ids)
    with ThreadPoolExecutor(senders) as pool:
        futures = []
        for i in range(int(minutes * n)):
            tick, k = divmod(i, n)
            due = start + tick * 60 + k * 60 / n
            time.sleep(max(0.0, due - time.perf_counter()))
            futures.append(pool.submit(send, (k, tick)))
        for f in futures:
            f.result()
    stop.set()
    reader.join()
    return latencies, board_times, refused[0]


def warmer_rounds(log: Path) -> None:
    """How often HQ's warmer computed the board's common periods, and how long a round took (from its log)."""
    rounds = re.findall(r"computed the board's common periods .* in (\d+) ms \((\d+) ms of HQ's CPU",
                        log.read_text())
    if rounds:
        took, cpu = [float(r[0]) for r in rounds], [float(r[1]) for r in rounds]
        print(f"\nHQ's warmer: {len(took)} rounds of the common periods, median {statistics.median(took):.0f} ms "
              f"({statistics.median(cpu):.0f} ms of HQ's CPU), longest {max(took):.0f} ms (from HQ's log)")


SETTLE = 5.0  # seconds after a change by which HQ's warmer (1 s ticks, 2 s of quiet) has computed the common periods


def board_figures(base: str, url: str, proc: psutil.Process, last: Date, args: argparse.Namespace) -> None:
    """The board page and its JSON for 1 to 92 days, at the newest date and inside the year."""
    print("\nboard (target <= 300 ms for any period up to 92 days)"
          "\n  after a change: at once (computed) | 5 s later (warmer) | again (kept): median, worst | body"
          "\n  each with the CPU of HQ + PostgreSQL")
    worst_all = worst_cpu = worst_cold = worst_cold_cpu = worst_warm = worst_warm_cpu = 0.0
    mid = (last - timedelta(days=args.days // 2)).isoformat()
    meter = Meter(proc, url)
    with login(base, url) as client:
        for path in ("/api/v1/board", "/"):
            for at, span in [(None, 1), (None, 7), (None, 14), (None, 31), (None, 92), (mid, 92), (mid, 7)]:
                if span > args.days:
                    continue
                params: dict[str, str | int] = {"days": span}
                if at:
                    params["date"] = at
                warm, warm_cpu = cold_get(client, url, path, params, meter, settle=SETTLE)
                cold, cold_cpu = cold_get(client, url, path, params, meter)
                time.sleep(SETTLE)  # the warmer's round after that change is not a kept answer's CPU
                med, worst, size, cpu = timed_get(client, path, params, args.repeat, meter)
                worst_all = max(worst_all, worst)
                worst_cpu = max(worst_cpu, cpu)
                worst_cold, worst_cold_cpu = max(worst_cold, cold), max(worst_cold_cpu, cold_cpu)
                if not at:  # the warmer computes the periods ending at the newest date
                    worst_warm, worst_warm_cpu = max(worst_warm, warm), max(worst_warm_cpu, warm_cpu)
                label = f"{path}?days={span}" + (f"&date={at}" if at else "")
                print(f"  {label:34} {ms(cold):>7} ({ms(cold_cpu):>6} CPU) | {ms(warm):>7} ({ms(warm_cpu):>6} CPU) "
                      f"| {ms(med):>6} {ms(worst):>6} ({ms(cpu):>5} CPU) | {size / 1000:4.0f} KB")
    print(f"  worst computed at once: {ms(worst_cold)} ({ms(worst_cold_cpu)} CPU); worst 5 s after a change, "
          f"newest date: {ms(worst_warm)} ({ms(worst_warm_cpu)} CPU); worst kept: {ms(worst_all)} "
          f"({ms(worst_cpu)} CPU); {'ok' if max(worst_all, worst_cold) <= 0.3 else 'MISSED'} "
          f"at load {os.getloadavg()[0]:.1f}")


def csv_figures(base: str, url: str, proc: psutil.Process, last: Date, args: argparse.Namespace) -> None:
    """The 92-day export per service and per centre-day, with the server's memory sampled."""
    first = (last - timedelta(days=min(92, args.days) - 1)).isoformat()
    print(f"\nCSV export {first}..{last} (target: streamed, server memory growth <= 50 MB)")
    with login(base, url) as client:
        for level in ("services", "total"):
            e = csv_export(client, proc, first, last.isoformat(), level)
            print(f"  level={level:9} {e['mb']:6.1f} MB, {e['lines']:,} lines in {e['seconds']:.1f} s "
                  f"(first byte {ms(e['first_byte'])}); server {e['rss_before_mb']:.0f} MB -> peak "
                  f"{e['rss_peak_mb']:.0f} MB: +{e['growth_mb']:.1f} MB  "
                  f"{'ok' if e['growth_mb'] <= 50 else 'MISSED'}")


def night_figures(base: str, url: str, tokens: dict[str, str], last: Date, tpl: list[dict],
                  args: argparse.Namespace) -> None:
    """Every centre posts its next day's summary; then the 92-day board again."""
    print(f"\nnight: {args.centres} centres post the summary of {last + timedelta(days=1)} "
          f"({args.senders} at a time)")
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        held = conn.execute("SELECT COALESCE(MAX(revision), 0) FROM receipts WHERE date = %s",
                            [(last + timedelta(days=1)).isoformat()]).fetchone()[0]
    lat = night(base, tokens, (last + timedelta(days=1)).isoformat(), tpl, args.senders, held + 1)
    took = time.perf_counter() - t
    print(f"  {len(lat)} stored in {took:.1f} s ({len(lat) / took * 60:.0f} a minute); latency p50 "
          f"{ms(pct(lat, 50))}, p99 {ms(pct(lat, 99))}, max {ms(max(lat))}")
    with login(base, url) as client:
        t = time.perf_counter()
        client.get("/api/v1/board", params={"days": 92}).raise_for_status()
        first = time.perf_counter() - t
        med, worst, _, _ = timed_get(client, "/api/v1/board", {"days": 92}, args.repeat)
        print(f"  /api/v1/board?days=92 after the night: first {ms(first)} (computed), then median {ms(med)}, "
              f"worst {ms(worst)}")


def day_figures(base: str, url: str, tokens: dict[str, str], proc: psutil.Process, last: Date,
                args: argparse.Namespace, parts: set[str]) -> None:
    """The day: snapshots every minute from each centre, a viewer reloading the board, agents' look-ups."""
    today = (last + timedelta(days=2)).isoformat()
    print(f"\nthe day: {args.centres} centres x 40 services, a snapshot each a minute for {args.minutes:g} min "
          f"(target: 100 x 40 a minute, p99 <= 50 ms), a viewer reloading /api/v1/board?days=7 every 5 s")
    if "lookups" in parts:
        print(f"  and the call centre: {args.agents} agents looking callers up, every centre collecting its inbox")
    callcentre = CallCentreDay(base, url, tokens, args.agents if "lookups" in parts else 0, args.senders)
    with login(base, url) as client:
        meter = Meter(proc, url)
        cpu0 = meter.read()
        with callcentre if "lookups" in parts else contextlib.nullcontext():
            t = time.perf_counter()
            lat, board_lat, bad = live_day(base, tokens, today, args.minutes, args.senders, client) \
                if "day" in parts else ([], [], 0)
            while time.perf_counter() - t < args.minutes * 60:  # look-ups alone (--only lookups)
                time.sleep(1)
            seconds = time.perf_counter() - t
        cpu = meter.since(cpu0)
    if "lookups" in parts:
        callcentre.report(seconds)
    if "day" not in parts:
        return
    print(f"  {len(lat)} snapshots ({len(lat) * 40:,} service rows), {bad} refused; latency p50 "
          f"{ms(pct(lat, 50))}, p99 {ms(pct(lat, 99))}, max {ms(max(lat))}  "
          f"{'ok' if pct(lat, 99) <= 0.05 and not bad else 'MISSED'}")
    print(f"  board meanwhile: {len(board_lat)} reloads, median {ms(statistics.median(board_lat))}, "
          f"worst {ms(max(board_lat))}; CPU (HQ+PG) over the run {cpu:.1f} s: "
          f"{cpu / (args.minutes * 60) * 100:.0f} % of one core")
    meter = Meter(proc, url)
    cpu0 = meter.read()
    t = time.perf_counter()
    ids = sorted(tokens)
    lat2: list[float] = []
    with ThreadPoolExecutor(args.senders) as pool:
        def one(k: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as c:
                t0 = time.perf_counter()
                r = c.post("/api/v1/live", json=snapshot(ids[k], k, 99, today),
                           headers={"Authorization": f"Bearer {tokens[ids[k]]}"})
                lat2.append(time.perf_counter() - t0)
                r.raise_for_status()
        list(pool.map(one, range(len(ids))))
    took = time.perf_counter() - t
    cpu = meter.since(cpu0)
    print(f"  all {len(ids)} at once ({args.senders} at a time, nothing else running): {took:.1f} s, "
          f"{len(ids) / took * 60:,.0f} snapshots a minute; p50 {ms(pct(lat2, 50))}, p99 {ms(pct(lat2, 99))}; "
          f"CPU (HQ+PG) {ms(cpu / len(ids))} a snapshot")


def backfill_figures(url: str, last: Date, args: argparse.Namespace) -> None:
    """``huduma-hq refresh-figures``'s function over the last days, their figures deleted first."""
    store = Store(url)
    first_bf = (last - timedelta(days=args.backfill_days - 1)).isoformat()
    with store.tx() as cur:
        cur.execute("DELETE FROM day_services WHERE date >= ?", [first_bf])
        cur.execute("DELETE FROM day_totals WHERE date >= ? AND date <= ?", [first_bf, last.isoformat()])
    t = time.perf_counter()
    n = daily.refresh(store, first_bf, last.isoformat())
    took = time.perf_counter() - t
    print(f"\nbackfill (huduma-hq refresh-figures): {n} stored summaries in {took:.1f} s "
          f"({n / took:.0f} a second, in this process)")


class CallCentreDay:
    """The call centre beside the snapshots: centres collecting their inbox, agents looking callers up.

    Every centre asks for its inbox every ``POLL_EVERY_S`` (3 s, as a centre
    does) and answers each look-up at once ("nothing found"). ``agents``
    agents each take calls one after the other: open the call, look the
    caller up (by phone at every centre, or by ticket code at one centre),
    reload the answers part of the page until every centre has answered (as
    the page's script does each 2 s), read the national catalogue's answer
    for a service, log the call.
    """

    def __init__(self, base: str, url: str, tokens: dict[str, str], agents: int, senders: int) -> None:
        self.base, self.url, self.tokens, self.agents, self.senders = base, url, tokens, agents, senders
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.polls: list[float] = []
        self.timings: dict[str, list[float]] = {"call": [], "lookup": [], "answers": [], "answered": [],
                                                "catalogue": [], "close": []}
        self.unanswered = 0
        self.errors: list[str] = []
        catalogues = CatalogueStore(Store(url))
        catalogues.migrate()
        seed_demo(catalogues)  # the shipped national catalogue, when nothing is published yet
        published = catalogues.published()
        self.services = [s.id for s in published.services] if published else ["none"]
        self.threads: list[threading.Thread] = []

    def timed(self, what: str, fn: Callable[[], httpx.Response]) -> httpx.Response:
        t = time.perf_counter()
        r = fn()
        with self.lock:
            self.timings[what].append(time.perf_counter() - t)
        return r

    def centres(self) -> None:
        """Each centre polls its inbox every 3 s at its own offset, answering what it is handed."""
        ids = sorted(self.tokens)
        local = threading.local()

        def poll(cid: str) -> None:
            client = getattr(local, "client", None) or httpx.Client(base_url=self.base, timeout=60)
            local.client = client
            auth = {"Authorization": f"Bearer {self.tokens[cid]}"}
            t = time.perf_counter()
            r = client.post("/api/v1/inbox", headers=auth)
            with self.lock:
                self.polls.append(time.perf_counter() - t)
            if r.status_code != 200:
                self.errors.append(f"inbox {r.status_code} {r.text[:100]}")
                return
            for req in r.json()["requests"]:
                client.post(f"/api/v1/inbox/{req['id']}/answer", headers=auth, json={"ok": True, "found": []})

        start = time.perf_counter()
        n = len(ids)
        with ThreadPoolExecutor(self.senders) as pool:
            i = 0
            while not self.stop.is_set():
                tick, k = divmod(i, n)
                due = start + tick * POLL_EVERY_S + k * POLL_EVERY_S / n
                self.stop.wait(max(0.0, due - time.perf_counter()))
                pool.submit(poll, ids[k])
                i += 1

    def agent(self, number: int) -> None:
        """One agent taking calls back to back (a few seconds between them)."""
        with login(self.base, self.url, HqRole.agent, f"bench-agent-{number}") as client:
            n = 0
            while not self.stop.is_set():
                try:
                    self.one_call(client, number, n)
                except (httpx.HTTPError, RuntimeError) as err:
                    self.errors.append(f"agent {number}: {err}")
                n += 1
                self.stop.wait(3)

    def one_call(self, client: httpx.Client, number: int, n: int) -> None:
        phone = f"+2547{number:02d}{n:06d}"
        console = client.get("/callcentre")
        r = self.timed("call", lambda: client.post("/callcentre/calls",
                                                   data={"phone": phone, "csrf": csrf_of(console.text)}))
        if r.status_code != 303:
            raise RuntimeError(f"new call: {r.status_code} {r.text[:100]}")
        call = r.headers["location"].split("?")[0]
        page = client.get(call)
        ids = sorted(self.tokens)
        by_phone = n % 2 == 0
        form = ({"phone": phone, "code": "", "centre": ""} if by_phone else
                {"phone": "", "code": f"{(number * 7919 + n) % 1000000:06d}", "centre": ids[(number + n) % len(ids)]})
        r = self.timed("lookup", lambda: client.post(call + "/lookup", data={**form, "csrf": csrf_of(page.text)}))
        if r.status_code != 303:
            raise RuntimeError(f"look-up: {r.status_code} {r.text[:100]}")
        asked = time.perf_counter()
        while True:  # the page's script reloads the answers part until every centre has answered
            part = self.timed("answers", lambda: client.get(call + "/answers"))
            if part.status_code == 200 and 'data-pending="1"' not in part.text:
                with self.lock:
                    self.timings["answered"].append(time.perf_counter() - asked)
                break
            if time.perf_counter() - asked > 60 or self.stop.is_set():
                with self.lock:
                    self.unanswered += 1
                break
            self.stop.wait(2)
        service = self.services[n % len(self.services)]
        r = self.timed("catalogue", lambda: client.get(call, params={"service": service}))
        if r.status_code != 200:
            raise RuntimeError(f"catalogue answer: {r.status_code}")
        page = r
        r = self.timed("close", lambda: client.post(call + "/close", data={
            "outcome": "told_standing" if by_phone else "not_found", "note": "", "csrf": csrf_of(page.text)}))
        if r.status_code != 303:
            raise RuntimeError(f"close: {r.status_code} {r.text[:100]}")

    def __enter__(self) -> CallCentreDay:
        self.threads = [threading.Thread(target=self.centres, daemon=True)]
        self.threads += [threading.Thread(target=self.agent, args=(i,), daemon=True) for i in range(self.agents)]
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(90)

    def report(self, seconds: float) -> None:
        p = self.polls
        print(f"  centres collecting their inbox every {POLL_EVERY_S:g} s: {len(p)} polls "
              f"({len(p) / seconds:.0f} a second), p50 {ms(pct(p, 50))}, p99 {ms(pct(p, 99))}")
        words = {"call": "open a call", "lookup": "ask a look-up (phone: every centre; code: one)",
                 "answers": "reload the answers part", "answered": "look-up asked -> every centre answered",
                 "catalogue": "the catalogue's answer for a service", "close": "log the call"}
        calls = len(self.timings["close"])
        print(f"  {self.agents} agents, {calls} calls logged, {self.unanswered} look-ups unanswered in 60 s, "
              f"{len(self.errors)} errors" + (f" (first: {self.errors[0]})" if self.errors else ""))
        for key, label in words.items():
            v = self.timings[key]
            if v:
                print(f"    {label:46} n={len(v):4}  p50 {ms(pct(v, 50)):>8}  p99 {ms(pct(v, 99)):>8}  "
                      f"max {ms(max(v)):>8}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--centres", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--templates", type=int, default=12, help="distinct real day summaries the history is made of")
    ap.add_argument("--repeat", type=int, default=5, help="timed requests per board figure")
    ap.add_argument("--senders", type=int, default=8, help="centres posting at the same moment at night")
    ap.add_argument("--minutes", type=float, default=3, help="minutes of live snapshots at the centres' pace")
    ap.add_argument("--backfill-days", type=int, default=7, help="days refilled by refresh-figures to time it")
    ap.add_argument("--pg", default=os.environ.get("HUDUMA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
                    help="a PostgreSQL URL whose user may CREATE DATABASE (the bench uses a database of its own)")
    ap.add_argument("--port", type=int, default=8199)
    ap.add_argument("--agents", type=int, default=4, help="call-centre agents looking callers up during the day")
    ap.add_argument("--keep", action="store_true", help="keep the bench's database at the end (to profile it)")
    ap.add_argument("--db", help="reuse a database kept by --keep (its history is not rebuilt; kept again)")
    ap.add_argument("--only", choices=["board", "csv", "night", "day", "lookups"], action="append",
                    help="run only these parts (repeatable); all when absent")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("centre_server").setLevel(logging.ERROR)

    name = args.db or f"hq_bench_{secrets.token_hex(4)}"
    keep = args.keep or bool(args.db)
    url = with_db(args.pg, name)
    last = Date(2026, 11, 30)
    print(f"hq_scale: {args.centres} centres x {args.days} days, database {name}, load {os.getloadavg()[0]:.1f}")
    if not args.db:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
    server = None
    try:
        t = time.perf_counter()
        tpl = templates(args.templates, last)
        print(f"  {len(tpl)} real day summaries simulated in {time.perf_counter() - t:.0f} s "
              f"({statistics.mean(len(json.dumps(x)) for x in tpl) / 1000:.0f} KB of JSON, "
              f"{statistics.mean(len(x['services']) for x in tpl):.0f} services each on average)")
        t = time.perf_counter()
        if args.db:
            tokens = reuse(url, args.centres)
            print(f"  history of {name} reused: " + "; ".join(f"{k} {v}" for k, v in sizes(url).items()))
        else:
            tokens = build(url, args.centres, args.days, last, tpl)
            print(f"  history copied in {time.perf_counter() - t:.0f} s: " +
                  "; ".join(f"{k} {v}" for k, v in sizes(url).items()))

        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}.log", "wb")
        server = subprocess.Popen([str(BIN / "huduma-hq"), "serve", "--db", url, "--port", str(args.port)],
                                  stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{args.port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit(f"huduma-hq serve did not start (log: {log.name})")
            time.sleep(0.3)
        proc = psutil.Process(server.pid)
        print(f"  huduma-hq serve pid {server.pid}: {proc.memory_info().rss / 1e6:.0f} MB resident at start")

        parts = set(args.only or ["board", "csv", "night", "day", "lookups"])
        if "board" in parts:
            board_figures(base, url, proc, last, args)
        if "csv" in parts:
            csv_figures(base, url, proc, last, args)
        if "night" in parts:
            night_figures(base, url, tokens, last, tpl, args)
        if "day" in parts or "lookups" in parts:
            day_figures(base, url, tokens, proc, last, args, parts)
        if not args.only:
            backfill_figures(url, last, args)
        warmer_rounds(Path(log.name))
        print(f"\nserver resident memory at the end: {proc.memory_info().rss / 1e6:.0f} MB; "
              f"load {os.getloadavg()[0]:.1f}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        if keep:
            print(f"database {name} kept (--db {name} to reuse it)")
        else:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(f"database {name} dropped")


if __name__ == "__main__":
    main()
