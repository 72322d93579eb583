"""The hall: the notice line on the displays."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from centre_server.contract import HallStatePayload
from centre_server.contract.api import NoticeRequest
from centre_server.http.deps import CentreDep, ManagerDep
from centre_server.queue import engine
from centre_server.store import database as storage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/hall", tags=["hall"])


@router.get("", response_model=HallStatePayload)
def hall(centre: CentreDep) -> HallStatePayload:
    """The last calls, newest first, and the notice line (as on ``state/hall``)."""
    return centre.hall_payload()


@router.put("/notice", response_model=HallStatePayload)
def set_notice(body: NoticeRequest, centre: CentreDep, principal: ManagerDep) -> HallStatePayload:
    """Set the scrolling notice line of the hall displays, in both languages."""
    centre.execute(engine.SetNotice(body.notice_en.strip(), body.notice_sw.strip()))
    storage.audit(centre.db, principal.name, "set-notice", notice_en=body.notice_en, notice_sw=body.notice_sw)
    return centre.hall_payload()
