"""One-stop visits: several services on one ticket, the rules in one place.

A Huduma Centre citizen often needs a new ID, then a KRA PIN, then SHA cover. A
ticket may carry a *visit* of up to ``MAX_VISIT_SERVICES`` services; it keeps one
number throughout. The rules (docs/design.md, "One-stop visits"):

* **Which combinations.** Each menu service lists the services often taken after
  it (``then``, the menu CSV's ``then`` column). A citizen's channel (kiosk, web,
  USSD, booking) may plan a service only right after one whose ``then`` lists
  it, so the order is the menu's; a clerk may add any service the centre offers
  now. Unknown, disabled, not-offered or suspended services are refused.
* **The next step.** When a step is done (``ticket_done`` by a clerk, not the
  day's close), the ticket joins the next service's queue at once
  (``visit_step_queued``). Its place there: by its *original issue time*
  (policy ``visit_place = "issue_time"``, the default: the citizen already queued
  once today and does not start again from the back), or by the moment it
  joined (``"joined"``). Its wait at that step counts from joining.
* **No-show and cancel.** A no-show at a step leaves the rest of the visit
  planned but not queued: re-activated within the window, the ticket goes back
  to that step and the rest follows; otherwise the rest is never served. A
  cancellation (by the citizen, a clerk or the day's close) ends the whole
  visit.
* **Changes.** A clerk with the ticket at the counter may drop, add or reorder
  the remaining steps (``visit_changed``); a transfer to a service planned later
  takes that step now (it leaves the plan).

Pure functions of the queue's data classes; the engine's commands call them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from centre_server.contract import FINAL_TICKET_STATES, TicketState
from centre_server.queue.model import Service, Ticket, VisitPlan, VisitStep

logger = logging.getLogger(__name__)

MAX_VISIT_SERVICES = 4
PLACES = ("issue_time", "joined")


def plan_problem(services: Mapping[str, Service], first: str, then: Sequence[str],
                 *, citizen: bool) -> tuple[str, str, int] | None:
    """Why a visit of ``first`` then ``then`` cannot be planned (code, message, HTTP status), or None.

    ``citizen``: the order must follow the menu's ``then`` lists; a clerk may add any offered service.
    """
    plan = [first, *then]
    if len(plan) > MAX_VISIT_SERVICES:
        return ("visit_too_long", f"a visit holds at most {MAX_VISIT_SERVICES} services", 422)
    if len(set(plan)) != len(plan):
        return ("visit_repeats_service", "a visit names each service once", 422)
    for sid in then:
        svc = services.get(sid)
        if svc is None:
            return ("unknown_service", f"no service with id {sid!r}", 404)
        if not svc.enabled or not svc.offered:
            return ("service_disabled", f"{svc.name_en} is not offered at this centre", 409)
        if svc.suspension is not None:
            return ("service_suspended", f"{svc.name_en} is suspended: {svc.suspension.reason_en}", 409)
    if citizen:
        for before, after in zip(plan, plan[1:], strict=False):
            prev = services.get(before)
            if prev is None or after not in prev.then:
                name = prev.name_en if prev else before
                offered = ", ".join(prev.then) if prev and prev.then else "nothing"
                return ("visit_not_offered",
                        f"{services[after].name_en} is not taken after {name} here (after it: {offered})", 422)
    return None


def then_problem(services: Mapping[str, str], then: Mapping[str, Sequence[str]]) -> str | None:
    """Why a menu's ``then`` lists are wrong (an unknown id, a service after itself, too many), or None."""
    for sid, nxt in then.items():
        for other in nxt:
            if other == sid:
                return f"{sid}: a service cannot follow itself"
            if other not in services:
                return f"{sid}: 'then' names an unknown service {other!r}"
        if len(set(nxt)) != len(nxt):
            return f"{sid}: 'then' names a service twice"
    return None


def parse_then(text: str | None) -> tuple[str, ...]:
    """A menu cell ``kra-pin sha-registration`` (spaces, commas or semicolons) as ids."""
    return tuple(x for x in (text or "").replace(",", " ").replace(";", " ").split() if x)


