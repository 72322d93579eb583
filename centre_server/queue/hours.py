"""A centre's opening hours: when it takes tickets, when it closes, when it opens next.

Pure (no clock reads, no I/O): the engine asks these questions with the moment of
each command, so a kiosk, ``/join``, USSD, SMS and the API all get the same answer.
Public holidays come in as a set of ISO dates, filled from the ``holidays`` library
by the configuration (``[day] public_holidays = "KE"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hhmm(value: str) -> int | None:
    """"08:30" -> seconds after midnight; "" -> None (not configured)."""
    if not value:
        return None
    hh, mm = value.split(":")
    return int(hh) * 3600 + int(mm) * 60


@dataclass(frozen=True)
class OpeningHours:
    """The centre's usual day. Without a closing time the centre never closes by the clock."""

    opening_s: int = 8 * 3600
    closing_s: int | None = None
    last_call_s: int | None = None  # the centre's last call of the day; None: the closing time
    # this long before the last call, a service no counter serves (none open or paused, none planned)
    # refuses newcomers: no clerk is coming for them, and the close would cancel their ticket
    unserved_window_s: int = 3600
    open_weekdays: frozenset[int] = frozenset(range(7))  # Monday = 0
    holidays: frozenset[str] = field(default_factory=frozenset)  # ISO dates the centre stays shut

    def is_open_day(self, day: date) -> bool:
        return day.weekday() in self.open_weekdays and day.isoformat() not in self.holidays

    def next_open_day(self, after: date) -> date:
        """The first day after ``after`` on which the centre opens (a year ahead at most)."""
        day = after + timedelta(days=1)
        for _ in range(366):
            if self.is_open_day(day):
                return day
            day += timedelta(days=1)
        return after + timedelta(days=1)

    def moment(self, day: date, seconds: int, tz: tzinfo | None) -> datetime:
        return datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60), tz)

    def closing_at(self, day: date, tz: tzinfo | None) -> datetime | None:
        return None if self.closing_s is None else self.moment(day, self.closing_s, tz)

    def after_closing(self, local: datetime) -> bool:
        """True from the closing time to midnight, and all day on a day the centre does not open."""
        if not self.is_open_day(local.date()):
            return True
        if self.closing_s is None:
            return False
        return local.hour * 3600 + local.minute * 60 + local.second >= self.closing_s

    def opens_next(self, local: datetime, closed_today: bool) -> datetime:
        """The next opening moment: today's, if it is still ahead and the day is not closed."""
        day = local.date()
        if (not closed_today and self.is_open_day(day)
                and local.hour * 3600 + local.minute * 60 + local.second < self.opening_s):
            return self.moment(day, self.opening_s, local.tzinfo)
        return self.moment(self.next_open_day(day), self.opening_s, local.tzinfo)


def weekdays_from(names: list[str]) -> frozenset[int]:
    """["mon", "tue", …] -> {0, 1, …}; unknown names raise ValueError."""
    return frozenset(WEEKDAYS.index(n.strip().lower()[:3]) for n in names)


def public_holidays(country: str, years: range) -> frozenset[str]:
    """Public holidays of ``country`` (e.g. "KE") for ``years``, from the holidays library."""
    if not country:
        return frozenset()
    import holidays

    return frozenset(d.isoformat() for d in holidays.country_holidays(country, years=list(years)))
