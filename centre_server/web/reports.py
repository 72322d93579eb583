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
from centre_server.menu import builtin_outcomes
from centre_server.reports import figures, live as stats
from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

MAX_DAYS = 92
KPI_COLUMNS = ["arrived", "served", "served_share", "no_shows", "no_show_share", "wait_mean_s", "wait_max_s",
               "service_mean_s", "service_max_s", "within_target_share", "transfers", "satisfaction_mean",
               "satisfaction_count"]


class RangeError(ValueError):
    """A range a person asked for that we will not compute; ``key`` names the reason in the strings file."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def parse_range(start: str | None, end: str | None, today: str) -> tuple[date, date]:
    """``from``/``to`` as YYYY-MM-DD (either may be missing); refuses a reversed or too long range."""
    try:
        d1 = date.fromisoformat(start) if start else None
        d2 = date.fromisoformat(end) if end else None
    except ValueError:
        raise RangeError("dates are YYYY-MM-DD", "range_bad_date") from None
    d1 = d1 or d2 or date.fromisoformat(today)
    d2 = d2 or d1
    if d1 > d2:
        raise RangeError("'from' is after 'to'", "range_reversed")
    if (d2 - d1).days + 1 > MAX_DAYS:
        raise RangeError(f"at most {MAX_DAYS} days at once", "range_too_long")
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
              "measured_not_called", "satisfaction_count"):
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


def _combine_visits(parts: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Several days' one-stop visits: counts summed, means weighted (services per visit by the visits,
    time in the centre by the visits completed), maxima the maxima; percentiles are not added up."""
    present = [p for p in parts if p]
    if not present:
        return None
    out: dict[str, Any] = {k: sum(p.get(k) or 0 for p in present)
                           for k in ("visits", "completed", "services_planned", "services_served")}
    out["services_per_visit_mean"] = round(out["services_planned"] / out["visits"], 2) if out["visits"] else None
    timed = [(p["time_in_centre_mean_s"], p.get("completed") or 0) for p in present
             if p.get("time_in_centre_mean_s") is not None and p.get("completed")]
    total = sum(w for _, w in timed)
    out["time_in_centre_mean_s"] = figures.seconds(sum(v * w for v, w in timed) / total) if total else None
    maxima = [p["time_in_centre_max_s"] for p in present if p.get("time_in_centre_max_s") is not None]
    out["time_in_centre_max_s"] = max(maxima) if maxima else None
    out["time_in_centre_p90_s"] = present[0].get("time_in_centre_p90_s") if len(present) == 1 else None
    return out


def _day_row(day: dict[str, Any]) -> dict[str, Any]:
    """A day's totals, marked ``closed`` once the day is closed or ``reopened`` (and its summary's ``revision``)."""
    return {"date": day["date"], **day["total"], "closed": day["closed"], "reopened": day["reopened"],
            "revision": day.get("revision"), "visits": day.get("visits")}


def _staff_combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Add several days' counter or clerk rows (``figures.staff_rows``): counts and hours summed, the mean
    service time weighted by the served, the idle share from the summed hours; a 90th percentile does not add
    up over days, so a range shows the highest day's (``service_p90_s`` of one day is exact)."""
    if len(parts) == 1:  # one day: its own figures, exact (not recomputed from rounded hours)
        return {k: parts[0].get(k) for k in ("served", "no_shows", "staffed_hours", "busy_hours", "service_mean_s",
                                             "service_p90_s", "idle_share", "outcomes")}
    out: dict[str, Any] = {k: sum(p.get(k) or 0 for p in parts) for k in ("served", "no_shows")}
    for k in ("staffed_hours", "busy_hours"):
        out[k] = round(sum(p.get(k) or 0 for p in parts), 2)
    served = [(p["service_mean_s"], p.get("served") or 0) for p in parts if p.get("service_mean_s") is not None]
    weight = sum(w for _, w in served)
    out["service_mean_s"] = figures.seconds(sum(v * w for v, w in served) / weight) if weight else None
    p90s = [p["service_p90_s"] for p in parts if p.get("service_p90_s") is not None]
    out["service_p90_s"] = max(p90s) if p90s else None
    out["idle_share"] = (round(max(0.0, out["staffed_hours"] - out["busy_hours"]) / out["staffed_hours"], 4)
                         if out["staffed_hours"] else None)
    codes: dict[str, int] = {}
    for p in parts:
        for code, n in (p.get("outcomes") or {}).items():
            codes[code] = codes.get(code, 0) + n
    out["outcomes"] = dict(sorted(codes.items()))
    return out


