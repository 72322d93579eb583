"""Every string headquarters shows, in English and Kiswahili.

The table is hq/strings.json, read through the contract's one translation API;
the satisfaction heading is built from the contract's scale so the scale has one home.
"""

from __future__ import annotations

import logging

from centre_server.contract import satisfaction_range
from centre_server.contract.i18n import LANGUAGES, Translations

logger = logging.getLogger(__name__)

STRINGS = Translations.load("hq", "strings.json", extra={
    "satisfaction": (f"Satisfaction ({satisfaction_range('en')})", f"Kuridhika ({satisfaction_range('sw')})"),
})
tr = STRINGS.tr
__all__ = ["LANGUAGES", "STRINGS", "tr"]
