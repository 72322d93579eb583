"""API additions the web pages need: who am I, move a counter, reports as JSON."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from centre_server import engine, storage
from centre_server.api.counters import counter_out
from centre_server.api.deps import ApiError, CentreDep, ManagerDep, PrincipalDep
from centre_server.contract import CounterOut
from centre_server.web import reports

logger = logging.getLogger(__name__)

router = APIRouter(tags=["web"])


class CounterServicesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[str] = Field(min_length=1, max_length=64)


@router.get("/session")
def session(principal: PrincipalDep) -> dict[str, Any]:
    """Who the caller is: pages ask this to tell an ended session from a network fault."""
    return {"name": principal.name, "role": principal.role.value, "kind": principal.kind}


@router.put("/counters/{counter_id}/services", response_model=CounterOut)
def set_counter_services(counter_id: str, body: CounterServicesRequest, centre: CentreDep,
                         principal: ManagerDep) -> CounterOut:
    """The manager moves a counter to other services (in order of skill); its clerk and state stay."""
    centre.execute(engine.SetCounterServices(counter_id, tuple(body.services)))
    storage.audit(centre.db, principal.name, "set-counter-services", counter_id=counter_id,
                  services=body.services)
    return counter_out(centre, counter_id)


@router.get("/reports")
def reports_json(centre: CentreDep, principal: ManagerDep,
                 start: str | None = Query(None, alias="from", description="YYYY-MM-DD"),
                 end: str | None = Query(None, alias="to", description="YYYY-MM-DD")) -> dict[str, Any]:
    """KPIs per day, per service and per hour over a range (today when no dates are given)."""
    try:
        d1, d2 = reports.parse_range(start, end, centre.state.day)
    except reports.RangeError as err:
        raise ApiError(422, "bad_range", str(err)) from None
    return reports.report(centre, d1, d2)
