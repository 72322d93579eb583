"""A centre's day summary and its trip upstream, defined once: the centre sends it, headquarters checks it.

A summary is what ``centre_server.reports.figures.summarise`` produces (and the day
close records and sends). Headquarters used to store the inner summary
unchecked, so one centre sending ``{"total": {"arrived": "x"}}`` or a total
without ``wait_mean_s`` broke the board and the board's API for every centre.
Now ``POST /api/v1/summaries`` refuses such a summary with 422 and the reason,
and a bad row already stored is skipped (and reported) where it is read.

Strict types: a count is an integer (``"5"`` is refused, not coerced), a
duration is a number of seconds or null, a share is 0..1 or null. Keys the
centre may add later are allowed (``extra="allow"``) so a newer centre is not
refused by an older headquarters; the keys the board reads are required.
``tests/hq/test_summary_schema.py`` checks that the centre's real summaries
validate against this module.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from centre_server.contract import Satisfaction
from centre_server.contract.payments import PaymentsDay

logger = logging.getLogger(__name__)

Count = Field(ge=0, le=10_000_000)
DATE = r"^\d{4}-\d{2}-\d{2}$"
RATING_MIN, RATING_MAX = min(Satisfaction).value, max(Satisfaction).value  # the one scale (contract)


class _Row(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    arrived: int = Count
    served: int = Count
    served_share: float | None = Field(ge=0, le=1)
    no_shows: int = Count
    no_show_share: float | None = Field(ge=0, le=1)
    cancelled: int = Count
    unfinished: int = Field(0, ge=0, le=10_000_000)
    transfers: int = Count
    wait_mean_s: float | None = Field(ge=0, le=10_000_000)
    wait_median_s: float | None = Field(ge=0, le=10_000_000)
    wait_p90_s: float | None = Field(ge=0, le=10_000_000)
    wait_max_s: float | None = Field(ge=0, le=10_000_000)
    service_mean_s: float | None = Field(ge=0, le=10_000_000)
    service_median_s: float | None = Field(ge=0, le=10_000_000)
    service_p90_s: float | None = Field(ge=0, le=10_000_000)
    service_max_s: float | None = Field(ge=0, le=10_000_000)
    within_target: int = Count
    measured: int = Count
    within_target_share: float | None = Field(ge=0, le=1)
    satisfaction_mean: float | None = Field(ge=RATING_MIN, le=RATING_MAX)
    satisfaction_count: int = Count


class TotalRow(_Row):
    """The day's figures over tickets (citizens)."""

    counters_open: int = Count
    staffed_hours: float = Field(ge=0, le=100_000)


class ServiceRow(_Row):
    """One service's figures over visits."""

    service_id: str = Field(min_length=1, max_length=60)
    name_en: str = Field(max_length=200)
    name_sw: str = Field(max_length=200)
    target_wait_s: int = Field(ge=0, le=86_400)
    issued: int = Count
    transfers_in: int = Count
    counters: int = Count


class HourRow(_Row):
    """Figures of the tickets issued in one local hour."""

    hour: int = Field(ge=0, le=23)
    counters_open: int = Count
    staffed_hours: float = Field(ge=0, le=100_000)


class CounterRow(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    counter_id: str = Field(min_length=1, max_length=60)
    name: str = Field(max_length=200)
    staffed_hours: float = Field(ge=0, le=100_000)
    served: int = Count
    # the figures a manager acts on (reports.figures.staff_rows); optional: older centres send none
    no_shows: int | None = Field(None, ge=0, le=10_000_000)
    service_mean_s: float | None = Field(None, ge=0, le=10_000_000)
    service_p90_s: float | None = Field(None, ge=0, le=10_000_000)
    busy_hours: float | None = Field(None, ge=0, le=100_000)
    idle_share: float | None = Field(None, ge=0, le=1)
    outcomes: dict[str, int] | None = Field(None, max_length=100)


class ClerkRow(BaseModel):
    """One clerk's day under the centre's pseudonym (``clerk-`` and a keyed hash): never a staff username."""

    model_config = ConfigDict(strict=True, extra="allow")

    clerk: str = Field(pattern=r"^clerk-[0-9a-f]{10}$")
    counters: int = Count
    staffed_hours: float = Field(ge=0, le=100_000)
    served: int = Count
    no_shows: int = Count
    service_mean_s: float | None = Field(ge=0, le=10_000_000)
    service_p90_s: float | None = Field(ge=0, le=10_000_000)
    busy_hours: float = Field(ge=0, le=100_000)
    idle_share: float | None = Field(ge=0, le=1)
    outcomes: dict[str, int] = Field(max_length=100)


class VisitsRow(BaseModel):
    """One-stop visits (several services on one ticket): optional, so an older centre's summary validates."""

    model_config = ConfigDict(strict=True, extra="allow")

    visits: int = Count
    completed: int = Count
    services_planned: int = Count
    services_served: int = Count
    services_per_visit_mean: float | None = Field(ge=0, le=10)
    time_in_centre_mean_s: float | None = Field(ge=0, le=10_000_000)
    time_in_centre_median_s: float | None = Field(ge=0, le=10_000_000)
    time_in_centre_p90_s: float | None = Field(ge=0, le=10_000_000)
    time_in_centre_max_s: float | None = Field(ge=0, le=10_000_000)


class DaySummary(BaseModel):
    """One centre's day, as ``centre_server.reports.figures.summarise`` makes it."""

    model_config = ConfigDict(strict=True, extra="allow")

    schema_: int = Field(alias="schema", ge=1, le=1000)
    centre_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    centre_name: str = Field(max_length=200)
    date: str = Field(pattern=DATE)
    timezone: str = Field(min_length=1, max_length=64)
    total: TotalRow
    services: list[ServiceRow] = Field(max_length=500)
    hours: list[HourRow] = Field(max_length=24)
    counters: list[CounterRow] = Field(default_factory=list, max_length=1000)
    clerks: list[ClerkRow] = Field(default_factory=list, max_length=1000)  # optional: older centres send none
    simulated: bool = False
    visits: VisitsRow | None = None
    payments: PaymentsDay | None = None  # issue 20: fees due against money received; older centres send none


def problem(data: Any) -> str | None:
    """Why ``data`` is not a valid summary (the first few reasons, one line), or None when it is."""
    if not isinstance(data, dict):
        return f"the summary must be a JSON object, not {type(data).__name__}"
    try:
        DaySummary.model_validate(data)
    except ValidationError as err:
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ())) or 'summary'}: {e.get('msg')}"
                 for e in err.errors()[:5]]
        more = len(err.errors()) - 5
        return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
    return None


# ---------------------------------------------------------------- the upstream sync (centre -> HQ)

class SummaryIn(BaseModel):
    """What a centre's outbox sends: one revision of one day's summary."""

    key: str = Field(max_length=120)
    centre_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    centre_name: str | None = Field(None, max_length=200)
    date: str = Field(pattern=DATE)
    revision: int = Field(ge=1, le=100000)
    created_at: float | None = None
    summary: dict[str, Any]


class Stored(BaseModel):
    key: str
    outcome: str = Field(description="stored | duplicate (the same key again: stored once) | "
                                      "superseded (a newer revision is held)")
    revision_held: int
    deliveries: int
