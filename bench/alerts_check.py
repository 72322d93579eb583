"""What the managers' alert check holds the centre's lock for, at a 30-counter centre's peak (issue 21).

The alerts part (``centre_server/alerts/``) looks at the centre every ``[alerts]
check_every_s`` (15 s): under the centre's lock (what the writer waits for) it
asks which services are over their target (``reports.live.service_breaches``).
A Huduma-like centre with 30 counters (``huduma.py``) is replayed through the
engine for a day and a morning; through the peak of the second morning
(09:00-11:30) that look is timed as the server makes it. Printed: the lock time
(p50, p95, max), the queue it looked at, and its share of one core at the period.

Usage: ``python bench/alerts_check.py [--period 15]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from forecast_cost import thirty_counters  # noqa: E402
from huduma import huduma  # noqa: E402
from oracle import DAY  # noqa: E402

from centre_server.reports.live import service_breaches  # noqa: E402
from centre_server.sim.replay import Arrival, Replay  # noqa: E402

H = 3600.0


class Peak(Replay):
    """The replay, timing the alert check every ``every`` simulated seconds of the peak."""

    def __init__(self, *args: object, every: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.every = every
        self.next_at = DAY + 9 * H
        self.lock_ms: list[float] = []
        self.waiting: list[int] = []
        self.breached: list[int] = []

    def _arrive(self, a: Arrival, t: float) -> None:
        if self.next_at <= t <= DAY + 11.5 * H:
            self.next_at = t + self.every
            began = time.perf_counter()
            found = service_breaches(self.state, self.base + t)
            self.lock_ms.append((time.perf_counter() - began) * 1000)
            self.waiting.append(sum(len(q) for q in self.state.queues.values()))
            self.breached.append(len(found))
        super()._arrive(a, t)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--period", type=float, default=15.0, help="[alerts] check_every_s (s)")
    ap.add_argument("--every", type=float, default=60.0, help="simulated seconds between timed checks")
    args = ap.parse_args()
    seed = thirty_counters()
    model, plan, _ = huduma(seed, days=2)
    peak = Peak(model.trace(random.Random(seed), 2), plan, every=args.every)
    peak.run()
    ms = sorted(peak.lock_ms)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(f"alert checks timed at the peak: {len(ms)} (30 counters, seed {seed}); load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"waiting when checked: mean {statistics.fmean(peak.waiting):.0f}, max {max(peak.waiting)}; "
          f"services over target: mean {statistics.fmean(peak.breached):.1f}, max {max(peak.breached)}")
    print(f"centre lock held per check: p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms")
    print(f"share of one core at one check every {args.period:g} s: "
          f"{statistics.fmean(ms) / 1000 / args.period * 100:.3f} % (the writer waits at most one check)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
