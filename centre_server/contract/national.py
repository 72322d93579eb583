"""Headquarters' inbox for a centre: what the Huduma Call Centre asks of a centre, and the centre's answers.

Headquarters cannot open a connection into a centre's LAN (centres reach out,
nothing reaches in), so a centre asks: every few seconds it ``POST``s to
``INBOX_PATH`` with its own token and gets the requests waiting for it (a
look-up of a caller's tickets and bookings, or a booking made for a caller);
it answers each at ``INBOX_ANSWER_PATH``. A request not answered is handed out
again after ``REDELIVER_AFTER_S``: a centre offline for hours gets its held
bookings when it returns. A booking is made with the request's id as its key,
so a request handed out twice books once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from centre_server.contract import PHONE_PATTERN, Language

INBOX_PATH = "/api/v1/inbox"
INBOX_ANSWER_PATH = "/api/v1/inbox/{request_id}/answer"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_-]{8,40}$"
CODE_PATTERN = r"^\d{6,8}$"  # a remote ticket's 6-digit check-in code, or a booking's 8 digits
REDELIVER_AFTER_S = 30.0  # handed out and not answered this long: handed out again
POLL_EVERY_S = 3.0  # how often a centre asks (headquarters may say otherwise in each answer)
MAX_BATCH = 20


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskKind(StrEnum):
    lookup = "lookup"  # where does this caller stand (by phone or code)
    book = "book"  # book an appointment for this caller


class LookupAsk(_Model):
    """A caller's phone number or a ticket's or booking's code (at least one)."""

    phone: str | None = Field(None, pattern=PHONE_PATTERN)
    code: str | None = Field(None, pattern=CODE_PATTERN)

    @model_validator(mode="after")
    def _one_of(self) -> LookupAsk:
        if self.phone is None and self.code is None:
            raise ValueError("a phone number or a code")
        return self


class BookAsk(_Model):
    """Book ``service_id`` on ``day``, the first free slot from ``earliest`` (HH:MM, the centre's time)."""

    service_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    day: date
    earliest: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    phone: str = Field(pattern=PHONE_PATTERN)
    language: Language = Language.en


class InboxRequest(_Model):
    id: str = Field(pattern=REQUEST_ID_PATTERN)
    kind: AskKind
    asked_at: datetime
    lookup: LookupAsk | None = None
    book: BookAsk | None = None

    @model_validator(mode="after")
    def _matches_kind(self) -> InboxRequest:
        if (self.kind is AskKind.lookup) != (self.lookup is not None) or \
                (self.kind is AskKind.book) != (self.book is not None):
            raise ValueError("a look-up carries 'lookup', a booking 'book'")
        return self


class InboxBatch(_Model):
    """The requests waiting for one centre, oldest first; ask again after ``poll_every_s``."""

    requests: list[InboxRequest]
    poll_every_s: float = POLL_EVERY_S


class StandingKind(StrEnum):
    ticket = "ticket"
    booking = "booking"


class Standing(_Model):
    """One ticket or booking of the caller, as the centre sees it now (never its secret codes)."""

    kind: StandingKind
    service_id: str = Field(max_length=40)
    service_en: str = Field(max_length=120)
    service_sw: str = Field(max_length=120)
    state: str = Field(max_length=20, description="a ticket's or booking's state, as the centre names it")
    number: str | None = Field(None, max_length=12, description="a ticket's number (A012)")
    ahead: int | None = Field(None, ge=0, description="people ahead of a waiting ticket")
    wait_min: int | None = Field(None, ge=0, description="estimated minutes until called (None: unknown)")
    slot_at: datetime | None = Field(None, description="a booking's slot")
    checked_in: bool | None = None


class InboxAnswer(_Model):
    """A centre's answer: what it found, the booking it made, or why it could not."""

    ok: bool
    found: list[Standing] = Field(default_factory=list, max_length=50)
    booking: Standing | None = None
    # the check-in code of the booking this very request made, for the agent to read out to the caller on the
    # line (the booking SMS carries it too); never in a look-up's answer, never for a booking made before
    booking_code: str | None = Field(None, pattern=r"^\d{8}$")
    refusal_code: str | None = Field(None, max_length=40)
    refusal_en: str | None = Field(None, max_length=300)
    refusal_sw: str | None = Field(None, max_length=300)
