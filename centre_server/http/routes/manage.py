"""API additions the web pages need: who am I, move a counter, reports as JSON."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Query

from centre_server.contract import CounterOut
from centre_server.contract.api import CounterServicesRequest
from centre_server.http.deps import ApiError, CentreDep, ManagerDep, PrincipalDep
from centre_server.http.routes.counters import counter_out
from centre_server.http.routes.tickets import ERRORS
from centre_server.queue import engine
from centre_server.store import database as storage
from centre_server.web import reports

logger = logging.getLogger(__name__)

router = APIRouter(tags=["web"])


@router.get("/session", responses=ERRORS)
def session(principal: PrincipalDep) -> dict[str, Any]:
    """Who the caller is: pages ask this to tell an ended session from a network fault."""
    return {"name": principal.name, "role": principal.role.value, "kind": principal.kind}


@router.put("/counters/{counter_id}/services", response_model=CounterOut, responses=ERRORS)
def set_counter_services(counter_id: str, body: CounterServicesRequest, centre: CentreDep,
                         principal: ManagerDep) -> CounterOut:
    """The manager moves a counter to other services (in order of skill); its clerk and state stay."""
    centre.execute(engine.SetCounterServices(counter_id, tuple(body.services)))
    storage.audit(centre.db, principal.name, "set-counter-services", counter_id=counter_id,
                  services=body.services)
    return counter_out(centre, counter_id)


DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "bad_date", f"{name}: {value!r} is not a calendar date") from None


@router.get("/reports", responses=ERRORS)
def reports_json(centre: CentreDep, principal: ManagerDep,
                 start: str | None = Query(None, alias="from", pattern=DATE_PATTERN,
                                           json_schema_extra={"format": "date"},
                                           description="first day, YYYY-MM-DD (today if absent)"),
                 end: str | None = Query(None, alias="to", pattern=DATE_PATTERN,
                                         json_schema_extra={"format": "date"},
                                         description="last day, YYYY-MM-DD (= from if absent)"),
                 ) -> dict[str, Any]:
    """KPIs per day, per service and per hour over at most 92 days (the answer's ``from``/``to`` say which)."""
    d1, d2 = reports.clamp_range(_day(start, "from"), _day(end, "to"), centre.state.day)
    return reports.report(centre, d1, d2)
