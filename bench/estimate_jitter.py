"""Does a waiting citizen's estimate stay put while nothing in the hall changes? (issue 18)

A freshly provisioned demo centre is served by a real ``huduma-centre serve`` process
(its embedded broker on a free port). One counter opens for one service, five tickets
are issued and the first is called: one citizen at the counter, four waiting. Then,
with nobody calling, issuing or leaving (from ``--settle`` seconds on: the first refresh
that saw the new tickets), the bench reads every ``--every`` seconds for
``--minutes`` the estimate the centre gives the last of the four (``GET
/api/v1/tickets/{id}``, what the ticket page and SMS show) and a newcomer's (``GET
/api/v1/services``, what the kiosk and the board show), across the forecaster's
refreshes (``[queue] forecast_every_s``, 15 s). Printed: every distinct figure, the
spread (max − min) and the standard deviation. A real change must show at once: the
counter then completes its citizen and calls the next, and the figure right after is
printed beside the last one before.

The spread is the Monte-Carlo noise of the forecast table seen by a citizen: with each
refresh drawing fresh futures it jumped by minutes; with the same random numbers per
refresh (``queue/forecast.py``) an unchanged hall gives (nearly) the same figure.

Usage: ``python bench/estimate_jitter.py [--minutes 3] [--every 5]``. Light: the server is idle but for
its forecaster.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from latency import BIN, free_port, stop, wait_http  # noqa: E402


def provision(work: Path) -> Path:
    """A demo centre open around the clock (the bench must not depend on the hour it runs at)."""
    centre = work / "centre"
    subprocess.run([str(BIN / "huduma-provision"), "init", str(centre), "--demo"], check=True,
                   capture_output=True, timeout=120)
    toml = centre / "centre.toml"
    text = re.sub(r'(?m)^opening_time = "[^"]*"', 'opening_time = "00:00"', toml.read_text())
    toml.write_text(re.sub(r'(?m)^closing_time = "[^"]*"', 'closing_time = ""', text))
    return centre


def spread(name: str, values: list[int]) -> None:
    distinct = sorted(set(values))
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    print(f"  {name:34} {len(values):>3} readings, {len(distinct):>2} distinct figures: "
          f"min {min(values):>5} s, max {max(values):>5} s, spread {max(values) - min(values):>5} s, sd {sd:>6.1f} s")
    print(f"  {'':34} figures in order: {' '.join(str(v) for v in values)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="how long nothing changes")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between two readings")
    ap.add_argument("--waiting", type=int, default=4, help="citizens waiting behind the one at the counter")
    ap.add_argument("--settle", type=float, default=16.0,
                    help="seconds after the setup before the readings: the first refresh that sees the tickets")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="huduma-jitter-"))
    server = None
    try:
        centre = provision(work)
        port = free_port()
        log = open(work / "server.log", "wb")
        server = subprocess.Popen([str(BIN / "huduma-centre"), "serve", str(centre), "--host", "127.0.0.1",
                                   "--port", str(port), "--mqtt-port", str(free_port())], stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", server, timeout=60)
        kiosk = json.loads((centre / "devices" / "kiosk-1.json").read_text())
        creds = json.loads((centre / "demo-credentials.json").read_text())
        login = {"username": "clerk", "password": creds["staff"]["clerk"]["password"]}
        token = httpx.post(url + "/api/v1/auth/login", json=login).json()["token"]
        clerk = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        counter = clerk.get("/api/v1/counters").json()[0]
        service = counter["services"][0]
        clerk.post(f"/api/v1/counters/{counter['id']}/open", json={"services": [service]}).raise_for_status()
        issued = []
        for _ in range(args.waiting + 1):
            r = httpx.post(url + "/api/v1/tickets", json={"service_id": service, "language": "en"},
                           headers={"Authorization": f"Bearer {kiosk['token']}", "Idempotency-Key": uuid.uuid4().hex})
            r.raise_for_status()
            issued.append(r.json())
        clerk.post(f"/api/v1/counters/{counter['id']}/call-next").raise_for_status()
        last = issued[-1]["id"]
        print(f"Centre at {url}: counter {counter['id']} serving {service}, 1 at the counter, "
              f"{args.waiting} waiting; nothing changes for {args.minutes:g} min, a reading every {args.every:g} s.")

        def reading() -> tuple[int, int]:
            ticket = httpx.get(f"{url}/api/v1/tickets/{last}").json()
            figures = next(s for s in httpx.get(url + "/api/v1/services").json() if s["id"] == service)
            return int(ticket["estimated_wait_s"]), int(figures["estimated_wait_s"])

        first = reading()
        time.sleep(args.settle)
        print(f"At once after the setup: {first[0]} s and {first[1]} s (a table made before the tickets came, read "
              f"past its end); the readings start {args.settle:g} s later, after the next refresh.")
        mine: list[int] = []
        newcomer: list[int] = []
        began = time.monotonic()
        while time.monotonic() - began < args.minutes * 60:
            a, b = reading()
            mine.append(a)
            newcomer.append(b)
            time.sleep(args.every)
        print(f"\nThe last of the {args.waiting} waiting ({args.waiting - 1} ahead of them) and a newcomer:")
        spread("waiting ticket (its page, its SMS)", mine)
        spread("newcomer (kiosk, board)", newcomer)
        clerk.post(f"/api/v1/counters/{counter['id']}/complete", json={}).raise_for_status()
        clerk.post(f"/api/v1/counters/{counter['id']}/call-next").raise_for_status()
        a, b = reading()
        print(f"\nA real change (the counter completes and calls the next): the waiting ticket {mine[-1]} -> {a} s, "
              f"a newcomer {newcomer[-1]} -> {b} s, at once.")
        la = os.getloadavg()
        print(f"\nload average {la[0]:.1f} {la[1]:.1f} {la[2]:.1f} on {os.cpu_count()} cores; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        return 0
    finally:
        stop(server)
        if not os.environ.get("KEEP_BENCH_DIR"):
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
