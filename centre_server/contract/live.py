"""Live figures upstream: a centre's snapshot of its queues, sent to headquarters about once a minute.

A snapshot is the centre's state NOW, not a log: each one replaces the one before
at headquarters, so a centre whose link was down for hours simply sends its
latest snapshot when the link returns (nothing is queued, nothing floods).
Headquarters validates it strictly (``LiveSnapshot``: no unknown keys, no
``"5"`` for 5, no ``true`` for 1, bounded lists and numbers) and refuses a bad
one with a 422.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from centre_server.contract.catalogue import PREFIX_PATTERN, SERVICE_ID_PATTERN, Text

LIVE_PATH = "/api/v1/live"  # POST a LiveSnapshot with the centre's token (hq/live.py answers it)
MAX_LIVE_BYTES = 256 * 1024  # 500 services fit in well under 150 KB
HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class HoursToday(_Strict):
    """The centre's opening hours on the snapshot's day, in its own time zone."""

    open_today: bool  # False: a day the centre does not open (a Sunday, a public holiday) or closed early
    opens: str | None = Field(None, pattern=HHMM_PATTERN)
    closes: str | None = Field(None, pattern=HHMM_PATTERN)  # None: no closing time configured


class CentrePlace(_Strict):
    """Where the centre says it is (``[place]`` in centre.toml); headquarters' own record, when set, wins."""

    county: str = Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f<>]+$")
    town: str = Field("", max_length=40, pattern=r"^[^\x00-\x1f<>]*$")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class ServiceLive(_Strict):
    """One service's queue now."""

    service_id: str = Field(pattern=SERVICE_ID_PATTERN)
    prefix: str = Field(pattern=PREFIX_PATTERN)
    offered: bool  # False: a national service this centre does not offer
    suspended: bool  # stopped issuing now; ``reason`` says why
    reason: Text | None = None
    accepting: bool  # a newcomer would get a ticket now
    # ahead of a newcomer, in the hall or on the way: what the citizens' channels call "waiting"
    waiting: int = Field(ge=0, le=100_000)
    # of the queue, checked in at the centre: the centre board's "Waiting now" (None: a centre from before it)
    in_hall: int | None = Field(None, ge=0, le=100_000)
    on_the_way: int = Field(0, ge=0, le=100_000)  # web, SMS and USSD tickets not checked in yet (passed over too)
    estimated_wait_s: int | None = Field(None, ge=0, le=7 * 86400)  # None: no estimate (nobody serving it)
    open_counters: int = Field(ge=0, le=1000)
    service_level: float | None = Field(None, ge=0, le=1)  # share called within target today; None: none yet
    measured: int = Field(ge=0, le=1_000_000)  # citizens the service level is measured on
    issued_today: int = Field(ge=0, le=1_000_000)


class LiveSnapshot(_Strict):
    """What a centre sends: its services' queues at ``taken_at``."""

    centre_id: str = Field(pattern=SERVICE_ID_PATTERN)
    taken_at: AwareDatetime
    day: str = Field(pattern=DAY_PATTERN)  # the centre's open day
    timezone: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")
    catalogue_version: int = Field(ge=0, le=10**9)
    hours: HoursToday
    place: CentrePlace | None = None
    services: list[ServiceLive] = Field(max_length=500)


class LiveReceipt(_Strict):
    """Headquarters' answer: stored, or older than the snapshot it holds (a late retry changes nothing)."""

    centre_id: str
    outcome: str  # stored | stale
    services: int
    received_at: datetime
