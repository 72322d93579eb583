"""The manager's figures: the board's live view and one day's figures.

Queues (waiting, longest wait, estimate, open counters) come from the
engine's state; every figure of the day (served, waits, percentiles, service
level, satisfaction) comes from ``centre_server.reports.figures``, the one module
that defines them for the board, the reports, the day close and HQ.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from centre_server.contract import CounterState, TicketState
from centre_server.queue import engine
from centre_server.reports import figures
from centre_server.store import database as storage

logger = logging.getLogger(__name__)


def daily(centre: Any, day: str) -> dict[str, Any]:
    """One day's figures (``centre_server.reports.figures``): the open day as of now, any other from its events.

    Call without ``centre.lock`` held: the figures are read on a connection of their own.
    """
    return day_figures(centre, day)


def live(centre: Any, devices: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the wait-time board shows now: queues from the engine, the day's figures from ``figures``.

    Call without ``centre.lock`` held: the day's figures are computed outside it,
    the queues under it. Served, waits, service times and the service level are
    the open day's figures exactly as the reports and the day close give them
    (one definition, ``centre_server.reports.figures``).
    """
    figs = live_day(centre)
    with centre.lock:
        return _live(centre, figs, devices)


def _live(centre: Any, figs: dict[str, Any], devices: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    state: engine.State = centre.state
    now = centre.clock()
    rows = {r["service_id"]: r for r in figs["services"]} if figs["date"] == state.day else {}
    services = []
    for s in sorted(state.services.values(), key=lambda s: s.position):
        f = engine.service_figures(state, s.id, now)
        row = rows.get(s.id, {})
        services.append({
            "id": s.id, "prefix": s.prefix, "name_en": s.name_en, "name_sw": s.name_sw,
            "target_wait_s": s.target_wait_s, **f,
            "issued_today": row.get("arrived", 0), "served_today": row.get("served", 0),
            "no_shows_today": row.get("no_shows", 0),
            "wait_mean_s": row.get("wait_mean_s"), "wait_p90_s": row.get("wait_p90_s"),
            "service_mean_s": row.get("service_mean_s"),
            "within_target": row.get("within_target", 0), "measured": row.get("measured", 0),
            "service_level": row.get("within_target_share"),
            "breached": breached(f["longest_wait_s"], s.target_wait_s),
        })
    counters = []
    for c in state.counters.values():
        t = state.tickets.get(c.ticket_id or "")
        counters.append({"id": c.id, "name": c.name, "state": c.state.value, "services": c.services,
                         "clerk": c.clerk, "ticket": t.number if t else None,
                         "ticket_state": t.state.value if t else None,
                         "idle_s": (int(now - c.idle_since)
                                    if c.idle_since and c.state == CounterState.open and not t else None)})
    alerts = [{"kind": "service_breach", "service_id": s["id"], "longest_wait_s": s["longest_wait_s"],
               "target_wait_s": s["target_wait_s"]} for s in services if s["breached"]]
    for dev in (devices or {}).values():
        status = dev.get("status") or {}
        if dev.get("availability") == "offline":
            alerts.append({"kind": "device_offline", "device_id": dev["device_id"]})
        elif status.get("printer") and status["printer"] != "ok":
            alerts.append({"kind": "printer", "device_id": dev["device_id"], "printer": status["printer"]})
    return {
        "day": state.day,
        "waiting": sum(s["waiting"] for s in services),  # in the hall; those on the way apart
        "on_the_way": sum(s["on_the_way"] for s in services),
        "longest_wait_s": max((s["longest_wait_s"] for s in services), default=0),
        "issued_today": figs["total"]["arrived"],
        "served_today": figs["total"]["served"],
        "no_shows_today": figs["total"]["no_shows"],
        # sent to fetch a document: neither waiting nor at a counter, to be called back (not no-shows)
        "parked_now": sum(1 for t in state.tickets.values() if t.state == TicketState.parked),
        "counters_open": sum(1 for c in state.counters.values() if c.state == CounterState.open),
        "satisfaction_mean": figs["total"]["satisfaction_mean"],
        "satisfaction_count": figs["total"]["satisfaction_count"],
        "total": figs["total"],
        "services": services,
        "counters": counters,
        "devices": list((devices or {}).values()),
        "alerts": alerts,
    }


def breached(longest_wait_s: int, target_wait_s: int) -> bool:
    """A service is over its target when its longest waiting citizen has waited past the target wait:
    the board's red row and the managers' SMS alerts (centre_server/alerts/) alike."""
    return longest_wait_s > target_wait_s


def service_breaches(state: engine.State, now: float) -> list[dict[str, Any]]:
    """The services over their target now (call with ``centre.lock`` held), with their queue."""
    out = []
    for sid, waiting in state.queues.items():
        s = state.services.get(sid)
        if not waiting or s is None:
            continue
        f = engine.service_figures(state, sid, now)
        if breached(f["longest_wait_s"], s.target_wait_s):
            out.append({"service_id": sid, "waiting": f["waiting"], "longest_wait_s": f["longest_wait_s"],
                        "target_wait_s": s.target_wait_s})
    return out


# --------------------------------------------------------------------------
# The open day, kept in memory for the board
# --------------------------------------------------------------------------

@dataclass
class _Live:
    db: Any  # the board's own connection: reading never holds the centre's lock
    events: figures.DayEvents | None = None
    memo: tuple[tuple[Any, ...], dict[str, Any]] | None = None  # boards asking after the same event share it


_open_days: weakref.WeakKeyDictionary[Any, _Live] = weakref.WeakKeyDictionary()
_open_days_lock = threading.Lock()


def live_day(centre: Any, day: str | None = None) -> dict[str, Any]:
    """The open day's figures now, as ``compute_day`` would give them at this moment.

    The day's events are read once and then only the new ones, on a connection
    of its own and without the centre's lock (a busy day takes tens of
    milliseconds to summarise: the writer must not wait for the board).
    """
    if day is None:
        with centre.lock:
            day = centre.state.day
    settings = centre.settings
    with _open_days_lock:
        live = _open_days.get(centre)
        if live is None:
            live = _open_days[centre] = _Live(storage.connect(settings.db_path))
        ev = live.events
        if ev is None or ev.day != day or ev.tz != settings.timezone:
            ev = live.events = figures.DayEvents.read(live.db, day, settings.timezone)
        else:
            ev.catch_up(live.db)
        now = centre.clock()
        key = (ev.day, ev.last_seq, math.floor(now))  # open visits' service level moves with the clock
        if live.memo is None or live.memo[0] != key:
            live.memo = (key, ev.summarise(live.db, settings.centre_id, settings.centre_name, now))
        return copy.deepcopy(live.memo[1])


def day_figures(centre: Any, day: str) -> dict[str, Any]:
    """Any day's figures through a running centre: the open day from memory, another from the log."""
    with centre.lock:
        open_day = centre.state.day
    if day == open_day:
        return live_day(centre, day)
    db = storage.connect(centre.settings.db_path)
    try:
        return figures.compute_day(db, centre.settings, day, centre.clock())
    finally:
        db.conn.close()
