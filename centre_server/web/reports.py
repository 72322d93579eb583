"""Reports over a day or a range of days, and their CSV.

One day's figures are ``centre_server.reports.figures``' (the one definition the
board, the day close and HQ use): the open day is computed now from its
events, even after a manager closed it (so a late change shows at once, and
the figures are those the close sent); a past day is read from its stored
summary once closed, else computed. A day is ``closed`` once summarised, unless
it is today and a manager reopened it: then it is ``reopened``, open again,
and headquarters holds the figures of its close until the next one. A
range adds the days up: counts are summed, maxima are maxima, the service
level is the summed ``within_target`` over the summed ``measured``, and means
are weighted by each day's counts (waits by the visits measured, service
times by the tickets served, satisfaction by the ratings given).
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, timedelta
from typing import Any

from centre_server.dayclose.closing import is_reopened
from centre_server.reports import figures, live as stats
from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

MAX_DAYS = 92
KPI_COLUMNS = ["arrived", "served", "served_share", "no_shows", "no_show_share", "wait_mean_s", "wait_max_s",
               "service_mean_s", "service_max_s", "within_target_share", "transfers", "satisfaction_mean",
               "satisfaction_count"]


class RangeError(ValueError):
    """A range a person asked for that we will not compute."""


def parse_range(start: str | None, end: str | None, today: str) -> tuple[date, date]:
    """``from``/``to`` as YYYY-MM-DD (either may be missing); refuses a reversed or too long range."""
    try:
        d1 = date.fromisoformat(start) if start else None
        d2 = date.fromisoformat(end) if end else None
    except ValueError:
        raise RangeError("dates are YYYY-MM-DD") from None
    d1 = d1 or d2 or date.fromisoformat(today)
    d2 = d2 or d1
    if d1 > d2:
        raise RangeError("'from' is after 'to'")
    if (d2 - d1).days + 1 > MAX_DAYS:
        raise RangeError(f"at most {MAX_DAYS} days at once")
    return d1, d2


def clamp_range(d1: date | None, d2: date | None, today: str) -> tuple[date, date]:
    """For the JSON API: dates in either order, at most MAX_DAYS from the first (never an error)."""
    d1 = d1 or d2 or date.fromisoformat(today)
    d2 = d2 or d1
    if d1 > d2:
        d1, d2 = d2, d1
    if (d2 - d1).days + 1 > MAX_DAYS:
        d2 = d1 + timedelta(days=MAX_DAYS - 1)
    return d1, d2


def _stored_summary(centre: Centre, day: str) -> dict[str, Any] | None:
    """A closed day's newest stored summary (written by the day close), when there is one."""
    try:
        from centre_server.dayclose import records
    except ImportError:  # a server without the day-close feature computes every day
        return None
    if "daily_summaries" not in centre.db.table_names():
        return None
    try:
        data = records.load_summary(centre.db, day)
    except (ValueError, KeyError):
        logger.warning("stored summary of %s unreadable: computing it", day)
        return None
    if isinstance(data, dict) and {"total", "services", "hours"} <= data.keys():
        return data
    return None


