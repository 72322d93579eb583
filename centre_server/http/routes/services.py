"""Services with their live figures."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from centre_server.contract import DayStatePayload, ServiceOut
from centre_server.http.deps import CentreDep
from centre_server.queue import engine

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/services", tags=["services"])


@router.get("", response_model=list[ServiceOut])
def list_services(centre: CentreDep) -> list[ServiceOut]:
    """Every service of the menu, in menu order, with people waiting and the estimated wait."""
    now = centre.clock()
    out = []
    with centre.lock:
        for s in sorted(centre.state.services.values(), key=lambda s: (s.position, s.id)):
            f = engine.service_figures(centre.state, s.id, now)
            out.append(ServiceOut(id=s.id, prefix=s.prefix, name_en=s.name_en, name_sw=s.name_sw,
                                  category=s.category, target_wait_min=s.target_wait_s // 60,
                                  typical_service_min=round(centre.state.predictor.mean_service_s.get(
                                      s.id, s.service_time_s) / 60, 1),
                                  enabled=s.enabled, category_sw=s.category_sw, **f,
                                  then=[x for x in s.then if x in centre.state.services
                                        and centre.state.services[x].enabled and centre.state.services[x].offered]))
    return out



day_router = APIRouter(tags=["services"])


@day_router.get("/day", response_model=DayStatePayload)
def day_state(centre: CentreDep) -> DayStatePayload:
    """Whether the centre takes tickets now and when it opens next (the same as MQTT ``state/day``)."""
    return centre.day_payload()
