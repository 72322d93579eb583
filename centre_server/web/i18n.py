"""Every string of the web pages, in English and Kiswahili.

Pages render with ``t(key)`` (``STRINGS.bind(lang)``) on the server; scripts read
the same table (``STRINGS.table(lang)``) from a JSON block. The table is a data
file checked at load, so a page never shows a string that exists in one language only.
"""

from __future__ import annotations

import logging

from fastapi import Request

from centre_server.contract import satisfaction_range, satisfaction_scale
from centre_server.contract.i18n import LANGUAGES, Translations

logger = logging.getLogger(__name__)

LANG_COOKIE = "huduma_lang"

# The table is strings.json beside this module; the satisfaction scale comes from the contract.
STRINGS = Translations.load("centre_server.web", "strings.json", extra={
    "kpi_satisfaction_scale": (satisfaction_range("en"), satisfaction_range("sw")),
    "satisfaction_note": (f"Satisfaction: the mean rating, {satisfaction_scale('en')} (number of ratings).",
                          f"Kuridhika: wastani wa tathmini, {satisfaction_scale('sw')} (idadi ya tathmini)."),
})


def lang_of(request: Request) -> str:
    """``?lang=`` first (and remembered in a cookie), then the cookie, else English."""
    q = request.query_params.get("lang")
    if q in LANGUAGES:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGUAGES else "en"
