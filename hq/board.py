"""The national board's figures: centres side by side, national trend, worst service levels, CSV.

A centre's day is shown as the centre computed it (``centre_server.reports.figures``,
the one definition its board, reports and day close use); where headquarters
adds days or centres up it uses the same definitions: the service level is the
summed ``within_target`` over the summed ``measured``, a mean wait is weighted
by the visits measured.

Charts are small SVGs drawn here on the server: the page needs no script and
no CDN, and prints well.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from datetime import date as Date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from centre_server.contract import summary as schema
from centre_server.reports import figures
from hq.store import Store

logger = logging.getLogger(__name__)

FIGURES = ["arrived", "served", "served_share", "no_shows", "no_show_share", "cancelled", "transfers",
           "wait_mean_s", "wait_median_s", "wait_p90_s", "wait_max_s", "service_mean_s", "service_median_s",
           "service_p90_s", "service_max_s", "within_target", "measured", "within_target_share",
           "satisfaction_mean", "satisfaction_count"]


DEFAULT_TZ = "Africa/Nairobi"


def zone(name: str | None) -> ZoneInfo:
    """A centre's time zone (from its summary); Africa/Nairobi when absent or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: showing Nairobi time", name)
        return ZoneInfo(DEFAULT_TZ)


def local_time(ts: float | None, tz: str | None) -> dict[str, str] | None:
    """A moment as the centre's clock showed it: ``{"iso", "date", "time", "zone"}`` (zone as "EAT")."""
    if ts is None:
        return None
    t = datetime.fromtimestamp(ts, zone(tz))
    return {"iso": t.isoformat(timespec="seconds"), "date": t.date().isoformat(), "time": t.strftime("%H:%M"),
            "zone": t.tzname() or ""}


