"""The remote channels' shapes: checking in at a kiosk, and a day's appointments.

The server answers with them and the kiosk reads them: one definition for both.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from centre_server.contract import PHONE_PATTERN, TicketOut


class CheckInRequest(BaseModel):
    """A code, or a phone number (at least one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [{"required": ["code"]},
                                                                          {"required": ["phone"]}]})

    code: str = Field(default=None, pattern=r"^\d{4,8}$")  # type: ignore[assignment]  # absent, never null: None only marks it unsent
    phone: str = Field(default=None, pattern=PHONE_PATTERN)  # type: ignore[assignment]  # as code

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

    def message(self, language: str) -> str:
        """What to tell the citizen, in their language (English when the server sent no Kiswahili)."""
        return self.message_sw if str(language) == "sw" and self.message_sw else self.message_en


class AppointmentOut(BaseModel):
    id: str
    service_id: str
    slot_at: str
    state: str
    code: str
    phone: str | None  # masked: the last three digits
    language: str
    ticket_id: str | None
