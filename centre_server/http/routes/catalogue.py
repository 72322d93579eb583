"""The national service catalogue as this centre runs it: what to bring, what it costs, who may apply."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from centre_server.contract.catalogue import CatalogueStatePayload, ServiceInfo
from centre_server.contract.errors import Refusal
from centre_server.http.deps import CentreDep

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


@router.get("", response_model=CatalogueStatePayload)
def catalogue(centre: CentreDep) -> CatalogueStatePayload:
    """Every national service with this centre's offering (the same as MQTT ``state/catalogue``)."""
    return centre.catalogue_payload()


@router.get("/{service_id}", response_model=ServiceInfo, responses={404: {"description": "no such service"}})
def service_info(service_id: str, centre: CentreDep) -> ServiceInfo:
    """One service's requirements, fee and whether this centre offers it now."""
    info = centre.catalogue_payload().info(service_id)
    if info is None:
        raise Refusal(404, "unknown_service", f"no service {service_id!r} in the national catalogue")
    return info