def outcome_labels(centre: Centre | None = None) -> dict[str, dict[str, str]]:
    """Each outcome code's label in both languages, for the page: the running ones (the national catalogue's
    over the package's), then any other the package knows; a code no longer known shows as itself."""
    codes = dict(builtin_outcomes())
    if centre is not None:
        with centre.lock:
            codes.update(centre.state.outcome_codes)
    return {c: {"en": o.label_en, "sw": o.label_sw} for c, o in codes.items()}


def staff_report(centre: Centre, days: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per counter and per clerk over the days; the clerks by their usernames (the centre holds the key to its
    own pseudonyms; headquarters gets only those). A clerk whose pseudonym matches no staff member stays so."""
    by_counter: dict[str, list[dict[str, Any]]] = {}
    names: dict[str, str] = {}
    by_clerk: dict[str, list[dict[str, Any]]] = {}
    for day in days:
        for row in day.get("counters") or []:
            if "idle_share" in row:  # a day summarised before these figures has none to add
                by_counter.setdefault(row["counter_id"], []).append(row)
                names[row["counter_id"]] = row.get("name") or row["counter_id"]
        known = figures.clerk_names(centre.reader(), day) if day.get("clerks") else {}
        for row in day.get("clerks") or []:
            by_clerk.setdefault(known.get(row["clerk"], row["clerk"]), []).append(row)
    counters = [{"counter_id": cid, "name": names[cid], **_staff_combine(parts)}
                for cid, parts in sorted(by_counter.items())]
    clerks = [{"clerk": who, **_staff_combine(parts)} for who, parts in sorted(by_clerk.items())]
    return counters, clerks


def report(centre: Centre, d1: date, d2: date) -> dict[str, Any]:
    """Per day, per service, per hour, per counter and clerk, and for the whole centre over [d1, d2]."""
    days = [day_summary(centre, (d1 + timedelta(days=i)).isoformat()) for i in range((d2 - d1).days + 1)]
    counters, clerks = staff_report(centre, days)
    service_names = {s["service_id"]: s for day in days for s in day["services"]}
    if len(days) == 1:
        one = days[0]
        return {"from": d1.isoformat(), "to": d2.isoformat(), "days": [_day_row(one)], "closed": one["closed"],
                "reopened": one["reopened"],
                "total": one["total"], "services": one["services"], "hours": one["hours"],
                "counters": counters, "clerks": clerks, "outcome_labels": outcome_labels(centre),
                "visits": one.get("visits"),
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
            "counters": counters, "clerks": clerks, "outcome_labels": outcome_labels(centre),
            "visits": _combine_visits([day.get("visits") for day in days]),
            "payments": payments_report(days, service_names)}


PAYMENT_KEYS = ("served", "due_ksh", "mpesa_count", "mpesa_ksh", "cash_count", "cash_ksh", "waived_count",
                "waived_ksh", "unpaid_served", "failed_attempts", "refund_count", "refund_ksh")


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
            acc.setdefault("refund_receipts", []).extend(r.get("refund_receipts") or [])
    services = []
    for sid, r in sorted(by_service.items()):
        info = names.get(sid, {})
        services.append({**r, "name_en": info.get("name_en") or sid, "name_sw": info.get("name_sw") or sid})
    total = {k: sum(r[k] for r in services) for k in PAYMENT_KEYS}
    total["unmatched_count"] = sum(b.get("unmatched_count", 0) for b in blocks)
    total["unmatched_ksh"] = sum(b.get("unmatched_ksh", 0) for b in blocks)
    total["received_ksh"] = total["mpesa_ksh"] + total["cash_ksh"]
    total["refund_receipts"] = [rc for r in services for rc in r.get("refund_receipts", [])]
    return {"services": services, "total": total}


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f}"


def _minutes(v: float | None) -> str:
    return "" if v is None else f"{v / 60:.1f}"


def csv_text(rep: dict[str, Any]) -> str:
    """One tidy table: a row per scope (total, day, service, hour, counter, clerk), times in minutes, shares
    in %. Three groups of columns belong to some rows only: the staff columns (counter and clerk rows), the
    one-stop visits (total and day rows) and the reconciliation of fees (total and service rows)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["from", "to", "scope", "key", "name_en", "name_sw", "arrived", "served", "served_pct", "no_shows",
                "no_show_pct", "wait_mean_min", "wait_max_min", "service_mean_min", "service_max_min",
                "within_target_pct", "transfers", "satisfaction_mean", "satisfaction_count",
                "service_p90_min", "idle_pct", "staffed_hours", "busy_hours", "outcomes",
                # one-stop visits (several services on one ticket): on the total and day rows
                "visits", "visits_completed", "services_per_visit", "time_in_centre_mean_min",
                "time_in_centre_max_min",
                # the reconciliation of fees (issue 20), on the total and service rows; empty elsewhere
                "fee_ksh", "fees_due_ksh", "mpesa_ksh", "cash_ksh", "waived_count", "waived_ksh", "unpaid_served",
                "unmatched_ksh",
                # paid, not served (cancelled, a no-show): owed back, with the M-Pesa receipts (total and service rows)
                "refund_due_count", "refund_due_ksh", "refund_receipts"])
    money = rep.get("payments") or {"services": [], "total": {}}
    money_of = {r["service_id"]: r for r in money["services"]}

    def money_cells(m: dict[str, Any] | None, fee: Any = "") -> list[Any]:
        if not m:
            return [""] * 11
        return [fee, m.get("due_ksh", 0), m.get("mpesa_ksh", 0), m.get("cash_ksh", 0), m.get("waived_count", 0),
                m.get("waived_ksh", 0), m.get("unpaid_served", 0), m.get("unmatched_ksh", ""),
                m.get("refund_count", 0), m.get("refund_ksh", 0), " ".join(m.get("refund_receipts") or [])]

    def row(scope: str, key: str, en: str, sw: str, k: dict[str, Any], v: dict[str, Any] | None = None,
            money: list[Any] | None = None) -> None:
        visits = ["", "", "", "", ""] if not v else [
            v.get("visits", 0), v.get("completed", 0),
            "" if v.get("services_per_visit_mean") is None else v["services_per_visit_mean"],
            _minutes(v.get("time_in_centre_mean_s")), _minutes(v.get("time_in_centre_max_s"))]
        w.writerow([rep["from"], rep["to"], scope, key, en, sw, k.get("arrived", 0), k.get("served", 0),
                    _pct(k.get("served_share")), k.get("no_shows", 0), _pct(k.get("no_show_share")),
                    _minutes(k.get("wait_mean_s")), _minutes(k.get("wait_max_s")),
                    _minutes(k.get("service_mean_s")), _minutes(k.get("service_max_s")),
                    _pct(k.get("within_target_share")), k.get("transfers", 0),
                    "" if k.get("satisfaction_mean") is None else k["satisfaction_mean"],
                    k.get("satisfaction_count", 0), "", "", "", "", "",  # the staff columns: not these rows'
                    *visits, *(money or money_cells(None))])

    row("total", "", "Whole centre", "Kituo kizima", rep["total"], rep.get("visits"),
        money_cells(money["total"] or None))
    for d in rep["days"]:
        row("day", d["date"], "", "", d, d.get("visits"))
    for s in rep["services"]:
        m = money_of.get(s["service_id"])
        fee = ("varies" if m["fee_varies"] else m["fee_ksh"]) if m else ""
        row("service", s["service_id"], s.get("name_en") or "", s.get("name_sw") or "", s, None, money_cells(m, fee))
    for h in rep["hours"]:
        row("hour", f"{h['hour']:02d}:00", "", "", h)
    staff_csv(w, rep)
    return buf.getvalue()


def staff_csv(w: Any, rep: dict[str, Any]) -> None:
    """The per-counter and per-clerk rows of the same table: the columns they share (served, no-shows, mean
    service) and the five after them, theirs alone (the visits' and the fees' stay empty)."""
    for scope, key, rows in (("counter", "counter_id", rep.get("counters") or []),
                             ("clerk", "clerk", rep.get("clerks") or [])):
        for r in rows:
            w.writerow([rep["from"], rep["to"], scope, r[key], r.get("name", ""), r.get("name", ""), "",
                        r["served"], "", r["no_shows"], "", "", "", _minutes(r.get("service_mean_s")), "", "", "",
                        "", "", _minutes(r.get("service_p90_s")), _pct(r.get("idle_share")), r["staffed_hours"],
                        r["busy_hours"], "; ".join(f"{c}={n}" for c, n in (r.get("outcomes") or {}).items()),
                        *[""] * 16])  # the visits' and the fees' columns: not theirs
