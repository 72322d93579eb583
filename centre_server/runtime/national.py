"""The national catalogue over the centre's own menu and rules: one pure function, run by the writer.

From the first version headquarters publishes (1 and up) the national names,
category, target wait and typical time replace the menu's for the same service
id, and the queue standards replace ``centre.toml``'s. A service's national
outcome codes come first on the clerk's list, with their national labels, so
every centre records the same codes for the same service; the menu's own
codes follow (a centre may add codes, never drop a national one). Version 0 is the copy of
the menu shipped in the package: it changes nothing, so a centre's own menu and
rules stand until its first sync. What a centre decides (not offered here) is
applied from its offerings in every version; a suspension lives in the engine
(``SuspendService``) and is replayed from the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Set as AbstractSet
from typing import Any

from centre_server.contract.catalogue import Catalogue, Offering, OfferingStatus
from centre_server.contract.events import ServiceResumed, ServiceSuspended, event_from_data
from centre_server.queue.engine import State
from centre_server.queue.model import OutcomeCode, Service, Suspension

logger = logging.getLogger(__name__)


def overlay(state: State, catalogue: Catalogue, offerings: Mapping[str, Offering]) -> None:
    """Move the state to ``catalogue`` and the centre's offerings, in place (the caller holds the writer)."""
    national = catalogue.version > 0
    listed = {cs.id for cs in catalogue.services}
    # national codes no service offers any more (retired at headquarters: kept for the records' labels)
    retired = {o.code for o in catalogue.outcome_codes} - {c for cs in catalogue.services for c in cs.outcomes}
    for s in state.services.values():
        if s.id not in listed:
            s.offered = True  # "not offered here" is a choice about a national service; this one is the menu's own
    for cs in catalogue.services:
        s = state.services.get(cs.id)
        if s is None:
            continue  # in the catalogue, not in this centre's menu: "not offered here"
        if national:
            s.name_en, s.name_sw = cs.name.en, cs.name.sw
            s.category, s.category_sw = cs.category.en, cs.category.sw
            s.target_wait_s = cs.target_wait_min * 60
            typical = cs.typical_duration_min * 60
            if typical != s.service_time_s:
                s.service_time_s = typical
                state.predictor.retype(s.id, typical)
            _national_outcomes(s, cs.outcomes, retired)
        o = offerings.get(cs.id)
        s.offered = o is None or o.status is not OfferingStatus.not_offered
    cap = state.policy.target_wait_cap_s
    if cap > 0:  # a demo centre's short targets (never a real one's: the settings refuse it there)
        for s in state.services.values():
            s.target_wait_s = min(s.target_wait_s, cap)
    if national:
        for o in catalogue.outcome_codes:  # the national label wins over a local one of the same code
            state.outcome_codes[o.code] = OutcomeCode(o.code, o.label.en, o.label.sw, o.reason_required)
        std = catalogue.standards
        state.policy.priority_streak_limit = std.priority_streak_limit
        state.policy.priority_classes = frozenset(std.priority_classes)
        state.policy.target_share = std.target_share


def _national_outcomes(s: Service, national: list[str], retired: AbstractSet[str] = frozenset()) -> None:
    """The service's codes: the nation's first, then the menu's own that the nation does not list; a code the
    nation retired (defined, offered by no service) is not offered again through a centre's menu."""
    if s.menu_outcomes is None:
        s.menu_outcomes = s.outcomes
    own = [c for c in s.menu_outcomes if c not in retired]
    if not national:  # the nation says nothing for this service: the menu's list stands
        s.outcomes = tuple(own)
        return
    s.outcomes = tuple(dict.fromkeys([*national, *own]))


def replay_suspensions(state: State, log: Iterable[tuple[float, str, dict[str, Any]]]) -> None:
    """Each service's suspension as the log's last word on it left it (a restart keeps a suspension)."""
    for at, etype, data in log:
        ev = event_from_data(etype, data)
        s = state.services.get(getattr(ev, "service_id", ""))
        if s is None:
            continue
        if isinstance(ev, ServiceSuspended):
            s.suspension = Suspension(ev.reason_en, ev.reason_sw, at, ev.by)
        elif isinstance(ev, ServiceResumed):
            s.suspension = None