def day_summary(centre: Centre, day: str) -> dict[str, Any]:
    """One day's figures, with ``closed``, ``reopened`` and the newest summary's ``revision``.

    ``closed``: closed by the engine, or summarised and not reopened since;
    ``reopened``: today, closed and then reopened by a manager (open again).
    """
    with centre.lock:
        stored = _stored_summary(centre, day)
        is_open_day = day == centre.state.day
        engine_closed = is_open_day and bool(getattr(centre.state, "closed", False))
        reopened = is_reopened(centre.state, day)
    if stored is not None and not is_open_day:
        data = stored
    else:  # the open day: its figures as of now, the same the close gives (figures.summarise)
        data = stats.daily(centre, day)
        if stored is not None:
            data["revision"] = stored["revision"]
    data["closed"] = engine_closed or (stored is not None and not reopened)
    data["reopened"] = reopened
    return data


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Add several days' figures (``figures.summarise``'s rows) into one."""
    out: dict[str, Any] = {}
    for k in ("arrived", "served", "no_shows", "cancelled", "unfinished", "transfers", "within_target", "measured",
              "satisfaction_count"):
        out[k] = sum(p.get(k) or 0 for p in parts)
    for k in ("wait_max_s", "service_max_s"):
        vals = [p[k] for p in parts if p.get(k) is not None]
        out[k] = max(vals) if vals else None

    def weighted(key: str, weight: Any) -> float | None:
        pairs = [(p[key], weight(p)) for p in parts if p.get(key) is not None and weight(p)]
        total = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / total if total else None

    wm = weighted("wait_mean_s", lambda p: p.get("measured") or 0)
    sm = weighted("service_mean_s", lambda p: p.get("served") or 0)
    sat = weighted("satisfaction_mean", lambda p: p.get("satisfaction_count") or 0)
    out["wait_mean_s"] = figures.seconds(wm)
    out["service_mean_s"] = figures.seconds(sm)
    out["within_target_share"] = figures.share(out["within_target"], out["measured"])
    out["satisfaction_mean"] = round(sat, 2) if sat is not None else None
    return figures.with_shares(out)


def _day_row(day: dict[str, Any]) -> dict[str, Any]:
    """A day's totals, marked ``closed`` once the day is closed or ``reopened`` (and its summary's ``revision``)."""
    return {"date": day["date"], **day["total"], "closed": day["closed"], "reopened": day["reopened"],
            "revision": day.get("revision")}


def report(centre: Centre, d1: date, d2: date) -> dict[str, Any]:
    """Per day, per service, per hour and for the whole centre over [d1, d2]."""
    days = [day_summary(centre, (d1 + timedelta(days=i)).isoformat()) for i in range((d2 - d1).days + 1)]
    service_names = {s["service_id"]: s for day in days for s in day["services"]}
    if len(days) == 1:
        one = days[0]
        return {"from": d1.isoformat(), "to": d2.isoformat(), "days": [_day_row(one)], "closed": one["closed"],
                "reopened": one["reopened"],
                "total": one["total"], "services": one["services"], "hours": one["hours"],
                "payments": payments_report(days, service_names)}
    by_service: dict[str, list] = {}
    names: dict[str, dict[str, Any]] = {}
    by_hour: dict[int, list] = {}
    for day in days:
        for s in day["services"]:
            by_service.setdefault(s["service_id"], []).append(s)
            names[s["service_id"]] = {k: s.get(k) for k in ("name_en", "name_sw", "target_wait_s")}
        for h in day["hours"]:
            by_hour.setdefault(h["hour"], []).append(h)
    services = [{"service_id": sid, **names[sid], **_combine(parts)} for sid, parts in sorted(by_service.items())]
    hours = [{"hour": h, **_combine(parts)} for h, parts in sorted(by_hour.items())]
    return {"from": d1.isoformat(), "to": d2.isoformat(),
            "days": [_day_row(day) for day in days], "closed": all(day["closed"] for day in days),
            "reopened": any(day["reopened"] for day in days),
            "total": _combine([day["total"] for day in days]), "services": services, "hours": hours,
            "payments": payments_report(days, service_names)}


PAYMENT_KEYS = ("served", "due_ksh", "mpesa_count", "mpesa_ksh", "cash_count", "cash_ksh", "waived_count",
                "waived_ksh", "unpaid_served", "failed_attempts")


def payments_report(days: list[dict[str, Any]], names: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The days' reconciliation (``figures.payment_figures``) added up per service; None when no day has one."""
    blocks = [d["payments"] for d in days if d.get("payments")]
    if not blocks:
        return None
    by_service: dict[str, dict[str, Any]] = {}
    for b in blocks:
        for r in b["services"]:
            acc = by_service.setdefault(r["service_id"], {"service_id": r["service_id"], "fee_ksh": r["fee_ksh"],
                                                          "fee_varies": r["fee_varies"],
                                                          **{k: 0 for k in PAYMENT_KEYS}})
            for k in PAYMENT_KEYS:
                acc[k] += r.get(k) or 0
    services = []
    for sid, r in sorted(by_service.items()):
        info = names.get(sid, {})
        services.append({**r, "name_en": info.get("name_en") or sid, "name_sw": info.get("name_sw") or sid})
    total = {k: sum(r[k] for r in services) for k in PAYMENT_KEYS}
    total["unmatched_count"] = sum(b.get("unmatched_count", 0) for b in blocks)
    total["unmatched_ksh"] = sum(b.get("unmatched_ksh", 0) for b in blocks)
    total["received_ksh"] = total["mpesa_ksh"] + total["cash_ksh"]
    return {"services": services, "total": total}


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f}"


def _minutes(v: float | None) -> str:
    return "" if v is None else f"{v / 60:.1f}"


def csv_text(rep: dict[str, Any]) -> str:
    """One tidy table: a row per scope (total, day, service, hour), times in minutes, shares in %."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["from", "to", "scope", "key", "name_en", "name_sw", "arrived", "served", "served_pct", "no_shows",
                "no_show_pct", "wait_mean_min", "wait_max_min", "service_mean_min", "service_max_min",
                "within_target_pct", "transfers", "satisfaction_mean", "satisfaction_count",
                # the reconciliation of fees (issue 20), on the total and service rows; empty elsewhere
                "fee_ksh", "fees_due_ksh", "mpesa_ksh", "cash_ksh", "waived_count", "waived_ksh", "unpaid_served",
                "unmatched_ksh"])
    money = rep.get("payments") or {"services": [], "total": {}}
    money_of = {r["service_id"]: r for r in money["services"]}

    def money_cells(m: dict[str, Any] | None, fee: Any = "") -> list[Any]:
        if not m:
            return [""] * 8
        return [fee, m.get("due_ksh", 0), m.get("mpesa_ksh", 0), m.get("cash_ksh", 0), m.get("waived_count", 0),
                m.get("waived_ksh", 0), m.get("unpaid_served", 0), m.get("unmatched_ksh", "")]

    def row(scope: str, key: str, en: str, sw: str, k: dict[str, Any], money: list[Any] | None = None) -> None:
        w.writerow([rep["from"], rep["to"], scope, key, en, sw, k.get("arrived", 0), k.get("served", 0),
                    _pct(k.get("served_share")), k.get("no_shows", 0), _pct(k.get("no_show_share")),
                    _minutes(k.get("wait_mean_s")), _minutes(k.get("wait_max_s")),
                    _minutes(k.get("service_mean_s")), _minutes(k.get("service_max_s")),
                    _pct(k.get("within_target_share")), k.get("transfers", 0),
                    "" if k.get("satisfaction_mean") is None else k["satisfaction_mean"],
                    k.get("satisfaction_count", 0), *(money or money_cells(None))])

    row("total", "", "Whole centre", "Kituo kizima", rep["total"], money_cells(money["total"] or None))
    for d in rep["days"]:
        row("day", d["date"], "", "", d)
    for s in rep["services"]:
        m = money_of.get(s["service_id"])
        fee = ("varies" if m["fee_varies"] else m["fee_ksh"]) if m else ""
        row("service", s["service_id"], s.get("name_en") or "", s.get("name_sw") or "", s, money_cells(m, fee))
    for h in rep["hours"]:
        row("hour", f"{h['hour']:02d}:00", "", "", h)
    return buf.getvalue()
