"""The payments' share of the live board: the day's reconciliation, read after every event.

A busy Huduma centre's day: 2,500 tickets, most with a fee, ~1,800 M-Pesa prompts (paid, failed,
some retried), cash and waivers. The board recomputes the day's figures after each committed batch,
and ``figures.day_payments`` is now part of that; this prints what it costs per refresh
(p50/p95 over repeated reads), in a real SQLite centre database made by the migrations.

    .venv/bin/python bench/payments.py [--tickets 2500] [--reads 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from centre_server.reports import figures
from centre_server.store import database as storage

SERVICES = [("passport", 4550), ("birth-cert", 200), ("good-conduct", 1050), ("driving-licence", 650),
            ("kra-pin", 0), ("land-rates", 0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=2500)
    ap.add_argument("--reads", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(20)
    with tempfile.TemporaryDirectory() as tmp:
        db = storage.connect(Path(tmp) / "centre.db")
        day, now = "2026-12-07", time.time()
        rows = []
        for i in range(args.tickets):
            sid, fee = rng.choice(SERVICES)
            if fee == 0:
                continue
            for _attempt in range(1 if rng.random() < 0.85 else 2):
                state = rng.choices(["paid", "failed", "cash", "waived"], [0.75, 0.15, 0.07, 0.03])[0]
                method = {"cash": "cash", "waived": "waiver"}.get(state, "mpesa")
                rows.append((f"T{i}", day, sid, f"X{i:04d}", method, state, fee, now, now))
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            db.conn.executemany("INSERT INTO payments(ticket_id, day, service_id, number, method, state, amount_ksh, "
                                "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        stories = {f"T{i}": figures.TicketStory(ticket_id=f"T{i}", issued_at=now, visits=[figures.Visit(
            ticket_id=f"T{i}", service_id=rng.choice(SERVICES)[0], entered_at=now, kind="issued",
            outcome="served")]) for i in range(args.tickets)}
        figures.day_payments(db, day, list(stories.values()))  # the first read parses the catalogue
        times = []
        for _ in range(args.reads):
            t = time.perf_counter()
            figures.day_payments(db, day, list(stories.values()))
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"payments rows: {len(rows)}, tickets: {args.tickets}, load average: {os.getloadavg()[0]:.1f}")
        print(f"day_payments per board refresh: p50 {statistics.median(times):.2f} ms, "
              f"p95 {times[int(len(times) * 0.95) - 1]:.2f} ms (the board refreshes after each committed batch)")


if __name__ == "__main__":
    main()
