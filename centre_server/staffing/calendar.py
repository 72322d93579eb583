"""What kind of day a date is, for the forecast: weekday, payday, month end, public holiday.

Kenyan salaries land in the last days of the month and the first of the next (civil
servants around the 25th): citizens with fees to pay come then. Public holidays come
from the ``holidays`` library, the one the centre's hours use (``[day] public_holidays``).
"""

from __future__ import annotations

import calendar as cal
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

logger = logging.getLogger(__name__)

PAYDAY_FIRST = 25  # from the 25th of a month ...
PAYDAY_LAST_NEXT = 3  # ... to the 3rd of the next


def is_payday_window(day: date) -> bool:
    """The days salaries are spent: the 25th to the month's end, and the 1st to the 3rd."""
    return day.day >= PAYDAY_FIRST or day.day <= PAYDAY_LAST_NEXT


def is_month_end(day: date) -> bool:
    """The last two days of a month (deadlines: returns, contributions)."""
    return day.day >= cal.monthrange(day.year, day.month)[1] - 1


@lru_cache(maxsize=32)
def _holidays(country: str, year: int, language: str | None = None) -> dict[date, str]:
    if not country:
        return {}
    import holidays

    known = holidays.country_holidays(country, years=[year])
    if language and language not in (getattr(known, "supported_languages", None) or ()):
        language = None  # the library's own language for that country
    return dict(holidays.country_holidays(country, years=[year], language=language).items())


def holiday_name(day: date, country: str = "KE", language: str | None = None) -> str | None:
    """The public holiday on ``day`` (its name in the holidays library, in ``language`` if it has it), or None."""
    return _holidays(country, day.year, language).get(day)


@dataclass(frozen=True)
class DayKind:
    """The regressors of one date."""

    day: date
    weekday: int  # Monday = 0
    payday: bool
    month_end: bool
    holiday: str | None  # the holiday's name
    after_holiday: bool  # the first day after a public holiday (the backlog comes)


def day_kind(day: date, country: str = "KE") -> DayKind:
    before = day - timedelta(days=1)
    return DayKind(day=day, weekday=day.weekday(), payday=is_payday_window(day), month_end=is_month_end(day),
                   holiday=holiday_name(day, country),
                   after_holiday=holiday_name(before, country) is not None and holiday_name(day, country) is None)
