"""The HTTP API's own request and response bodies: those no device speaks over MQTT.

Shared payloads (tickets, counters, the hall) live in ``centre_server.contract``;
these are the bodies only an HTTP caller sends or reads. The channels' shapes (check-in,
appointments) are in ``centre_server.contract.channels``: the kiosk reads them too.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What the hall screens' fonts draw: Latin letters (Kiswahili and English need no more), digits,
# punctuation, currency signs. Anything else (an emoji, a CJK character) is drawn as an empty box.
_HALL_RANGES = ((0x20, 0x24F), (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x214F))


def hall_undrawable(text: str) -> list[str]:
    """The characters of ``text`` a hall display cannot draw (or that are control characters)."""
    return [ch for ch in dict.fromkeys(text)
            if unicodedata.category(ch).startswith("C") or not any(a <= ord(ch) <= b for a, b in _HALL_RANGES)]


class NoticeRequest(BaseModel):  # the hall displays' scrolling notice line, in both languages
    model_config = ConfigDict(extra="forbid")

    notice_en: str = Field("", max_length=500)
    notice_sw: str = Field("", max_length=500)

    @field_validator("notice_en", "notice_sw")
    @classmethod
    def _drawable(cls, v: str) -> str:
        bad = hall_undrawable(v)
        if bad:
            raise ValueError(f"the hall screens cannot draw {' '.join(bad[:5])}: use letters, digits and punctuation")
        return v


class CounterServicesRequest(BaseModel):  # the services a counter serves, in order of skill
    model_config = ConfigDict(extra="forbid")

    services: list[str] = Field(min_length=1, max_length=64)


class StaffAddRequest(BaseModel):  # an admin adds a member of staff; the password is generated and shown once
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=40)
    role: str = Field(pattern="^(clerk|manager|admin)$")
    full_name: str = Field("", max_length=80)


class StaffRoleRequest(BaseModel):  # an admin gives a member of staff another role
    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern="^(clerk|manager|admin)$")


class StaffOut(BaseModel):  # one account as the admin sees it (never its password hash)
    username: str
    role: str
    full_name: str = ""
    disabled: bool = False
    locked: bool = False
    locked_until: float | None = None
    failed_logins: int = 0
    created_at: float | None = None
    password: str | None = None  # only in the answer that made it (add, reset): shown once
# ---------------------------------------------------------------- the clerk's toolkit: park, outcomes

class ParkRequest(BaseModel):
    """Park the citizen at the counter (sent to fetch a document), with an optional note for whoever calls back."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=200)


class ParkedTicket(BaseModel):
    """A parked ticket as a clerk sees it in the parked list."""

    id: str
    number: str
    service_id: str
    parked_at: datetime | None
    note: str | None
    counter_name: str | None  # the counter that parked it
    clerk: str | None


class ParkedOut(BaseModel):
    """The parked tickets a counter may call back (those of its services), longest parked first."""

    tickets: list[ParkedTicket]


class OutcomeOut(BaseModel):
    code: str
    label_en: str
    label_sw: str
    reason_required: bool


class ServiceOutcomesOut(BaseModel):
    """Each service's outcome codes, in the menu's order: the clerk picks one on completion."""

    services: dict[str, list[OutcomeOut]]
