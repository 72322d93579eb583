"""Revenue per centre and service (issue 20): the payments block of the centres' day summaries.

Each centre's summary may carry ``payments`` (``centre_server.contract.payments.PaymentsDay``): fees due
for the tickets served against M-Pesa and cash received, waivers, and M-Pesa money that matched no
ticket. Older centres send none and are listed as such. ``router`` is included by ``hq.app`` with one line
(under the viewer role, like the board: the page, its JSON and its CSV alike).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import date as Date, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from centre_server.contract import ErrorResponse, summary as schema
from hq import board
from hq.access import current_staff
from hq.i18n import LANGUAGES, STRINGS
from hq.store import Store

logger = logging.getLogger(__name__)

SUMS = ("served", "due_ksh", "mpesa_count", "mpesa_ksh", "cash_count", "cash_ksh", "waived_count", "waived_ksh",
        "unpaid_served", "failed_attempts")
# paid, not served (cancelled, a no-show): money the centres owe back to citizens; after SUMS in the CSV
REFUNDS = ("refund_count", "refund_ksh")
DATE_DOC = {"format": "date"}


def _zero() -> dict[str, int]:
    return dict.fromkeys(SUMS + REFUNDS, 0)


def revenue_data(store: Store, first: str, last: str) -> dict[str, Any]:
    """Per centre (and per service within it) and per service nationally, over first..last."""
    # the summaries that hold the summary's shape (the board lists and logs the others: it is told once)
    rows = [r for r in store.summaries_between(first, last) if schema.problem(r["summary"]) is None]
    skipped = board.skipped_rows(store, first, last)
    names = board.centre_names(store)
    service_names: dict[str, tuple[str, str]] = {}
    centres: dict[str, dict[str, Any]] = {}
    national: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = r["summary"]
        for row in s.get("services", []):
            service_names[row["service_id"]] = (row.get("name_en") or row["service_id"],
                                                row.get("name_sw") or row["service_id"])
        c = centres.setdefault(r["centre_id"], {"centre_id": r["centre_id"],
                                                "name": names.get(r["centre_id"], r["centre_id"]),
                                                "days": 0, "days_with_payments": 0, "unmatched_count": 0,
                                                "unmatched_ksh": 0, "services": {}, **_zero()})
        c["days"] += 1
        pay = s.get("payments")
        if not pay:
            continue
        c["days_with_payments"] += 1
        c["unmatched_count"] += pay.get("unmatched_count", 0)
        c["unmatched_ksh"] += pay.get("unmatched_ksh", 0)
        for p in pay.get("services", []):
            sid = p["service_id"]
            per = c["services"].setdefault(sid, {"service_id": sid, **_zero()})
            nat = national.setdefault(sid, {"service_id": sid, **_zero()})
            for k in SUMS + REFUNDS:
                v = p.get(k) or 0
                per[k] += v
                nat[k] += v
                c[k] += v
    out_centres = []
    for c in sorted(centres.values(), key=lambda c: c["name"]):
        c["received_ksh"] = c["mpesa_ksh"] + c["cash_ksh"]
        c["services"] = [_named(v, service_names) for _, v in sorted(c["services"].items())]
        out_centres.append(c)
    services = [_named(v, service_names) for _, v in sorted(national.items())]
    total = {k: sum(v[k] for v in services) for k in SUMS + REFUNDS}
    total["received_ksh"] = total["mpesa_ksh"] + total["cash_ksh"]
    total["unmatched_ksh"] = sum(c["unmatched_ksh"] for c in out_centres)
    return {"from": first, "to": last, "centres": out_centres, "services": services, "total": total,
            "skipped": skipped}


def _named(v: dict[str, Any], names: dict[str, tuple[str, str]]) -> dict[str, Any]:
    en, sw = names.get(v["service_id"], (v["service_id"], v["service_id"]))
    return {**v, "name_en": en, "name_sw": sw, "received_ksh": v["mpesa_ksh"] + v["cash_ksh"]}


CSV_COLUMNS = ("centre_id", "centre_name", "date", "revision", "service_id", "name_en", "name_sw", "fee_ksh",
               "fee_varies", "served", "due_ksh", "mpesa_count", "mpesa_ksh", "cash_count", "cash_ksh", "received_ksh",
               "waived_count", "waived_ksh", "unpaid_served", "failed_attempts", "unmatched_count", "unmatched_ksh",
               *REFUNDS)
UNMATCHED_ID = "(unmatched)"  # the row of a centre's day for M-Pesa money that matched no ticket


def export_csv(store: Store, first: str, last: str) -> Iterator[str]:
    """One row per centre, service and day (plus a centre's day's unmatched M-Pesa money), streamed.

    The same summaries as the page (those holding the summary's shape), read through a server-side cursor and
    written a few hundred rows at a time: a year of a hundred centres is not held in memory. Centre-supplied
    text goes through ``board.cell`` (a name starting like a formula stays text in a spreadsheet).
    """
    names = board.centre_names(store)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    sql = ("SELECT centre_id, date, revision, data FROM summaries WHERE date >= ? AND date <= ? "
           "ORDER BY date, centre_id")
    with store.stream(sql, [first, last]) as rows:
        for cid, day, revision, data in rows:
            s = json.loads(data) if isinstance(data, str) else data
            pay = s.get("payments") if isinstance(s, dict) else None
            if not pay or schema.problem(s) is not None:  # no payment figures, or not the summary's shape
                continue
            service_names = {r["service_id"]: (r.get("name_en") or r["service_id"], r.get("name_sw") or r["service_id"])
                             for r in s.get("services", [])}
            head = [cid, names.get(cid, cid), day, revision]
            for p in pay.get("services", []):
                en, sw = service_names.get(p["service_id"], (p["service_id"], p["service_id"]))
                v = {k: p.get(k) or 0 for k in SUMS + REFUNDS}
                w.writerow([board.cell(x) for x in [
                    *head, p["service_id"], en, sw, p.get("fee_ksh") or 0, int(bool(p.get("fee_varies"))),
                    *[v[k] for k in SUMS[:6]], v["mpesa_ksh"] + v["cash_ksh"], *[v[k] for k in SUMS[6:]], "", "",
                    *[v[k] for k in REFUNDS]]])
            if pay.get("unmatched_count"):
                w.writerow([board.cell(x) for x in [*head, UNMATCHED_ID, "", "", "", "", *[""] * 11,
                                                     pay.get("unmatched_count", 0), pay.get("unmatched_ksh", 0),
                                                     "", ""]])
            if out.tell() > 256 * 1024:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    yield out.getvalue()


def _range(store: Store, first: str | None, last: str | None) -> tuple[str, str]:
    last = last or (store.dates() or [Date.today().isoformat()])[-1]
    first = first or (Date.fromisoformat(last) - timedelta(days=6)).isoformat()
    if first > last:
        first, last = last, first
    return first, last


def router(store: Store, templates: Jinja2Templates,
           check_date: Callable[[str | None, str], str | None]) -> APIRouter:
    """The revenue routes; ``check_date`` is headquarters' own (a 422 ``bad_date`` for a day that never was)."""
    api = APIRouter()

    def days(first: str | None, last: str | None) -> tuple[str, str]:
        return _range(store, check_date(first, "from"), check_date(last, "to"))

    @api.get("/api/v1/revenue", tags=["board"], responses={401: {"model": ErrorResponse},
                                                            403: {"model": ErrorResponse},
                                                            422: {"model": ErrorResponse}})
    def revenue_api(first: str | None = Query(None, alias="from", json_schema_extra=DATE_DOC),
                    last: str | None = Query(None, alias="to", json_schema_extra=DATE_DOC)) -> dict[str, Any]:
        """Fees due and money received per centre and service (a week to the newest day, unless said)."""
        return revenue_data(store, *days(first, last))

    @api.get("/revenue.csv", tags=["board"], response_class=Response,
             responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                              "description": "revenue per centre, service and day (an attachment)"},
                        401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 422: {"model": ErrorResponse}})
    def revenue_csv(first: str | None = Query(None, alias="from", json_schema_extra=DATE_DOC),
                    last: str | None = Query(None, alias="to", json_schema_extra=DATE_DOC)) -> Response:
        """The revenue page's figures as CSV: one row per centre, service and day (a week to the newest day)."""
        first, last = days(first, last)
        name = f"huduma-revenue-{first}-to-{last}.csv"
        return StreamingResponse(export_csv(store, first, last), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @api.get("/revenue", response_class=HTMLResponse, include_in_schema=False)
    def revenue_page(request: Request, first: str | None = Query(None, alias="from"),
                     last: str | None = Query(None, alias="to"), lang: str | None = None) -> HTMLResponse:
        lang = lang if lang in LANGUAGES else request.cookies.get("hq_lang", "en")
        lang = lang if lang in LANGUAGES else "en"
        data = revenue_data(store, *days(first or None, last or None))
        return templates.TemplateResponse(request, "revenue.html", {
            "t": STRINGS.bind(lang), "lang": lang, "other_lang": "sw" if lang == "en" else "en", "d": data,
            "staff": current_staff(request)})

    return api
