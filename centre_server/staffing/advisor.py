"""The advisor as the manager meets it: tomorrow's plan for a centre, and a past day's plan against what happened.

Thin over ``forecast`` and ``plan``: it reads the centre's database (services,
counters and skills, the tickets of the history, yesterday's staffing) and keeps
the last plans in memory, since the board page and the CSV ask for the same day
again and a plan takes seconds of replays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centre_server.runtime.policy import policy_from
from centre_server.sim import replay as rp
from centre_server.staffing import plan as pl
from centre_server.staffing.forecast import MIN_DAYS, NotEnoughHistory, fit, forecast_day
from centre_server.staffing.history import SLOT_S, History, open_days, read_history
from centre_server.store import admin

logger = logging.getLogger(__name__)

HISTORY_DAYS = 70  # read this far back (the fit keeps the last eight weeks of open days)
_cache: dict[tuple[Any, ...], Any] = {}
_cache_lock = threading.Lock()
_making: dict[tuple[Any, ...], threading.Lock] = {}


class PlanError(ValueError):
    """A day that cannot be planned (a bad date, too little history); the message says why."""

    def __init__(self, message: str, history_days: int | None = None) -> None:
        super().__init__(message)
        self.history_days = history_days  # set when the history is what is missing


def resolve_day(text: str, tz: str, now: datetime | None = None) -> date:
    """'tomorrow', 'today', 'yesterday' or YYYY-MM-DD, in the centre's time zone."""
    today = (now or datetime.now(ZoneInfo(tz))).date()
    words = {"today": today, "tomorrow": today + timedelta(days=1), "yesterday": today - timedelta(days=1)}
    if text in words:
        return words[text]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PlanError(f"{text[:40]!r} is not a date like 2026-03-02 (or tomorrow, today, yesterday)") from None


def centre_of(settings: Any, db: Any, history: History, target_share: float) -> pl.Centre:
    services = {s.id: s for s in admin.load_services(db)}
    counters = {c.id: [s for s in c.services if s in services] for c in admin.load_counters(db)}
    return pl.Centre(services=services, counters={k: v for k, v in counters.items() if v},
                     policy=policy_from(settings), durations=history.durations, target_share=target_share,
                     patience_s=history.patience_s)


def _fingerprint(db: Any, day: date) -> tuple[Any, ...]:
    row = db.execute("SELECT COUNT(*), MAX(day) FROM tickets WHERE day < ?", [day.isoformat()]).fetchone()
    services = db.execute("SELECT COUNT(*), GROUP_CONCAT(id || ':' || target_wait_s) FROM services").fetchone()
    counters = db.execute("SELECT GROUP_CONCAT(id || ':' || services) FROM counters").fetchone()
    return tuple(row) + tuple(services) + tuple(counters)


def make_plan(settings: Any, db: Any, day: date, target_share: float = pl.TARGET_SHARE,
              today: date | None = None) -> pl.Plan:
    """The plan for ``day`` from the history before it, with the staffing of the last day before it scored too.

    Only whole days teach: with ``today`` given, today (still under way) is left out of the
    history, so tomorrow's plan does not change with every ticket issued today.
    Raises PlanError when the history is too short to forecast from.
    """
    if not 0.5 <= target_share <= 0.99:
        raise PlanError(f"target share {target_share}: choose between 0.5 and 0.99")
    until = min(day, today) if today is not None else day  # the first day the history may not hold
    key = (str(settings.directory), day, target_share, _fingerprint(db, until))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        making = _making.setdefault(key, threading.Lock())
    with making:  # a second manager asking for the same plan waits for the first one's, not a second run
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        try:
            return _make(settings, db, day, target_share, until, key)
        finally:
            with _cache_lock:
                _making.pop(key, None)


QUICK_S = 3.0  # the page waits this long for a plan before it says "being prepared"
_background: dict[tuple[Any, ...], threading.Thread] = {}
_failed: dict[tuple[Any, ...], PlanError] = {}


def plan_if_ready(settings: Any, reader: Callable[[], Any], day: date, target_share: float = pl.TARGET_SHARE,
                  today: date | None = None) -> pl.Plan | None:
    """The plan for ``day`` when it is made; else None, and it is being made in the background.

    A plan takes tens of seconds of replays the first time (a month of history on a 2-core
    server): the manager's page must not hang that long, so it says "being prepared" and
    looks again. ``reader`` gives the calling thread its own database connection (the
    background thread asks for its own). A PlanError (too little history) is raised here.
    """
    if not 0.5 <= target_share <= 0.99:
        raise PlanError(f"target share {target_share}: choose between 0.5 and 0.99")
    until = min(day, today) if today is not None else day
    db = reader()
    have = open_days(db, until - timedelta(days=HISTORY_DAYS), until - timedelta(days=1))
    if have < MIN_DAYS:  # no plan can come: say so now, not "being prepared" and then this
        raise _too_little_history(day, f"{have} open day(s) of history; the forecast needs {MIN_DAYS} at least",
                                  have)
    key = (str(settings.directory), day, target_share, _fingerprint(db, until))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        if key in _failed:
            raise _failed[key]
        if key in _background and _background[key].is_alive():
            return None

        def work() -> None:
            try:
                make_plan(settings, reader(), day, target_share, today=today)
            except PlanError as err:
                with _cache_lock:
                    _failed[key] = err
                    if len(_failed) > 16:
                        _failed.pop(next(iter(_failed)))
            except Exception:
                logger.exception("the plan for %s could not be made", day)
            finally:
                with _cache_lock:
                    _background.pop(key, None)

        thread = threading.Thread(target=work, name=f"plan-{day}", daemon=True)
        _background[key] = thread
    thread.start()
    thread.join(QUICK_S)  # a short history, or none, is answered at once
    with _cache_lock:
        if key in _failed:
            raise _failed[key]
        return _cache.get(key)


