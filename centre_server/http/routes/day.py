"""Day close over HTTP: a manager closes the day and reads summaries; the sync's state."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request

from centre_server.dayclose import closing, records, upstream
from centre_server.dayclose.errors import DayCloseError
from centre_server.dayclose.extension import DayCloseExtension
from centre_server.http.deps import ApiError, CentreDep, IsoDate, ManagerDep, calendar_day
from centre_server.runtime.extension import running
from centre_server.store import database as storage

logger = logging.getLogger(__name__)

router = APIRouter(tags=["day close"])


def _db(centre: Any):
    return storage.connect(centre.settings.db_path)


@router.post("/day/close")
def close_day(request: Request, centre: CentreDep, principal: ManagerDep,
              date: IsoDate | None = Query(None, description="YYYY-MM-DD; the open day if absent")) -> dict[str, Any]:
    """Close a day: cancel what still waits, finish counters, summarise, erase phones, queue for HQ."""
    try:
        result = closing.close_with_centre(centre, calendar_day(date) if date else None)
    except DayCloseError as err:
        raise ApiError(422, "bad_date", str(err)) from None
    storage.audit(centre.db, principal.name, "close_day",
                  date=result.date, revision=result.revision, new_revision=result.new_revision)
    if result.new_revision:
        running(request, DayCloseExtension).wake_sender()
    return result.as_dict()


@router.post("/day/reopen")
def reopen_day(request: Request, centre: CentreDep, principal: ManagerDep) -> dict[str, Any]:
    """Take tickets again today after a close: a closing time set by mistake, or a close pressed too soon.

    What the close cancelled stays cancelled and its summary stands; a later close sends a new revision.
    """
    from centre_server.queue import engine

    centre.execute(engine.ReopenDay())
    storage.audit(centre.db, principal.name, "reopen_day", date=centre.state.day)
    return centre.day_payload().model_dump(mode="json")


@router.get("/day/summaries")
def summaries(centre: CentreDep, principal: ManagerDep) -> list[dict[str, Any]]:
    """Closed days, newest first, with their newest revision."""
    db = _db(centre)
    try:
        return records.list_summaries(db)
    finally:
        db.conn.close()


@router.get("/day/summaries/{date}")
def summary(date: IsoDate, centre: CentreDep, principal: ManagerDep) -> dict[str, Any]:
    """A closed day's summary (newest revision)."""
    date = calendar_day(date)
    db = _db(centre)
    try:
        data = records.load_summary(db, date)
    finally:
        db.conn.close()
    if data is None:
        raise ApiError(404, "not_closed", f"{date} has not been closed")
    return data


@router.get("/sync/status")
def sync_status(centre: CentreDep, principal: ManagerDep) -> dict[str, Any]:
    """What waits in the outbox for headquarters, and what went last."""
    db = _db(centre)
    try:
        out = upstream.status(db)
    finally:
        db.conn.close()
    out["hq_url"] = upstream.upstream_target(centre.settings)[0]
    return out
