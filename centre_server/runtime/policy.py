"""The centre's settings as the engine's rules: the one place ``centre.toml`` becomes a ``Policy``."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from centre_server.config import CentreSettings
from centre_server.queue.hours import OpeningHours, parse_hhmm, public_holidays, weekdays_from
from centre_server.queue.model import Policy

logger = logging.getLogger(__name__)


def hours_from(settings: CentreSettings, year: int | None = None) -> OpeningHours:
    """The centre's opening hours from ``[day]``, with this year's public holidays and the next."""
    d = settings.day
    year = year or datetime.now(ZoneInfo(settings.timezone)).year
    return OpeningHours(opening_s=parse_hhmm(d.opening_time) or 0, closing_s=parse_hhmm(d.closing_time),
                        last_call_s=parse_hhmm(d.last_call_time), unserved_window_s=d.unserved_minutes * 60,
                        open_weekdays=weekdays_from(d.open_days),
                        holidays=public_holidays(d.public_holidays, range(year - 1, year + 2)))


def policy_from(settings: CentreSettings) -> Policy:
    q = settings.queue
    return Policy(hours=hours_from(settings), phone_retention_days=settings.day.phone_retention_days,
        priority_streak_limit=q.priority_streak_limit, prefer_breached_target=q.prefer_breached_target,
        call_order=q.call_order, min_recalls_before_no_show=q.min_recalls_before_no_show,
        auto_no_show_after_recalls=q.auto_no_show_after_recalls,
        reactivation_window_s=q.reactivation_window_min * 60, check_in_grace_s=round(q.check_in_grace_min * 60),
        complete_on_call_next=q.complete_on_call_next, timezone=settings.timezone,
        visit_place=q.visit_place, target_wait_cap_s=int(q.target_wait_cap_min * 60))
