"""The manager's "Tomorrow" page: the staffing advisor's plan, as a page, a printable page and a CSV file.

``/tomorrow`` (any day with ``?date=``; a past day adds the plan against what
happened), ``/tomorrow.csv``. Managers and admins only, like the board. The work is
``centre_server.staffing``; this module reads the request and renders.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from centre_server.contract.errors import Refusal
from centre_server.staffing import advisor, view
from centre_server.staffing.forecast import MIN_DAYS
from centre_server.staffing.i18n import STRINGS as ADVISOR_STRINGS
from centre_server.staffing.plan import TARGET_SHARE, plan_csv
from centre_server.web.i18n import STRINGS, lang_of
from centre_server.web.pages import MANAGER_PAGE_ROLES, SECURITY_HEADERS, centre_of, guard, render, script_json

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

PAST_DAYS = 366
AHEAD_DAYS = 14


def _translator(lang: str) -> Any:
    """The advisor's words first, then the staff pages' (the page frame, the navigation)."""
    mine, web = ADVISOR_STRINGS.bind(lang), STRINGS.bind(lang)
    own = ADVISOR_STRINGS.tables["en"]

    def t(key: str, **fmt: Any) -> str:
        return mine(key, **fmt) if key in own else web(key, **fmt)

    return t


def _day(request: Request) -> tuple[date | None, date, str | None]:
    """The day asked for (tomorrow by default), today, and what was wrong with the request."""
    centre = centre_of(request)
    today = datetime.fromtimestamp(centre.clock(), centre.tz).date()
    text = (request.query_params.get("date") or "tomorrow").strip()
    try:
        day = advisor.resolve_day(text, centre.settings.timezone, datetime.fromtimestamp(centre.clock(), centre.tz))
    except advisor.PlanError as err:
        return None, today, str(err)
    if not today - timedelta(days=PAST_DAYS) <= day <= today + timedelta(days=AHEAD_DAYS):
        return None, today, f"{day} is out of range"
    return day, today, None


def _plan(request: Request, day: date, today: date, wait: bool = True) -> tuple[Any, Any]:
    """The plan (and for a past day its review); with ``wait=False`` a plan not made yet is (None, None)
    and is being made in the background (the page says so and looks again)."""
    centre = centre_of(request)
    db = centre.reader()
    if day < today:
        rv = advisor.review(centre.settings, db, day, centre.clock(), TARGET_SHARE)
        return rv.plan, rv
    if not wait:
        return advisor.plan_if_ready(centre.settings, centre.reader, day, TARGET_SHARE, today=today), None
    return advisor.make_plan(centre.settings, db, day, TARGET_SHARE, today=today), None


def _names(request: Request, lang: str) -> dict[str, str]:
    state = centre_of(request).state
    return {sid: (s.name_sw if lang == "sw" else s.name_en) for sid, s in state.services.items()}


@router.get("/tomorrow")
def tomorrow_page(request: Request) -> Response:
    user = guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    lang = lang_of(request)
    t = _translator(lang)
    day, today, error = _day(request)
    context: dict[str, Any] = {"model": None, "error": None, "no_history": None, "preparing": None, "day_value": "",
                               "min_day": (today - timedelta(days=PAST_DAYS)).isoformat(),
                               "max_day": (today + timedelta(days=AHEAD_DAYS)).isoformat()}
    status = 200
    if day is None:
        context["error"] = t("bad_day", error=error or "")
        status = 422
    else:
        context["day_value"] = day.isoformat()
        try:
            plan, rv = _plan(request, day, today, wait=False)
        except advisor.PlanError as err:
            context["no_history"] = t("no_history", date=day.isoformat(), n=err.history_days or 0,
                                      needed=MIN_DAYS)
        else:
            if plan is None:  # being made in the background: the page says so and looks again
                context["preparing"] = t("plan_preparing", date=day.isoformat())
            else:
                expected = {sid: sum(v) for sid, v in plan.forecast.rates.items()}
                context["model"] = view.page(plan, _names(request, lang), expected, rv, lang=lang,
                                             country=centre_of(request).settings.day.public_holidays or "KE")
    table = {**STRINGS.table(lang), **ADVISOR_STRINGS.table(lang)}
    return render(request, "tomorrow.html", status=status, user=user, lang=lang, title_key="tomorrow_title",
                  t=t, strings_json=script_json(table), **context)


@router.get("/tomorrow.csv")
def tomorrow_csv(request: Request) -> Response:
    user = guard(request, MANAGER_PAGE_ROLES)
    if isinstance(user, Response):
        return user
    day, today, error = _day(request)
    if day is None:
        return Response(json.dumps(Refusal(422, "bad_day", error or "").body()), status_code=422,
                        media_type="application/json")
    try:
        plan, _ = _plan(request, day, today)
    except advisor.PlanError as err:
        return Response(json.dumps(Refusal(422, "no_history", str(err)).body()), status_code=422,
                        media_type="application/json")
    started = time.perf_counter()
    text = plan_csv(plan, _names(request, lang_of(request)))
    logger.debug("plan CSV for %s in %.3f s", day, time.perf_counter() - started)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="huduma-plan-{day}.csv"',
                             **SECURITY_HEADERS})
