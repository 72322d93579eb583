"""The manager's reports: a date range's figures as a page, and as a CSV file."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from centre_server.contract.errors import Refusal
from centre_server.web import reports
from centre_server.web.i18n import STRINGS
from centre_server.web.pages import MANAGER_PAGE_ROLES, SECURITY_HEADERS, guard, render, report_or_error

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/reports")
def reports_page(request: Request) -> Response:
    user = guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    rep, error, start, end = report_or_error(request)
    return render(request, "reports.html", status=422 if error else 200, user=user, title_key="reports_title",
                  report=rep, error=error, start=start, end=end, max_days=reports.MAX_DAYS)


@router.get("/reports.csv")
def reports_csv(request: Request) -> Response:
    user = guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    rep, error, start, end = report_or_error(request)
    if rep is None:
        words = {lang: STRINGS.bind(lang)(error or "bad_range", days=reports.MAX_DAYS) for lang in ("en", "sw")}
        body = Refusal(422, "bad_range", words["en"]).body()
        body["error"]["message_sw"] = words["sw"]
        return Response(json.dumps(body), status_code=422, media_type="application/json")
    name = f"huduma-report-{start}" + (f"-to-{end}" if end != start else "") + ".csv"
    return Response(reports.csv_text(rep), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS})
