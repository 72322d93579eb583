"""The national board as headquarters computed it before its figures were kept in columns.

Kept ONLY as the tests' oracle: it parses every stored summary in Python (as
``hq.board`` did until the figures moved to ``hq.daily``), so a test can check
that the SQL path gives the same board, JSON and CSV on the same data. The
definitions it uses are the production ones (``figures.share``,
``figures.seconds``, ``daily.wait_weight``), so there is still one of each.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from datetime import date as Date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centre_server.contract import summary as schema
from centre_server.reports import figures
from hq import daily
from hq.board import DEFAULT_TZ, FIGURES, cell, centre_names, date_range, local_time
from hq.store import Store

logger = logging.getLogger(__name__)


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


def callers_feedback(store: Store, first: str, last: str) -> dict[str, dict[str, Any]]:
    """Callers' ratings per centre from midnight of ``first`` to midnight after ``last`` (Nairobi), in Python."""
    tz = ZoneInfo(DEFAULT_TZ)
    since = datetime.combine(Date.fromisoformat(first), datetime.min.time(), tz).timestamp()
    until = datetime.combine(Date.fromisoformat(last) + timedelta(days=1), datetime.min.time(), tz).timestamp()
    with store.tx() as cur:
        cur.execute("SELECT centre_id, at, rating FROM hq_feedback")
        rows = cur.fetchall()
    ratings: dict[str, list[int]] = defaultdict(list)
    for cid, at, rating in rows:
        if since <= at < until:
            ratings[cid].append(rating)
    return {cid: {"count": len(r), "mean": round(sum(r) / len(r), 2), "unhappy": sum(1 for x in r if x <= 2)}
            for cid, r in ratings.items()}


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
    callers = callers_feedback(store, dates[0], dates[-1])
    for c in centres:
        c["callers"] = callers.get(c["id"], {"count": 0, "mean": None, "unhappy": 0})
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
                n = daily.wait_weight(s)
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