# -------------------------------------------------------------- the ticket's plan (evolve's side)


def begin(t: Ticket, next_services: Sequence[str], at: float) -> None:
    t.visit = VisitPlan(first_service=t.service_id, next=list(next_services), joined_at=at)


# A plan is never changed in place, always replaced: the wait forecast runs futures on shallow copies
# of the tickets (queue/forecast.py), which must not reach the live ticket's plan.


def change(t: Ticket, next_services: Sequence[str]) -> None:
    old = t.visit
    t.visit = VisitPlan(first_service=first_service(t), next=list(next_services),
                        done=list(old.done) if old else [], joined_at=old.joined_at if old else t.queued_at)


def advance(t: Ticket, to_service: str, next_services: Sequence[str], at: float, place: str) -> None:
    """The current step is done: keep it in ``done``, wait now for ``to_service``."""
    old = t.visit
    step = VisitStep(
        service_id=t.service_id,
        joined_at=old.joined_at if old is not None and old.joined_at is not None else t.queued_at,
        counter_id=t.counter_id, clerk=t.clerk, called_at=t.called_at,
        started_at=t.started_at, ended_at=t.ended_at, outcome=t.outcome)
    t.visit = VisitPlan(first_service=first_service(t), next=list(next_services),
                        done=[*(old.done if old else []), step], joined_at=at)
    t.service_id = to_service
    if place == "joined":
        t.queued_at = at
    t.state = TicketState.waiting
    t.counter_id = None
    t.clerk = None
    t.called_at = None
    t.started_at = None
    t.ended_at = None
    t.outcome = None
    t.recalls = 0


# -------------------------------------------------------------- queries


def first_service(t: Ticket) -> str:
    """The service that gave the ticket its number (numbers belong to it, whatever came later)."""
    if t.visit is not None:
        return t.visit.first_service
    return t.transfers[0]["from"] if t.transfers else t.service_id


def remaining(t: Ticket) -> list[str]:
    return list(t.visit.next) if t.visit is not None else []


def joined_at(t: Ticket) -> float:
    """When the ticket joined its current step's queue (its wait there counts from it)."""
    if t.visit is not None and t.visit.joined_at is not None:
        return t.visit.joined_at
    return t.queued_at


def is_visit(t: Ticket) -> bool:
    """More than one service planned or taken on this ticket."""
    return t.visit is not None and bool(t.visit.next or t.visit.done)


def steps(t: Ticket) -> list[dict[str, Any]]:
    """The visit as the clerk, the citizen page and the ticket show it: each service done, now or next."""
    out: list[dict[str, Any]] = []
    if t.visit is not None:
        out += [{"service_id": s.service_id, "state": "done", "counter_id": s.counter_id,
                 "ended_at": s.ended_at} for s in t.visit.done]
    now_state = "done" if t.state == TicketState.done else (
        "missed" if t.state in FINAL_TICKET_STATES else "now")
    out.append({"service_id": t.service_id, "state": now_state, "counter_id": t.counter_id,
                "ended_at": t.ended_at})
    rest = "next" if t.state not in FINAL_TICKET_STATES or t.state == TicketState.no_show else "missed"
    out += [{"service_id": sid, "state": rest, "counter_id": None, "ended_at": None} for sid in remaining(t)]
    return out


# -------------------------------------------------------------- storage (one JSON column)


def to_json(plan: VisitPlan | None) -> str | None:
    if plan is None:
        return None
    return json.dumps({"first": plan.first_service, "next": plan.next, "joined_at": plan.joined_at,
                       "done": [vars(s) for s in plan.done]}, separators=(",", ":"))


def from_json(text: str | None) -> VisitPlan | None:
    if not text:
        return None
    d = json.loads(text)
    return VisitPlan(first_service=d["first"], next=list(d.get("next") or []), joined_at=d.get("joined_at"),
                     done=[VisitStep(**s) for s in d.get("done") or []])
