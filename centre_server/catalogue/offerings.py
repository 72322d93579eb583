"""A manager's decisions on the national services: offered, not offered here, suspended (with a reason).

One function, used by the HTTP route, the board and the command line. A suspension
is the engine's command (``SuspendService``: the event tells those waiting, the
issue refusal carries the reason); "not offered here" is the centre's standing
choice, applied between two commands. Headquarters hears of each change.
"""

from __future__ import annotations

import logging
from datetime import datetime

from centre_server.contract.catalogue import Offering, OfferingStatus, Text
from centre_server.contract.errors import Refusal
from centre_server.queue import engine
from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)


def set_offering(centre: Centre, service_id: str, status: OfferingStatus, reason: Text | None = None,
                 by: str | None = None) -> Offering:
    """Apply a manager's decision for one national service; returns the offering as it now stands.

    Refused (a ``Refusal``) for a service not in the running catalogue (404), a suspension
    without a reason in both languages (422), or a service this centre's menu lacks or has
    disabled, which can only be "not offered" (409).
    """
    if centre.catalogue.service(service_id) is None:
        raise Refusal(404, "unknown_service", f"no service {service_id!r} in the national catalogue "
                      f"(version {centre.catalogue.version})")
    if status is OfferingStatus.suspended and reason is None:
        raise Refusal(422, "reason_required", "a suspension needs a reason for citizens in English and Kiswahili")
    svc = centre.state.services.get(service_id)
    if status is not OfferingStatus.not_offered and (svc is None or not svc.enabled):
        raise Refusal(409, "not_in_menu", f"{service_id!r} is not in this centre's menu: add it with "
                      "`huduma-provision services` before offering it")
    now = datetime.fromtimestamp(centre.clock(), centre.tz)  # local time, as every other time it shows
    if status is OfferingStatus.suspended:
        assert reason is not None
        held = svc.suspension if svc is not None else None
        if held is not None and (held.reason_en, held.reason_sw) == (reason.en, reason.sw):
            # the same suspension again (a double click, a retry): nobody is told twice, "since" stands
            return centre.catalogue_payload().info(service_id).offering  # type: ignore[union-attr]
        centre.execute(engine.SuspendService(service_id, reason.en, reason.sw, by=by))
    elif svc is not None and svc.suspension is not None and status is OfferingStatus.offered:
        centre.execute(engine.ResumeService(service_id, by=by))
    centre.record_offering(Offering(service_id=service_id, status=status,
                                    reason=reason if status is not OfferingStatus.offered else None,
                                    since=now, by=by))
    logger.info("%s marked %s %s%s", by or "someone", service_id, status.value,
                f": {reason.en}" if reason else "")
    return centre.catalogue_payload().info(service_id).offering  # type: ignore[union-attr]  # checked above
