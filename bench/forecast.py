"""The staffing advisor's forecast and plan on a simulated history with known rates.

Nine weeks of the demo menu's citizens (a Monday crowd, a quiet Sunday, the payday
window, month end, Mashujaa Day shut and the backlog the day after, slow growth) drawn
from ``centre_server.staffing.simulate.KnownRates``. The last ``--weeks`` weeks are held
out one at a time: the Poisson GLM is fitted on the days before each and forecasts its
days; the seasonal-naive forecast is the same half hour a week before. WAPE = sum of
absolute errors / sum of arrivals, per service and half hour (what the plan is made of)
and for the whole centre per half hour. Then one plan (Erlang C, replays, corrections)
for the busiest kind of day is timed. Target: the model's WAPE below the naive one's.

Usage: ``python bench/forecast.py [--weeks 3] [--seed 5]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date, timedelta

from centre_server.menu import builtin_menu, demo_counters
from centre_server.queue.model import Policy
from centre_server.staffing import forecast as fc, plan as pl
from centre_server.staffing.calendar import holiday_name
from centre_server.staffing.history import SLOTS
from centre_server.staffing.simulate import demo_rates, draw_history

logger = logging.getLogger(__name__)

FIRST = date(2026, 8, 31)
DAYS = 63


def centre_wape(hist: fc.History, weeks: int) -> tuple[float, float]:
    """WAPE of the whole centre's arrivals per half hour (model, naive) over the held-out weeks."""
    days = [d for d in hist.days if hist.total(d) > 0]
    end = days[-1]
    err_m = err_n = total = 0.0
    for w in range(weeks, 0, -1):
        start = end - timedelta(days=7 * w - 1)
        model = fc.fit(hist.before(start))
        for k in range(7):
            d = start + timedelta(days=k)
            actual = hist.counts.get(d)
            if not actual:
                continue
            rates, naive = model.rates(d), fc.seasonal_naive(hist, d)
            for j in range(SLOTS):
                a = sum(v[j] for v in actual.values())
                total += a
                err_m += abs(a - sum(v[j] for v in rates.values()))
                err_n += abs(a - sum(v[j] for v in naive.values()))
    return err_m / total, err_n / total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=3)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    services = builtin_menu()
    rates = demo_rates([s.id for s in services], start=FIRST)
    hist = draw_history(rates, FIRST, DAYS, seed=args.seed, open_on=lambda d: holiday_name(d) is None)
    began = time.perf_counter()
    bt = fc.backtest(hist, weeks=args.weeks)
    took = time.perf_counter() - began
    m, n = centre_wape(hist, args.weeks)
    print(f"forecast backtest: {len(hist.days)} open days of {len(services)} services, last {args.weeks} weeks held "
          f"out ({bt.days} days, {bt.arrivals} arrivals; {took:.1f} s for {args.weeks} fits)")
    print(f"  WAPE per service and half hour:  model {bt.wape_model:.3f}   seasonal naive {bt.wape_naive:.3f}   "
          f"(target: model below naive) {'ok' if bt.wape_model < bt.wape_naive else 'MISSED'}")
    print(f"  WAPE whole centre per half hour: model {m:.3f}   seasonal naive {n:.3f}")
    effects = fc.fit(hist).effects
    print(f"  effects found (known): payday x{effects['payday']:.2f} (x{rates.payday:.2f}), day after a holiday "
          f"x{effects.get('after_holiday', 1.0):.2f} (x{rates.after_holiday:.2f}), Saturday x{effects['sat']:.2f} "
          f"(x{0.6 / 1.3:.2f})")
    day = date(2026, 10, 26)
    centre = pl.Centre(services={s.id: s for s in services},
                       counters={c.id: list(c.services) for c in demo_counters()}, policy=Policy())
    forecast = fc.forecast_day(hist.before(day), day)
    began = time.perf_counter()
    plan = pl.make_plan(forecast, centre)
    took = time.perf_counter() - began
    print(f"plan for {day} ({forecast.total():.0f} citizens expected, {len(plan.groups)} groups): {took:.1f} s, "
          f"{plan.counter_hours():.0f} counter-hours, busiest half hour {max(map(plan.counters_at, forecast.slots))} "
          f"counters, expected within target {100 * (plan.level() or 0):.0f}% "
          f"(short: {', '.join(g.group.key for g in plan.groups if g.short) or 'none'})")
    return 0 if bt.wape_model < bt.wape_naive else 1


if __name__ == "__main__":
    sys.exit(main())
