"""One-stop visits at the counter: the clerk drops, adds or reorders the visit's remaining services."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from centre_server.contract import ServiceId, TicketOut
from centre_server.http.deps import CentreDep, ClerkDep
from centre_server.http.routes.counters import _current_out, _serving_id, held_by_caller
from centre_server.http.routes.tickets import ERRORS
from centre_server.queue import engine

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/counters", tags=["counters"])


class VisitChangeRequest(BaseModel):
    """The visit's remaining services after the one now served, in order (empty: drop them all)."""

    model_config = ConfigDict(extra="forbid")

    next: list[ServiceId] = Field(max_length=3)


@router.post("/{counter_id}/visit", response_model=TicketOut, responses=ERRORS)
def change_visit(counter_id: str, body: VisitChangeRequest, centre: CentreDep, principal: ClerkDep) -> TicketOut:
    """Drop, add or reorder the remaining services of the visit at this counter (docs/design.md §3)."""
    held_by_caller(centre, counter_id, principal)
    tid = _serving_id(centre, counter_id)
    centre.execute(engine.ChangeVisit(counter_id, tuple(body.next), clerk=principal.name))
    return _current_out(centre, counter_id, tid)
