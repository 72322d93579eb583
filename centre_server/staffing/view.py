"""What the "Tomorrow" page shows, as plain data: built once here, rendered by the template.

Pure: a plan (and, for a past day, its review) and the services' names in, rows out.
"""

from __future__ import annotations

import logging
from typing import Any

from centre_server.staffing import plan as pl
from centre_server.staffing.advisor import Review
from centre_server.staffing.calendar import holiday_name
from centre_server.staffing.history import slot_label
from centre_server.staffing.plan import Plan

logger = logging.getLogger(__name__)


def page(plan: Plan, names: dict[str, str], expected_by_service: dict[str, float],
         review: Review | None = None, lang: str = "en", country: str = "KE") -> dict[str, Any]:
    """Rows of the page: half hours, groups with their counters per half hour, the totals."""
    f = plan.forecast
    holiday = holiday_name(f.day, country, "sw" if lang == "sw" else "en_KE") if f.kind.holiday else None
    closed = None if f.closed is None else (holiday or f.closed)
    slots = list(f.slots)
    groups = []
    for i, g in enumerate(plan.groups):
        ordered = sorted(g.group.services, key=lambda s: (-expected_by_service.get(s, 0.0), s))
        rv = review.groups[i] if review is not None else None
        groups.append({
            "key": g.group.key,
            "name": names.get(ordered[0], ordered[0]),
            "more": len(ordered) - 1,
            "services": [names.get(s, s) for s in ordered],
            "counters": len(g.group.counters),
            "expected": round(sum(g.forecast.values()), 1),
            "cells": [{"n": g.needed(s), "roster": len(g.roster_at.get(s, [])),
                       "ids": " ".join(g.open_at.get(s, []))} for s in slots],
            "level": g.level, "roster_level": g.roster_level, "short": g.short,
            "plan_hours": sum(g.needed(s) for s in slots) / 2,
            "roster_hours": sum(len(g.roster_at.get(s, [])) for s in slots) / 2,
            "arrived": sum(rv.arrived.values()) if rv else None,
            "opened_avg": round(sum(rv.opened.values()) / len(slots), 1) if rv and slots else None,
            "planned_avg": round(sum(g.needed(s) for s in slots) / len(slots), 1) if slots else None,
            "actual_level": rv.level if rv else None,
        })
    out: dict[str, Any] = {
        "day": f.day.isoformat(), "weekday": f.day.weekday(), "closed": closed,
        "day_off": f.closed is not None and holiday is None,
        "kind": {"payday": f.kind.payday, "month_end": f.kind.month_end, "holiday": holiday,
                 "after_holiday": f.kind.after_holiday},
        "slots": [slot_label(s) for s in slots],
        "expected": [round(f.slot_total(s), 1) for s in slots],
        "expected_total": round(f.total()),
        "plan_total": [plan.counters_at(s) for s in slots],
        "roster_total": [plan.counters_at(s, roster=True) for s in slots],
        "peak": max((plan.counters_at(s) for s in slots), default=0),
        "level": plan.level(), "roster_level": plan.level(roster=True),
        "plan_hours": plan.counter_hours(), "roster_hours": plan.counter_hours(roster=True),
        "roster_day": plan.roster_day, "target_share": plan.target_share, "draws": f"{pl.MIN_DRAWS}-{len(pl.SEEDS)}",
        "history_days": f.history_days, "effects": plan.effects,
        "groups": groups, "short": [g["name"] for g in groups if g["short"]],
        "review": None,
    }
    if review is not None:
        out["review"] = {
            "arrived": [sum(g.arrived.get(s, 0) for g in review.groups) for s in slots],
            "opened": [round(sum(g.opened.get(s, 0.0) for g in review.groups), 1) for s in slots],
            "arrived_total": review.arrived, "wape": review.wape(), "level": review.level(),
        }
    return out
