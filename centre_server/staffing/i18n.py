"""The advisor's words in English and Kiswahili (``strings.json`` beside this module)."""

from __future__ import annotations

import logging

from centre_server.contract.i18n import Translations

logger = logging.getLogger(__name__)

STRINGS = Translations.load("centre_server.staffing", "strings.json")
