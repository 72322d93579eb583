"""Where the engine's estimate is above QL's on M/M/s, with many citizens and no oracle (issue 18).

On M/M/s, QL with the true mean, E[W | q ahead] = (q + 1)/(sμ), is the best predictor there
is; the engine learns its rates from the centre's own events and reads its table from a
Monte-Carlo mean of futures. Its mean squared error is QL's plus E[(engine − QL)²] (the cross
term has expectation zero: what either predictor gets wrong of the future is the future's own
noise), so ``sqrt(1 + E[(e − q)²] / MSE(QL))`` is the ratio the RMSEs tend to, free of the
sampling noise that moves a ratio of two RMSEs on 120 citizens by several percent. Printed per
seed and for all: the RMSEs, their ratio, rms and mean of (engine − QL), that expected ratio,
the learned service-time mean against the true one over the scored citizens' refreshes, and the
futures per refresh (``--most 32``: the forecaster as it was, without the top-up).

Usage: ``python bench/mms_excess.py [--servers 2] [--rho 0.9] [--seeds 6] [--sample 300] [--most 256]``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from forecasting import _REFRESH, Forecasting  # noqa: E402
from predict import mms, ql, score, scored  # noqa: E402

from centre_server.queue import forecast  # noqa: E402
from centre_server.sim.replay import Arrival, replay  # noqa: E402


class Learning(Forecasting):
    """The bench's forecasting replay, noting the learned mean service time at each refresh."""

    def __init__(self, *args: object, most: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.most = most
        self.learned_means: list[float] = []

    def _arrive(self, a: Arrival, t: float) -> None:
        if a is _REFRESH:  # type: ignore[comparison-overlap]
            ring = self.state.predictor.samples.get("q")
            if ring:
                self.learned_means.append(statistics.fmean(ring))
            most, forecast.MAX_FUTURES = forecast.MAX_FUTURES, self.most
            try:
                super()._arrive(a, t)
            finally:
                forecast.MAX_FUTURES = most
            return
        super()._arrive(a, t)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--rho", type=float, default=0.9)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--sample", type=int, default=300, help="citizens scored per seed")
    ap.add_argument("--most", type=int, default=forecast.MAX_FUTURES, help="futures at most per refresh")
    args = ap.parse_args()
    began = time.process_time()
    engine_all: list[float] = []
    ql_all: list[float] = []
    waits: list[float] = []
    futures = refreshes = 0
    sc = mms(args.servers, args.rho)
    mean = sc.model.mean_s["q"]
    print(f"{sc.name}: {args.seeds} seeds of {sc.days} days, {args.sample} citizens each who found every counter "
          f"busy (from the second day); futures {forecast.FUTURES} to {args.most} per refresh")
    print(f"{'seed':>4} {'n':>4} {'engine':>7} {'QL':>6} {'ratio':>6} {'rms e-q':>8} {'mean e-q':>9} "
          f"{'expected':>8}  learned mean / true (min-max)")

    def line(label: str, e: list[float], q: list[float], a: list[float], learned: str) -> None:
        se, sq = score(e, a), score(q, a)
        d = [x - y for x, y in zip(e, q, strict=True)]
        ms = statistics.fmean(x * x for x in d)
        print(f"{label:>4} {len(a):>4} {se.rmse / 60:>7.2f} {sq.rmse / 60:>6.2f} {se.rmse / sq.rmse:>6.3f} "
              f"{math.sqrt(ms) / 60:>8.2f} {statistics.fmean(d) / 60:>+9.2f} "
              f"{math.sqrt(1 + ms / sq.rmse ** 2):>8.3f}  {learned}")

    for seed in range(1, args.seeds + 1):
        rng = random.Random(seed)
        arrivals = sc.model.trace(rng, sc.days)
        pool = scored(replay(arrivals, sc.shifts).outcomes)
        chosen = sorted(rng.sample(pool, min(args.sample, len(pool))), key=lambda o: o.arrival_s)
        run = Learning(arrivals, sc.shifts, {o.ticket: o.arrival_s for o in chosen}, seed=seed, most=args.most)
        printed = {o.ticket: o for o in run.run().outcomes}
        futures, refreshes = futures + run.futures_run, refreshes + run.refreshes
        e = [float(printed[o.ticket].estimate_s or 0) for o in chosen]
        q = [ql(o, sc.model) for o in chosen]
        a = [float(o.wait_s or 0.0) for o in chosen]
        lm = [x / mean for x in run.learned_means]
        line(str(seed), e, q, a, f"{statistics.fmean(lm):.3f} ({min(lm):.3f}-{max(lm):.3f})" if lm else "")
        engine_all, ql_all, waits = engine_all + e, ql_all + q, waits + a
    line("all", engine_all, ql_all, waits, "")
    print(f"\n{futures / max(1, refreshes):.0f} futures per refresh on average; "
          f"{time.process_time() - began:.0f} CPU-s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
