"""The HTTP API's own request and response bodies: those no device speaks over MQTT.

Shared payloads (tickets, counters, the hall) live in ``centre_server.contract``;
these are the bodies only an HTTP caller sends or reads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from centre_server.contract import PHONE_PATTERN, TicketOut


class NoticeRequest(BaseModel):  # the hall displays' scrolling notice line, in both languages
    model_config = ConfigDict(extra="forbid")

    notice_en: str = Field("", max_length=500)
    notice_sw: str = Field("", max_length=500)


class CounterServicesRequest(BaseModel):  # the services a counter serves, in order of skill
    model_config = ConfigDict(extra="forbid")

    services: list[str] = Field(min_length=1, max_length=64)


class CheckInRequest(BaseModel):
    """A code, or a phone number (at least one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [{"required": ["code"]},
                                                                          {"required": ["phone"]}]})

    code: str = Field(default=None, pattern=r"^\d{4,8}$")  # type: ignore[assignment]  (absent, never null)
    phone: str = Field(default=None, pattern=PHONE_PATTERN)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_of(self) -> CheckInRequest:
        if self.code is None and self.phone is None:
            raise ValueError("send a code or a phone number")
        return self


class CheckInResponse(BaseModel):
    tickets: list[TicketOut]
    kinds: list[str]  # "ticket" (a remote ticket) or "appointment" (a ticket issued now for the booking)
    message_en: str
    message_sw: str


class AppointmentOut(BaseModel):
    id: str
    service_id: str
    slot_at: str
    state: str
    code: str
    phone: str | None  # masked: the last three digits
    language: str
    ticket_id: str | None
