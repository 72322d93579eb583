"""A whole centre day through the real processes, at accelerated time.

2,500 citizens (a morning peak, a lunch dip) take tickets at 4 kiosks over
HTTP for the 39 services of the demo menu; 30 counters with shared skills call
next (half by the clerk's HTTP terminal, half by a keypad's ``cmd/counter`` MQTT
message), serve for the menu's typical times (exponential), and a third of them
take a lunch break; 6 hall displays subscribe to every event and check that no
sequence number is missing. The server is a real ``huduma-centre serve`` against
a private Mosquitto; the load runs in this separate process. Time runs
``--speed`` times faster than a real day (default 200: an 8-hour day in 2.4 min).

Usage: ``python bench/day.py [--citizens 2500] [--speed 200]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from centre_day import DISPLAYS, KIOSKS, CentreDay, Http, percentile, row  # noqa: E402

logger = logging.getLogger(__name__)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--citizens", type=int, default=2500)
    ap.add_argument("--speed", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    day = CentreDay(args.citizens, args.speed, args.seed)
    try:
        day.setup()
        day.run()
        day.finish()
        close_s, close_note = day.close_day()
        lost = [d.gaps() for d in day.displays]
        errors = day.errors

        print(f"A centre day at {args.speed:.0f}x speed through the real server and Mosquitto "
              f"({os.cpu_count()} cores): {len(day.plan)} citizens, {len(day.services)} services, "
              f"{len(day.counters)} counters (shared skills), {KIOSKS} kiosks, {DISPLAYS} displays")
        row("wall time of the day", f"{day.took:.0f} s ({day.took * args.speed / 3600:.1f} simulated hours)")
        row("tickets issued / called / still waiting at the end", f"{day.issued} / {day.served} / {day.still}")
        row("ticket issue latency p50 / p99 / max",
            f"{percentile(day.issue_ms, 50):.1f} / {percentile(day.issue_ms, 99):.1f} / {max(day.issue_ms):.1f} ms")
        row("call-next over HTTP p50 / p99",
            f"{percentile(day.call_http_ms, 50):.1f} / {percentile(day.call_http_ms, 99):.1f} ms")
        row("keypad cmd/counter to reply p50 / p99",
            f"{percentile(day.keypad_reply_ms, 50):.1f} / {percentile(day.keypad_reply_ms, 99):.1f} ms")
        row("call to hall display p50 / p99 (6 displays)",
            f"{percentile(day.call_display, 50):.1f} / {percentile(day.call_display, 99):.1f} ms", "p99 <= 10 ms")
        row("events seen per display", f"{min(day.seen)}..{max(day.seen)}")
        row("events lost (seq gaps at any display)", f"{sum(lost)}", "0  " + ("ok" if sum(lost) == 0 else "MISSED"))
        row("errors (HTTP or keypad)", f"{len(errors)}", "0  " + ("ok" if not errors else "MISSED"))
        row("idle keep-alive connections the server had closed", f"{Http.reconnects}")
        row("machine load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}", "(2 cores: above 2 means "
            "other work competed)")
        row("server CPU over the day", f"{day.cpu:.1f} s ({day.cpu * 1000 / max(1, day.issued):.2f} ms per citizen)")
        row("server memory (RSS) at start / end", f"{day.rss_start:.0f} / {day.rss_end:.0f} MB")
        row("day close time", f"{close_s:.2f} s", close_note)
        row("database size after the day (with WAL)", f"{day.db_mb():.1f} MB")
        for e in errors[:5]:
            print("   error:", e)
    finally:
        day.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
