"""The manager's figures: live (from the engine's state) and per day (from the tickets table)."""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from typing import Any

from centre_server import engine
from centre_server.contract import CounterState, TicketState

logger = logging.getLogger(__name__)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def _summarise(rows: list[dict[str, Any]], target_s: int | None) -> dict[str, Any]:
    waits = [r["first_called_at"] - r["queued_at"] for r in rows if r["first_called_at"]]
    served = [r for r in rows if r["state"] == "done"]
    service_times = [r["ended_at"] - (r["started_at"] or r["called_at"]) for r in served
                     if r["ended_at"] and (r["started_at"] or r["called_at"])]
    ratings = [r["rating"] for r in rows if r["rating"]]
    within = None
    if waits and target_s:
        within = sum(1 for w in waits if w <= target_s) / len(waits)
    arrived = len(rows)
    no_shows = sum(1 for r in rows if r["state"] == "no_show")
    return {
        "arrived": arrived,
        "served": len(served),
        "served_share": round(len(served) / arrived, 4) if arrived else None,
        "no_shows": no_shows,
        "no_show_share": round(no_shows / arrived, 4) if arrived else None,
        "cancelled": sum(1 for r in rows if r["state"] == "cancelled"),
        "waiting": sum(1 for r in rows if r["state"] == "waiting"),
        "transfers": sum(r["transfers"] for r in rows),
        "wait_mean_s": round(statistics.fmean(waits)) if waits else None,
        "wait_median_s": round(statistics.median(waits)) if waits else None,
        "wait_p90_s": round(percentile(waits, 90)) if waits else None,
        "wait_max_s": round(max(waits)) if waits else None,
        "service_mean_s": round(statistics.fmean(service_times)) if service_times else None,
        "service_max_s": round(max(service_times)) if service_times else None,
        "within_target_share": round(within, 4) if within is not None else None,
        "satisfaction_mean": round(statistics.fmean(ratings), 2) if ratings else None,
        "satisfaction_count": len(ratings),
    }


def daily(db: Any, state: engine.State, day: str, tz: str) -> dict[str, Any]:
    """One day's KPIs per service and per hour, computed from the tickets themselves."""
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    rows = []
    for r in db.query("SELECT service_id, state, issued_at, queued_at, called_at, first_called_at, started_at,"
                      " ended_at, rating, transfers FROM tickets WHERE day=?", [day]):
        r = dict(r)
        r["transfers"] = len(json.loads(r["transfers"] or "[]"))
        r["hour"] = datetime.fromtimestamp(r["issued_at"], zone).hour
        rows.append(r)
    by_service: dict[str, list] = defaultdict(list)
    by_hour: dict[int, list] = defaultdict(list)
    for r in rows:
        by_service[r["service_id"]].append(r)
        by_hour[r["hour"]].append(r)
    services = []
    for sid, srows in sorted(by_service.items()):
        svc = state.services.get(sid)
        services.append({"service_id": sid, "name_en": svc.name_en if svc else sid,
                         "name_sw": svc.name_sw if svc else sid,
                         "target_wait_s": svc.target_wait_s if svc else None,
                         **_summarise(srows, svc.target_wait_s if svc else None)})
    # within target overall: each ticket against its own service's target
    waits_ok = [(r["first_called_at"] - r["queued_at"]) <= state.services[r["service_id"]].target_wait_s
                for r in rows if r["first_called_at"] and r["service_id"] in state.services]
    total = _summarise(rows, None)
    total["within_target_share"] = round(sum(waits_ok) / len(waits_ok), 4) if waits_ok else None
    hours = [{"hour": h, **_summarise(hrows, None)} for h, hrows in sorted(by_hour.items())]
    return {"date": day, "total": total, "services": services, "hours": hours}


def live(state: engine.State, now: float, devices: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the wait-time board shows now."""
    services = []
    for s in sorted(state.services.values(), key=lambda s: s.position):
        f = engine.service_figures(state, s.id, now)
        today = [t for t in state.tickets.values() if t.service_id == s.id and t.day == state.day]
        served = [t for t in today if t.state == TicketState.done]
        waits = [t.first_called_at - t.queued_at for t in today if t.first_called_at]
        svc_times = [t.ended_at - (t.started_at or t.called_at) for t in served
                     if t.ended_at and (t.started_at or t.called_at)]
        within = [w <= s.target_wait_s for w in waits]
        # tickets still waiting beyond target count against the service level too
        late_waiting = sum(1 for t in today if t.state == TicketState.waiting and now - t.queued_at > s.target_wait_s)
        denominator = len(within) + late_waiting
        services.append({
            "id": s.id, "prefix": s.prefix, "name_en": s.name_en, "name_sw": s.name_sw,
            "target_wait_s": s.target_wait_s, **f,
            "issued_today": len(today), "served_today": len(served),
            "no_shows_today": sum(1 for t in today if t.state == TicketState.no_show),
            "wait_mean_s": round(statistics.fmean(waits)) if waits else None,
            "service_mean_s": round(statistics.fmean(svc_times)) if svc_times else None,
            "service_level": round(sum(within) / denominator, 4) if denominator else None,
            "breached": f["longest_wait_s"] > s.target_wait_s,
        })
    counters = []
    for c in state.counters.values():
        t = state.tickets.get(c.ticket_id or "")
        counters.append({"id": c.id, "name": c.name, "state": c.state.value, "services": c.services,
                         "clerk": c.clerk, "ticket": t.number if t else None,
                         "ticket_state": t.state.value if t else None,
                         "idle_s": int(now - c.idle_since) if c.idle_since and c.state == CounterState.open and not t else None})
    today = [t for t in state.tickets.values() if t.day == state.day]
    ratings = [t.rating for t in today if t.rating]
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
        "waiting": sum(s["waiting"] for s in services),
        "longest_wait_s": max((s["longest_wait_s"] for s in services), default=0),
        "issued_today": len(today),
        "served_today": sum(1 for t in today if t.state == TicketState.done),
        "no_shows_today": sum(1 for t in today if t.state == TicketState.no_show),
        "counters_open": sum(1 for c in state.counters.values() if c.state == CounterState.open),
        "satisfaction_mean": round(statistics.fmean(ratings), 2) if ratings else None,
        "satisfaction_count": len(ratings),
        "services": services,
        "counters": counters,
        "devices": list((devices or {}).values()),
        "alerts": alerts,
    }
