"""Each service's arrivals per half hour for a coming day, from the centre's own history.

A Poisson generalised linear model (statsmodels) of the count of arrivals of a
service in a half hour of a day: log rate = service + half hour + weekday + payday
window + month end + public holiday (on a day the centre opens anyway) + the first
day after a holiday + a trend in weeks. The effects multiply: a Monday at month end
is a Monday's crowd times the month-end rise, spread over the day by the centre's
own hours. Days the centre was shut are left out of the fit, and a day it will be
shut (its hours, a public holiday) is forecast as closed, not as a quiet day.

``backtest`` holds out the last weeks, fits on what came before each, and reports
WAPE (sum of absolute errors over the sum of arrivals, every service and half hour)
beside the seasonal-naive forecast (the same half hour a week before).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from centre_server.queue.hours import OpeningHours
from centre_server.staffing.calendar import DayKind, day_kind
from centre_server.staffing.history import SLOT_S, SLOTS, History

logger = logging.getLogger(__name__)

MIN_DAYS = 10  # open days of history before the model is fitted at all
MAX_DAYS = 56  # the last eight weeks: enough for the weekdays and two month ends, and a fit in seconds


class NotEnoughHistory(ValueError):
    """Too few open days to learn a week's pattern from; the message says how many there are."""

    def __init__(self, message: str, days: int = 0) -> None:
        super().__init__(message)
        self.days = days


@dataclass
class DayForecast:
    """Expected arrivals of each service in each half hour of ``day`` (all zero on a closed day)."""

    day: date
    kind: DayKind
    rates: dict[str, list[float]]  # service -> 48 half hours
    first_slot: int
    last_slot: int  # included
    closed: str | None = None  # why the centre will not open, or None
    history_days: int = 0

    def total(self) -> float:
        return sum(sum(v) for v in self.rates.values())

    def slot_total(self, slot: int) -> float:
        return sum(v[slot] for v in self.rates.values())

    @property
    def slots(self) -> range:
        return range(self.first_slot, self.last_slot + 1)


def _features(kind: DayKind, trend_weeks: float) -> list[float]:
    wd = [1.0 if kind.weekday == i else 0.0 for i in range(1, 7)]  # Monday is the base
    return wd + [float(kind.payday), float(kind.month_end), float(kind.holiday is not None),
                 float(kind.after_holiday), trend_weeks]


FEATURES = ["tue", "wed", "thu", "fri", "sat", "sun", "payday", "month_end", "holiday", "after_holiday",
            "trend_weeks"]


@dataclass
class Forecaster:
    """A fitted model; ``forecast(day)`` for any coming day."""

    services: list[str]
    first_slot: int
    last_slot: int
    start: date
    params: Any
    country: str
    history_days: int
    effects: dict[str, float] = field(default_factory=dict)  # multiplicative effects, for the page

    def _trend(self, day: date) -> float:
        return (day - self.start).days / 7.0

    def rates(self, day: date) -> dict[str, list[float]]:
        import numpy as np

        ns, nslots = len(self.services), self.last_slot - self.first_slot + 1
        p = self.params
        cal = float(np.array(_features(day_kind(day, self.country), self._trend(day))) @ p[ns + nslots - 1:])
        svc = np.concatenate([[0.0], p[1:ns]])
        slot = np.concatenate([[0.0], p[ns:ns + nslots - 1]])
        log_rate = np.minimum(20.0, p[0] + cal + svc[:, None] + slot[None, :])
        grid = np.exp(log_rate)
        out: dict[str, list[float]] = {}
        for i, sid in enumerate(self.services):
            row = [0.0] * SLOTS
            row[self.first_slot:self.last_slot + 1] = [float(x) for x in grid[i]]
            out[sid] = row
        return out


