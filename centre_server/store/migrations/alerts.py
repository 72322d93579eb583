"""The managers' alerts (centre_server/alerts/): what is wrong since when, and which SMS told it.

One row per alert kind and subject (a service, a device): kept across restarts,
so a server that restarts neither forgets an ongoing breach's start nor sends its
SMS again, and the rate limit holds (``last_sms_at``).
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def manager_alerts(db: Any) -> None:
    db.execute("CREATE TABLE manager_alerts (kind TEXT NOT NULL, subject TEXT NOT NULL, since REAL NOT NULL, "
               "detail TEXT NOT NULL DEFAULT '{}', told_at REAL, last_sms_at REAL, cleared_at REAL, "
               "PRIMARY KEY (kind, subject))")
