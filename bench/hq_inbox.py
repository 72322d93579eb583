"""Benchmark: centres collecting the call centre's inbox at headquarters (``POST /api/v1/inbox``).

Starts ``huduma-hq serve`` on a private schema of PostgreSQL (``HUDUMA_BENCH_PG``,
default ``postgresql://postgres@127.0.0.1:5432/test``), registers N centres, puts
a look-up for every centre in the inbox now and then (as agents would), and
lets N simulated centres poll every 3 s (their default) for a while, answering
what they get. Prints the polls per second headquarters served and their
latency (p50/p99), and how long a look-up waited for its answer. Not a test.

    .venv/bin/python bench/hq_inbox.py [--centres 100] [--seconds 30]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from latency import free_port, stop  # the bench's one way to pick a port and stop a process

from centre_server.contract.national import LookupAsk
from hq.auth import Accounts
from hq.callcentre_store import CallCentre
from hq.store import Store

BIN = Path(sys.executable).parent
PG = "postgresql://postgres@127.0.0.1:5432/test"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--centres", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--every", type=float, default=3.0, help="each centre's poll interval (s)")
    args = ap.parse_args()
    import os

    base = os.environ.get("HUDUMA_BENCH_PG", PG)
    schema = f"hq_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(base, autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    store = Store(url)
    store.migrate()
    accounts = Accounts(store)
    accounts.migrate()
    calls = CallCentre(store, accounts)
    calls.migrate()
    tokens = {f"c{i:03d}": store.add_centre(f"c{i:03d}", f"Centre {i}") for i in range(args.centres)}
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="hq-inbox-"))
    log = open(tmp / "hq.log", "wb")
    proc = subprocess.Popen([str(BIN / "huduma-hq"), "serve", "--port", str(port), "--db", url],
                            stdout=log, stderr=log, cwd=tmp)
    hq = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(hq + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("huduma-hq did not start: " + (tmp / "hq.log").read_text()[-800:])
            time.sleep(0.2)
        latencies: list[float] = []
        waited: list[float] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        asked_at: dict[str, float] = {}

        def centre(cid: str, token: str) -> None:
            rng = random.Random(cid)
            with httpx.Client(base_url=hq, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
                time.sleep(rng.uniform(0, args.every))  # centres do not start in step
                while time.monotonic() < stop_at:
                    t = time.perf_counter()
                    batch = http.post("/api/v1/inbox").json()["requests"]
                    dt = time.perf_counter() - t
                    for req in batch:
                        http.post(f"/api/v1/inbox/{req['id']}/answer", json={"ok": True, "found": []})
                        with lock:
                            if req["id"] in asked_at:
                                waited.append(time.time() - asked_at.pop(req["id"]))
                    with lock:
                        latencies.append(dt)
                    time.sleep(args.every)

        def agents() -> None:
            n = 0
            while time.monotonic() < stop_at - 5:
                call = calls.start_call("bench", "+254712345678")
                cid = f"c{n % args.centres:03d}"
                search = calls.ask_lookup("bench", call, [cid], LookupAsk(phone="+254712345678"))
                with psycopg.connect(url) as db:
                    rid = db.execute("SELECT id FROM hq_inbox WHERE search_id=%s", [search]).fetchone()[0]
                with lock:
                    asked_at[rid] = time.time()
                n += 1
                time.sleep(0.5)

        threads = [threading.Thread(target=centre, args=item, daemon=True) for item in tokens.items()]
        threads.append(threading.Thread(target=agents, daemon=True))
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(args.seconds + 30)
        elapsed = time.monotonic() - t0
        lat = sorted(latencies)
        print(f"{args.centres} centres polling every {args.every:.0f} s for {elapsed:.0f} s")
        print(f"  polls served      {len(lat)}  ({len(lat) / elapsed:.1f} per second)")
        print(f"  poll latency      p50 {lat[len(lat) // 2] * 1000:.1f} ms   "
              f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms   max {lat[-1] * 1000:.1f} ms")
        if waited:
            print(f"  look-up answered  {len(waited)} asked; waited mean {statistics.mean(waited):.1f} s, "
                  f"max {max(waited):.1f} s (the centre's poll interval bounds it)")
    finally:
        stop(proc)
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


if __name__ == "__main__":
    main()
