"""The national service catalogue as this centre runs it: what to bring, what it costs, who may apply;
and a manager's offerings (not offered here, suspended with a reason, offered again)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Path, Request

from centre_server.catalogue.extension import CatalogueExtension
from centre_server.catalogue.offerings import set_offering
from centre_server.catalogue.sync import SyncError
from centre_server.contract.catalogue import (
    SERVICE_ID_PATTERN,
    CatalogueStatePayload,
    CatalogueSyncStatus,
    Offering,
    OfferingRequest,
    ServiceInfo,
)
from centre_server.contract.errors import Refusal
from centre_server.http.deps import CentreDep, ManagerDep
from centre_server.runtime.centre import Centre
from centre_server.runtime.extension import maybe_running
from centre_server.store import catalogue as catalogue_store, database as storage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/catalogue", tags=["catalogue"])

ServiceId = Path(pattern=SERVICE_ID_PATTERN, description="a national service id, e.g. kra-pin")


@router.get("", response_model=CatalogueStatePayload)
def catalogue(centre: CentreDep) -> CatalogueStatePayload:
    """Every national service with this centre's offering (the same as MQTT ``state/catalogue``)."""
    return centre.catalogue_payload()


def _sync_status(request: Request, centre: Centre) -> CatalogueSyncStatus:
    part = maybe_running(request, CatalogueExtension)
    client = part.sync if part is not None else None
    return CatalogueSyncStatus(
        running_version=centre.catalogue.version, applied_at=centre.iso(centre.catalogue_applied_at),
        last_checked_at=centre.iso(client.last_checked_at) if client else None,
        last_error=client.last_error if client else None,
        report_pending=catalogue_store.report_due(centre.db) is not None)


@router.get("/sync", response_model=CatalogueSyncStatus)
def sync_status(request: Request, centre: CentreDep, principal: ManagerDep) -> CatalogueSyncStatus:
    """The catalogue link: which version runs, when headquarters last answered, why the last try failed."""
    return _sync_status(request, centre)


@router.post("/sync/now", response_model=CatalogueSyncStatus,
             responses={409: {"description": "this server runs without the catalogue sync"}})
def sync_now(request: Request, centre: CentreDep, principal: ManagerDep) -> CatalogueSyncStatus:
    """Ask headquarters now for a newer catalogue (and send the report if one waits).

    A headquarters out of reach is no error of the request: the answer says so in ``last_error``,
    and the centre keeps running its version.
    """
    part = maybe_running(request, CatalogueExtension)
    if part is None or part.sync is None:
        raise Refusal(409, "sync_unavailable", "this server runs without the catalogue sync")
    try:
        part.sync.sync_once()
    except SyncError as err:
        logger.info("catalogue sync asked by %s failed: %s", principal.name, err)
    storage.audit(centre.db, principal.name, "catalogue_sync", version=centre.catalogue.version,
                  error=part.sync.last_error)
    return _sync_status(request, centre)


@router.get("/{service_id}", response_model=ServiceInfo, responses={404: {"description": "no such service"}})
def service_info(centre: CentreDep, service_id: str = ServiceId) -> ServiceInfo:
    """One service's requirements, fee and whether this centre offers it now."""
    info = centre.catalogue_payload().info(service_id)
    if info is None:
        raise Refusal(404, "unknown_service", f"no service {service_id!r} in the national catalogue")
    return info


@router.post("/{service_id}/offering", response_model=Offering,
             responses={404: {"description": "not in the national catalogue"},
                        409: {"description": "not in this centre's menu: it can only be not offered"},
                        422: {"description": "a suspension without a reason in both languages"}})
def offering(body: OfferingRequest, centre: CentreDep, principal: ManagerDep,
             service_id: str = ServiceId) -> Offering:
    """Mark a national service not offered here, suspended now (the reason, in English and Kiswahili, is what
    citizens are told; new tickets are refused, those waiting keep their place), or offered again."""
    result = set_offering(centre, service_id, body.status, body.reason, by=principal.name)
    storage.audit(centre.db, principal.name, "catalogue_offering", service_id=service_id, status=body.status.value,
                  reason=body.reason.model_dump() if body.reason else None)
    return result