def date_range(last: str, days: int) -> list[str]:
    end = Date.fromisoformat(last)
    return [(end - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]


def sparkline(values: list[float | None], *, width: int = 120, height: int = 28, lo: float | None = None,
              hi: float | None = None) -> str:
    """An SVG polyline of the values (gaps where None); empty string when nothing to draw."""
    pts = [v for v in values if v is not None]
    if not pts:
        return ""
    lo = min(pts) if lo is None else lo
    hi = max(pts) if hi is None else hi
    span = (hi - lo) or 1.0
    n = max(1, len(values) - 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        x = 2 + i * (width - 4) / n
        y = height - 2 - (v - lo) / span * (height - 4)
        segments[-1].append(f"{x:.1f},{y:.1f}")
    lines = "".join(f'<polyline points="{" ".join(s)}" />' for s in segments if len(s) > 1)
    dots = "".join(f'<circle cx="{s[-1].split(",")[0]}" cy="{s[-1].split(",")[1]}" r="2" />'
                   for s in segments[-1:] if s)
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-hidden="true">{lines}{dots}</svg>')


def trend_chart(dates: list[str], arrived: list[int], share: list[float | None], *, width: int = 760,
                height: int = 200) -> str:
    """Bars of citizens per day and a line of the share within target (right axis 0-100%)."""
    if not dates:
        return ""
    top = max(arrived + [1])
    left, bottom, plot_h = 44, 28, height - 40
    step = (width - left - 44) / len(dates)
    parts = [f'<svg class="trend" viewBox="0 0 {width} {height}" width="100%" role="img">']
    for frac in (0, 0.5, 1):
        y = height - bottom - frac * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 40}" y1="{y:.1f}" y2="{y:.1f}" />')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(top * frac)}</text>')
        parts.append(f'<text class="axis" x="{width - 36}" y="{y + 4:.1f}">{int(frac * 100)}%</text>')
    pts = []
    for i, (d, a, s) in enumerate(zip(dates, arrived, share)):
        x = left + i * step
        h = a / top * plot_h
        parts.append(f'<rect class="bar" x="{x + step * 0.15:.1f}" y="{height - bottom - h:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>{d}: {a}</title></rect>')
        if s is not None:
            pts.append(f"{x + step / 2:.1f},{height - bottom - s * plot_h:.1f}")
        if len(dates) <= 16 or i % 2 == 0:
            parts.append(f'<text class="axis" x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                         f'{d[5:]}</text>')
    if len(pts) > 1:
        parts.append(f'<polyline class="share" points="{" ".join(pts)}" />')
    for p in pts:
        x, y = p.split(",")
        parts.append(f'<circle class="share-dot" cx="{x}" cy="{y}" r="3" />')
    parts.append("</svg>")
    return "".join(parts)


def valid_rows(store: Store, first: str, last: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored summaries of first..last that hold the summary's shape, and those skipped (with why).

    A row stored before headquarters validated summaries (or written to the
    database by hand) must not break the board for every centre: it is left
    out of the figures, listed on the page and logged.
    """
    good, skipped = [], []
    for r in store.summaries_between(first, last):
        why = schema.problem(r["summary"])
        if why is None:
            good.append(r)
        else:
            logger.warning("skipped the stored summary of %s for %s (revision %s): %s",
                           r["centre_id"], r["date"], r["revision"], why)
            skipped.append({"centre_id": r["centre_id"], "date": r["date"], "revision": r["revision"],
                            "reason": why})
    return good, skipped


def centre_names(store: Store) -> dict[str, str]:
    """Registered names: a summary's own ``centre_name`` is the centre's say, never shown as its name."""
    return {c["id"]: c["name"] for c in store.centres()}


def board_data(store: Store, day: str | None = None, days: int = 14, min_measured: int = 10) -> dict[str, Any]:
    """Everything the board page and ``GET /api/v1/board`` show."""
    dates_known = store.dates()
    if day is None:
        day = dates_known[-1] if dates_known else Date.today().isoformat()
    dates = date_range(day, days)
    rows, skipped = valid_rows(store, dates[0], dates[-1])
    registered = {c["id"]: c for c in store.centres()}
    by_centre: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    names: dict[str, str] = {cid: c["name"] for cid, c in registered.items()}
    for r in rows:
        by_centre[r["centre_id"]][r["date"]] = r
        names.setdefault(r["centre_id"], r["centre_id"])
    for k in skipped:
        k["centre_name"] = names.get(k["centre_id"], k["centre_id"])
    centres = []
    for cid in sorted(set(registered) | set(by_centre), key=lambda c: names.get(c, c)):
        days_of = by_centre.get(cid, {})
        today = days_of.get(day)
        totals = [days_of[d]["summary"]["total"] if d in days_of else None for d in dates]
        latest = days_of[max(days_of)] if days_of else None
        tz = (today or latest or {}).get("summary", {}).get("timezone") or DEFAULT_TZ
        centres.append({
            "id": cid, "name": names.get(cid, cid), "timezone": tz,
            "total": today["summary"]["total"] if today else None,
            "revision": today["revision"] if today else None,
            "received": local_time(today["received_at"], tz) if today else None,
            "simulated": bool(today and today["summary"].get("simulated")),
            "arrived_trend": [t["arrived"] if t else None for t in totals],
            "within_trend": [t.get("within_target_share") if t else None for t in totals],
            "wait_trend": [t.get("wait_mean_s") if t else None for t in totals],
            "reported_days": sum(1 for t in totals if t),
            "missing": [d for d in dates if d not in days_of],
        })
    national = []
    for d in dates:
        day_rows = [by_centre[c][d]["summary"]["total"] for c in by_centre if d in by_centre[c]]
        within = sum(t.get("within_target", 0) for t in day_rows)
        measured = sum(t.get("measured", 0) for t in day_rows)
        ratings = sum((t.get("satisfaction_mean") or 0) * t.get("satisfaction_count", 0) for t in day_rows)
        rcount = sum(t.get("satisfaction_count", 0) for t in day_rows)
        national.append({"date": d, "centres": len(day_rows), "arrived": sum(t.get("arrived", 0) for t in day_rows),
                         "served": sum(t.get("served", 0) for t in day_rows),
                         "within_target_share": figures.share(within, measured),
                         "satisfaction_mean": round(ratings / rcount, 2) if rcount else None})
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        for s in r["summary"].get("services", []):
            k = (r["centre_id"], s["service_id"])
            a = agg.setdefault(k, {"centre_id": r["centre_id"], "centre_name": names.get(r["centre_id"]),
                                   "service_id": s["service_id"], "name_en": s.get("name_en"),
                                   "name_sw": s.get("name_sw"), "target_wait_s": s.get("target_wait_s"),
                                   "within_target": 0, "measured": 0, "arrived": 0, "_wait_sum": 0.0,
                                   "_wait_n": 0})
            a["within_target"] += s.get("within_target", 0)
            a["measured"] += s.get("measured", 0)
            a["arrived"] += s.get("arrived", 0)
            if s.get("wait_mean_s") is not None:
                n = max(1, s.get("measured", 0))  # the visits whose wait was measured, as the centre's reports
                a["_wait_sum"] += s["wait_mean_s"] * n
                a["_wait_n"] += n
    worst = []
    for a in agg.values():
        if a["measured"] < min_measured:
            continue
        a["within_target_share"] = figures.share(a["within_target"], a["measured"])
        a["wait_mean_s"] = figures.seconds(a["_wait_sum"] / a["_wait_n"]) if a["_wait_n"] else None
        worst.append({k: v for k, v in a.items() if not k.startswith("_")})
    worst.sort(key=lambda a: (a["within_target_share"], -a["measured"]))
    return {"date": day, "dates": dates, "days": days, "centres": centres, "national": national,
            "worst": worst[:12], "reporting": sum(1 for c in centres if c["total"]), "known_dates": dates_known,
            "skipped": skipped}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: text starting like a formula gets a leading quote.

    Centre-supplied text (service names, ids) reached the spreadsheet raw, so
    ``=HYPERLINK(...)`` became a live formula (OWASP "CSV injection").
    Numbers are left alone: the schema keeps them non-negative.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_csv(store: Store, first: str, last: str, level: str = "total") -> str:
    """One row per centre and day (``total``), per service (``services``) or per hour (``hours``).

    Centres are named by their registered name; rows that do not hold the
    summary's shape are left out (and logged, see ``valid_rows``).
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    names = centre_names(store)
    rows, _skipped = valid_rows(store, first, last)
    extra = {"total": ["counters_open", "staffed_hours"],
             "services": ["service_id", "name_en", "name_sw", "target_wait_s", "issued", "transfers_in", "counters"],
             "hours": ["hour", "counters_open", "staffed_hours"]}[level]
    w.writerow(["centre_id", "centre_name", "date", "revision", "simulated", *extra, *FIGURES])
    for r in rows:
        s = r["summary"]
        items = [s["total"]] if level == "total" else s.get(level, [])
        for item in items:
            w.writerow([cell(x) for x in [
                r["centre_id"], names.get(r["centre_id"], r["centre_id"]), r["date"], r["revision"],
                int(bool(s.get("simulated"))), *[item.get(k) for k in extra],
                *["" if item.get(k) is None else item.get(k) for k in FIGURES]]])
    return out.getvalue()
