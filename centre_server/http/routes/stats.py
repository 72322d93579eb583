"""The manager's figures."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request

from centre_server.http.deps import CentreDep, IsoDate, ManagerDep, calendar_day, mqtt_link
from centre_server.reports import live as stats

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("/live")
def live(request: Request, centre: CentreDep, principal: ManagerDep) -> dict[str, Any]:
    """Queues, longest waits, service level against target, counters, devices and alerts."""
    link = mqtt_link(request)
    devices = dict(link.devices) if link else {}
    return stats.live(centre, devices)


@router.get("/daily")
def daily(centre: CentreDep, principal: ManagerDep,
          date: IsoDate | None = Query(None, description="YYYY-MM-DD, the centre's local date; today if absent"),
          ) -> dict[str, Any]:
    """One day's figures, total, per service and per hour (a day with no tickets has zeros).

    The same figures as the reports and the day close (``centre_server.reports.figures``).
    """
    if date:
        day = calendar_day(date)
    else:
        with centre.lock:
            day = centre.state.day
    return stats.daily(centre, day)
