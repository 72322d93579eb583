"""Every string of the channels (pages, SMS, USSD) in English and Kiswahili."""

from __future__ import annotations

import logging
import unicodedata
from datetime import date, datetime
from typing import Any

from centre_server.contract import SATISFACTION_LABELS, Satisfaction, day_words, satisfaction_scale, wait_minutes
from centre_server.contract.catalogue import Text
from centre_server.contract.i18n import (
    LANGUAGES as LANGUAGES,  # the pages offer these
    Translations,
)

logger = logging.getLogger(__name__)

# The table is strings.json beside this module; text is chosen only in code, so an unknown key is a bug.
# The rating words come from the contract's one scale.
STRINGS = Translations.load("centre_server.channels", "strings.json", strict=True, extra={
    **{f"rating_{s.value}": SATISFACTION_LABELS[s] for s in Satisfaction},
    "err_rating": (f"Choose a rating: {satisfaction_scale('en')}.", f"Chagua tathmini: {satisfaction_scale('sw')}."),
    "sms_feedback": (f"Huduma: thank you. Rate {{number}}: reply {satisfaction_scale('en')}. {{url}}",
                     f"Huduma: asante. Tathmini {{number}}: jibu {satisfaction_scale('sw')}. {{url}}"),
})
tr = STRINGS.tr


# Dates and times in the citizen's language. Times are 24-hour ("08:00", "saa 08:00"), as on every
# other channel screen, so a time never reads differently on the ticket, the page and the SMS.
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                             "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u2022": "-"})


def ascii_fit(text: str, limit: int) -> str:
    """GSM-safe (plain ASCII) text no longer than ``limit`` (USSD screens and SMS), cut on a word with "...".

    Three dots, not two: "applicant.. More:" read as a doubled full stop, not as words left out.
    """
    if not text.isascii():  # "é" -> "e", typographic quotes and dashes -> their ASCII look-alikes
        text = text.translate(_TYPOGRAPHY)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    clean = text
    clean = " ".join(clean.split())
    if len(clean) <= limit:
        return clean
    cut = clean[: max(0, limit - 3)]
    if " " in cut[limit // 2:]:  # end on a whole word when one is near
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.:;(-") + "..."


def format_day(lang: str, d: date) -> str:
    """"Monday 7 December" / "Jumatatu 7 Desemba"."""
    return day_words(d, lang)


def format_when(lang: str, at: datetime) -> str:
    """"Monday 7 December at 08:00" / "Jumatatu 7 Desemba saa 08:00" (``at`` already in local time)."""
    joiner = "saa" if lang == "sw" else "at"
    return f"{format_day(lang, at.date())} {joiner} {at:%H:%M}"


def localise(lang: str, value: Any) -> Any:
    """A message argument in ``lang``: dates and times spelt out, a rating as its word, anything else as it is."""
    if isinstance(value, datetime):
        return format_when(lang, value)
    if isinstance(value, date):
        return format_day(lang, value)
    if isinstance(value, Satisfaction):
        return value.label(lang)
    if isinstance(value, Text):  # a catalogue text (a suspension's reason): its words in ``lang``
        return value.get(lang)
    return value


def wait_phrase(lang: str, wait_s: int | None, unknown: str | None, long: bool = False) -> str:
    """The estimated wait as a citizen reads it: "~12 min", or why there is none (never a made-up number).

    ``unknown`` is the contract's ``WaitUnknown`` ("no_counter", "closed", "paused": its counters are on a
    break); a missing estimate without a reason is told as no counter serving it.
    """
    if wait_s is not None:
        return tr("wait_approx", lang, m=max(1, wait_minutes(wait_s)))
    reason = str(unknown or "") if str(unknown or "") in ("closed", "paused") else "no_counter"
    return tr(f"wait_{reason}_long" if long else f"wait_{reason}", lang)