def fit(history: History, country: str = "KE") -> Forecaster:
    """The Poisson GLM on every open day of ``history``."""
    days = [d for d in history.days if history.total(d) > 0][-MAX_DAYS:]
    if len(days) < MIN_DAYS:
        raise NotEnoughHistory(f"{len(days)} open day(s) of history; the forecast needs {MIN_DAYS} at least",
                               days=len(days))
    import numpy as np  # seconds to import the first time: only when there is a model to fit
    import statsmodels.api as sm

    services = [s for s in history.services() if any(sum(history.counts[d].get(s, [0])) for d in days)]
    busy = history.busy_slots()
    assert busy is not None  # there are open days
    first, last = busy
    nslots = last - first + 1
    ns = len(services)
    start = days[0]
    ncols = 1 + (ns - 1) + (nslots - 1) + len(FEATURES)
    nd = len(days)
    # one row per (day, service, half hour), in that order
    d_idx, s_idx, j_idx = (a.ravel() for a in np.meshgrid(np.arange(nd), np.arange(ns), np.arange(nslots),
                                                          indexing="ij"))
    X = np.zeros((nd * ns * nslots, ncols))
    X[:, 0] = 1.0
    rows = np.arange(len(d_idx))
    X[rows[s_idx > 0], s_idx[s_idx > 0]] = 1.0
    X[rows[j_idx > 0], ns - 1 + j_idx[j_idx > 0]] = 1.0
    cal = np.array([_features(day_kind(d, country), (d - start).days / 7.0) for d in days])
    X[:, ns + nslots - 1:] = cal[d_idx]
    counts = np.zeros((nd, ns, nslots))
    for a, d in enumerate(days):
        per = history.counts[d]
        for i, sid in enumerate(services):
            got = per.get(sid)
            if got:
                counts[a, i, :] = got[first:last + 1]
    y = counts.ravel()
    # a regressor that never varies (no holiday seen open, no month end yet) is left at zero
    constant = [c for c in range(ns + nslots - 1, ncols) if np.all(X[:, c] == X[0, c])]
    keep = [c for c in range(ncols) if c not in constant]
    model = sm.GLM(y, X[:, keep], family=sm.families.Poisson())
    result = model.fit(maxiter=100)
    params = np.zeros(ncols)
    params[keep] = result.params
    effects = {name: round(math.exp(params[ns + nslots - 1 + k]), 3) for k, name in enumerate(FEATURES)
               if ns + nslots - 1 + k not in constant}
    logger.info("forecast fitted on %d days, %d services, %d half hours (deviance %.0f)", len(days), ns, nslots,
                result.deviance)
    return Forecaster(services=services, first_slot=first, last_slot=last, start=start, params=params,
                      country=country, history_days=len(days), effects=effects)


def closed_reason(day: date, hours: OpeningHours | None, country: str) -> str | None:
    """Why the centre will not open on ``day`` (its hours, a public holiday it keeps), or None."""
    if hours is None or hours.is_open_day(day):
        return None
    from centre_server.staffing.calendar import holiday_name

    return holiday_name(day, country) or "closed"


def forecast_day(history: History, day: date, *, hours: OpeningHours | None = None, country: str = "KE",
                 model: Forecaster | None = None) -> DayForecast:
    """The forecast of ``day`` from ``history`` (a fitted ``model`` may be passed to reuse it)."""
    kind = day_kind(day, country)
    model = model or fit(history, country)
    closed = closed_reason(day, hours, country)
    rates = {sid: [0.0] * SLOTS for sid in model.services} if closed is not None else model.rates(day)
    first, last = model.first_slot, model.last_slot
    if hours is not None:  # the centre's own hours bound the day, whatever the history says
        first = max(first, hours.opening_s // SLOT_S)
        if hours.closing_s is not None:
            last = max(first, min(last, (hours.closing_s - 1) // SLOT_S))
    return DayForecast(day=day, kind=kind, rates=rates, first_slot=first, last_slot=last, closed=closed,
                       history_days=model.history_days)


def seasonal_naive(history: History, day: date) -> dict[str, list[int]]:
    """The same half hour a week before (nothing, if the centre was shut then)."""
    return history.counts.get(day - timedelta(days=7), {})


@dataclass
class Backtest:
    weeks: int
    days: int
    arrivals: int
    wape_model: float
    wape_naive: float


def backtest(history: History, weeks: int = 2, country: str = "KE") -> Backtest:
    """Hold out each of the last ``weeks`` weeks in turn: fit on the days before it, forecast its days."""
    days = [d for d in history.days if history.total(d) > 0]
    if not days:
        raise NotEnoughHistory("no history at all")
    end = days[-1]
    err_m = err_n = total = 0.0
    n_days = 0
    for w in range(weeks, 0, -1):
        week_start = end - timedelta(days=7 * w - 1)
        train = history.before(week_start)
        model = fit(train, country)
        for k in range(7):
            d = week_start + timedelta(days=k)
            actual = history.counts.get(d)
            if not actual:
                continue
            n_days += 1
            rates = model.rates(d)
            naive = seasonal_naive(history, d)
            for sid in set(actual) | set(rates):
                a = actual.get(sid, [0] * SLOTS)
                f = rates.get(sid, [0.0] * SLOTS)
                nv = naive.get(sid, [0] * SLOTS)
                for j in range(SLOTS):
                    total += a[j]
                    err_m += abs(a[j] - f[j])
                    err_n += abs(a[j] - nv[j])
    if total == 0:
        raise NotEnoughHistory("no arrivals in the held-out weeks")
    return Backtest(weeks=weeks, days=n_days, arrivals=int(total), wape_model=err_m / total, wape_naive=err_n / total)
