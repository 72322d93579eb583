"""Every string the kiosk shows or prints, in English and Kiswahili.

The tables are data files beside this module (strings.json, categories.json),
read through the contract's one translation API, so a missing translation stops
the kiosk at start-up, not on the hall floor. Keys are short names of what the
string is for; the helpers below phrase waits, clocks and counts.
"""

from __future__ import annotations

import logging

from centre_server.contract import Language, Priority, day_words, unserved_today, wait_minutes
from centre_server.contract.i18n import Translations

logger = logging.getLogger(__name__)

LANGUAGES = (Language.en, Language.sw)

STRINGS = Translations.load("kiosk", "strings.json")
# Service categories as the demo centre and most centres name them; an unknown
# category is shown as written (it came from the centre's own configuration).
CATEGORIES = Translations.load("kiosk", "categories.json")
tr = STRINGS.tr


def category_name(category: str, language: str = "en", category_sw: str = "") -> str:
    """A category's display name: the server's Kiswahili name, our table, or the name as given."""
    if str(language) == "sw" and category_sw:
        return category_sw
    slug = category.strip().lower()
    if slug in CATEGORIES:
        return CATEGORIES.tr(slug, language)
    if not category.strip():
        return tr("all_services", language)
    if category == category.lower():  # a slug: make it read like words
        return category.replace("-", " ").replace("_", " ").strip().capitalize()
    return category.strip()


def priority_name(priority: str, language: str = "en") -> str:
    """What a citizen reads for a priority class, as a value ("Priority: None"); the question's own button
    keeps its answer's words ("No, thank you", ``priority_none``)."""
    value = Priority(priority).value
    return tr("priority_value_none" if value == Priority.none.value else f"priority_{value}", language)


def wait_text(seconds: int, language: str = "en") -> str:
    """An estimated wait as a person says it: minutes, rounded up; hours past 90 min."""
    minutes = wait_minutes(seconds)
    if minutes <= 1:
        return tr("wait_short", language)
    if minutes >= 90:
        return tr("hours_minutes", language, h=minutes // 60, m=minutes % 60)
    return tr("minutes", language, m=minutes)


def wait_about_text(seconds: int, language: str = "en") -> str:
    """'about 12 min' for a service list; 'short wait' under two minutes."""
    minutes = wait_minutes(seconds)
    if minutes <= 1:
        return tr("wait_short", language)
    if minutes >= 90:
        return "~" + tr("hours_minutes", language, h=minutes // 60, m=minutes % 60)
    return tr("wait_about", language, m=minutes)


def wait_reason_text(reason: str | None, language: str = "en", short: bool = False) -> str:
    """Why there is no estimate (the server's ``wait_unknown``), said instead of a number."""
    reason = str(reason or "")
    if reason == "no_counter":
        return tr("wait_no_counter_short" if short else "wait_no_counter", language)
    if reason == "closed":
        return tr("wait_closed", language)
    if reason == "paused":  # its counters are on a break: expected back, no figure until then
        return tr("wait_paused_short" if short else "wait_paused", language)
    return tr("wait_unknown", language)


def estimate_text(seconds: int | None, reason: str | None, language: str = "en") -> str:
    """'Estimated wait: 25 min', or, when the server has no estimate, why not (never a number)."""
    if seconds is None:
        return wait_reason_text(reason, language)
    return tr("estimated_wait", language, w=wait_text(seconds, language))




def day_text(day, language: str = "en") -> str:
    """'Monday 7 December' / 'Jumatatu 7 Desemba' for a date."""
    return day_words(day, language)


def waiting_text(n: int, language: str = "en") -> str:
    """How many wait, in the string table's forms for none, one and many."""
    return tr("waiting_people", language, n=max(0, n))


def ahead_text(n: int, language: str = "en", estimate_known: bool = True) -> str:
    """People ahead; with nobody ahead but no counter serving, not "you are next" (nobody calls yet)."""
    if n <= 0:
        return tr("people_ahead_none" if estimate_known else "people_ahead_zero", language)
    return tr("people_ahead_n", language, n=n)


def too_late_text(figures: object, language: str = "en", service: str | None = None) -> str:
    """Why a service takes no more tickets today (after its last call): no counter serves it for the rest of
    the day, or today's last ticket is issued. ``figures``: the service as the kiosk knows it (refusal,
    estimate, why none). With ``service``, the sentence for the booking screen."""
    unserved = unserved_today(figures)
    if service is not None:
        return tr("book_why_no_counter" if unserved else "book_why_last", language, service=service)
    return tr("no_counter_rest_of_day" if unserved else "last_ticket_issued", language)


def printer_status_text(status: str, language: str = "en") -> str:
    return tr(f"printer_{status}", language) if f"printer_{status}" in STRINGS else status
