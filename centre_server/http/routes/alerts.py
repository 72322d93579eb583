"""The managers' SMS alerts as the board shows them: thresholds, who is told, what is open."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from centre_server.alerts import AlertsExtension
from centre_server.http.deps import ManagerDep
from centre_server.http.routes.tickets import ERRORS
from centre_server.runtime.extension import running

logger = logging.getLogger(__name__)

router = APIRouter(tags=["alerts"])


@router.get("/alerts", responses=ERRORS)
def alerts(request: Request, principal: ManagerDep) -> dict[str, Any]:
    """The ``[alerts]`` thresholds, the managers' numbers (masked), and each open alert: since when, and
    when its SMS went (or is due)."""
    return running(request, AlertsExtension).view()