def _too_little_history(day: date, why: str, days: int) -> PlanError:
    return PlanError(f"not enough history to forecast {day}: {why}. Serve a few weeks first "
                     "(or, for a demo, huduma-centre simulate-history DIR --days 30)", history_days=days)


def _make(settings: Any, db: Any, day: date, target_share: float, until: date, key: tuple[Any, ...]) -> pl.Plan:
    """Forecast from the whole days before ``until``, plan, score last week's staffing, and keep the plan."""
    history = read_history(db, settings.timezone, until - timedelta(days=HISTORY_DAYS), until - timedelta(days=1))
    centre = centre_of(settings, db, history, target_share)
    country = settings.day.public_holidays or "KE"
    try:
        model = fit(history, country)
    except NotEnoughHistory as err:
        raise _too_little_history(day, str(err), err.days) from None
    forecast = forecast_day(history, day, hours=centre.policy.hours, country=country, model=model)
    roster, roster_day = pl.roster_from(db, settings.timezone, day, until)
    plan = pl.make_plan(forecast, centre, roster=roster, roster_day=roster_day)
    plan.effects = model.effects
    with _cache_lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = plan
    return plan


@dataclass
class GroupReview:
    group: pl.Group
    forecast: dict[int, float]
    planned: dict[int, int]
    arrived: dict[int, int]
    opened: dict[int, float]  # counters open, averaged over the half hour
    planned_level: float | None
    level: float | None  # what happened: share within target
    measured: int = 0


@dataclass
class Review:
    """A past day: what the plan said the evening before, and what happened."""

    plan: pl.Plan
    groups: list[GroupReview] = field(default_factory=list)

    @property
    def arrived(self) -> int:
        return sum(sum(g.arrived.values()) for g in self.groups)

    @property
    def forecast_total(self) -> float:
        return sum(sum(g.forecast.values()) for g in self.groups)

    def level(self) -> float | None:
        m = sum(g.measured for g in self.groups)
        return sum((g.level or 0.0) * g.measured for g in self.groups) / m if m else None

    def wape(self) -> float | None:
        """The forecast's error over the day's half hours, the whole centre together (small groups'
        half hours hold a citizen or two: their error is mostly chance, not the forecast's)."""
        a = self.arrived
        slots = self.plan.forecast.slots
        err = sum(abs(sum(g.arrived.get(s, 0) for g in self.groups) - sum(g.forecast.get(s, 0.0) for g in self.groups))
                  for s in slots)
        return err / a if a else None


def review(settings: Any, db: Any, day: date, now: float, target_share: float = pl.TARGET_SHARE) -> Review:
    """``day``'s plan (made from the days before it) against its arrivals, open counters and service level."""
    from centre_server.reports import figures

    plan = make_plan(settings, db, day, target_share, today=day)
    actual = read_history(db, settings.timezone, day, day)
    counts = actual.counts.get(day, {})
    _, shifts = rp.export_trace(db, day.isoformat(), day.isoformat(), settings.timezone)
    summary = figures.compute_day(db, settings, day.isoformat(), now)
    per_service = {r["service_id"]: r for r in summary.get("services", [])}
    out = Review(plan=plan)
    for g in plan.groups:
        arrived = {s: sum(counts.get(sid, [0] * 48)[s] for sid in g.group.services) for s in plan.forecast.slots}
        opened = {}
        for s in plan.forecast.slots:
            a, b = s * SLOT_S, (s + 1) * SLOT_S
            opened[s] = round(sum(max(0.0, min(b, x.open_to_s) - max(a, x.open_from_s)) for x in shifts
                                  if x.counter_id in g.group.counters) / SLOT_S, 1)
        within = sum(per_service.get(sid, {}).get("within_target", 0) for sid in g.group.services)
        measured = sum(per_service.get(sid, {}).get("measured", 0) for sid in g.group.services)
        out.groups.append(GroupReview(group=g.group, forecast=g.forecast,
                                      planned={s: g.needed(s) for s in plan.forecast.slots}, arrived=arrived,
                                      opened=opened, planned_level=g.level,
                                      level=within / measured if measured else None, measured=measured))
    return out
