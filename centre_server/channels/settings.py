"""The ``[channels]`` section of centre.toml: web joins, SMS, USSD, appointments.

Read from the raw TOML (config.py's classes belong to the server) and from
``HUDUMA_CHANNELS__<KEY>`` variables, which win. Every key has a default, so a
centre.toml without the section serves the channels with the demo's choices.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

logger = logging.getLogger(__name__)

ENV_PREFIX = "HUDUMA_CHANNELS__"
_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"


class ChannelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # remote tickets (web, SMS, USSD)
    remote_enabled: bool = True
    remote_per_service_per_hour: int = Field(30, ge=0, le=10000)  # 0: no remote tickets for any service
    remote_caps: dict[str, int] = Field(default_factory=dict)  # per-service overrides, e.g. {passport = 10}
    remote_per_phone_per_day: int = Field(3, ge=1, le=100)  # open remote tickets one phone may hold
    # SMS
    sms_gateway: str = Field("log", pattern="^(log|africastalking|none)$")
    sms_log: str = "sms.log"  # the log gateway's file, relative to the centre directory
    at_base_url: str = "https://api.africastalking.com"
    at_username: str = "sandbox"
    at_api_key: str = ""
    at_sender_id: str = ""
    sms_notify_ahead: int = Field(3, ge=0, le=50)  # "N people ahead of you" (0: no such message)
    sms_feedback_request: bool = True
    sms_max_attempts: int = Field(8, ge=1, le=50)
    sms_backoff_s: float = Field(15.0, gt=0, le=3600)  # the first retry; doubles each time
    sms_backoff_max_s: float = Field(900.0, gt=0, le=86400)
    sms_timeout_s: float = Field(10.0, gt=0, le=120)
    sms_inbound_key: str = ""  # the former name of gateway_key (still read when gateway_key is empty)
    # who may call /ussd and /sms/inbound: the gateway, with this secret (?key= or X-Gateway-Key);
    # required outside a demo, where callbacks without it are refused
    gateway_key: str = Field("", max_length=200)
    gateway_networks: list[str] = Field(default_factory=list)  # e.g. ["196.201.214.0/24"]; empty: any
    webhook_per_minute: int = Field(600, ge=1, le=100000)  # callbacks per gateway address
    feedback_reply_hours: int = Field(24, ge=1, le=168)
    # USSD
    ussd_code: str = "*384*482#"  # shown in the README and on posters only
    # appointments
    appointments_enabled: bool = True
    slot_minutes: int = Field(30, ge=5, le=240)
    slot_capacity: int = Field(4, ge=1, le=500)  # per service and slot
    opening: str = Field("08:00", pattern=_TIME)
    closing: str = Field("16:30", pattern=_TIME)  # the last slot starts before this
    booking_days: int = Field(7, ge=1, le=90)
    weekdays: str = "mon,tue,wed,thu,fri"
    check_in_early_min: int = Field(30, ge=0, le=240)
    check_in_late_min: int = Field(15, ge=0, le=240)
    release_every_s: float = Field(30.0, gt=0, le=3600)
    # who may book: a web booking holds its slot only once confirmed with the code sent by SMS to the phone
    book_per_phone: int = Field(2, ge=1, le=50)  # open bookings (pending or booked) one phone may hold
    book_per_phone_per_hour: int = Field(4, ge=1, le=100)  # booking attempts per phone and hour (one SMS each)
    book_per_address_per_hour: int = Field(30, ge=1, le=100000)  # POST /book per client address and hour
    book_confirm_min: int = Field(10, ge=1, le=120)  # an unconfirmed booking lapses after this
    book_confirm_tries: int = Field(5, ge=1, le=20)  # wrong codes typed before a pending booking is dropped

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: str) -> str:
        names = [d.strip().lower() for d in v.split(",") if d.strip()]
        bad = [d for d in names if d not in WEEKDAYS]
        if bad or not names:
            raise ValueError(f"weekdays: use mon,tue,wed,thu,fri,sat,sun (got {v!r})")
        return ",".join(names)

    @field_validator("remote_caps")
    @classmethod
    def _caps(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: n for k, n in v.items() if not isinstance(n, int) or n < 0}
        if bad:
            raise ValueError(f"remote_caps: caps are whole numbers, 0 or more (got {bad})")
        return v

    @field_validator("gateway_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for n in v:
            ipaddress.ip_network(n, strict=False)  # ValueError names the bad range
        return v

    def cap_for(self, service_id: str) -> int:
        return self.remote_caps.get(service_id, self.remote_per_service_per_hour)

    @property
    def weekday_numbers(self) -> set[int]:
        return {WEEKDAYS.index(d) for d in self.weekdays.split(",")}


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ChannelConfigError(Exception):
    """A ``[channels]`` section the server cannot use, naming the key."""


def _env_overrides() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in os.environ.items():
        if key.startswith(ENV_PREFIX):
            out[key[len(ENV_PREFIX):].lower()] = value
    return out


def load_channel_settings(directory: Path | str) -> ChannelSettings:
    path = Path(directory) / "centre.toml"
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = dict(tomllib.loads(path.read_text()).get("channels", {}))
        except tomllib.TOMLDecodeError as err:
            raise ChannelConfigError(f"{path}: {err}") from None
    raw.update(_env_overrides())
    try:
        return ChannelSettings(**raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise ChannelConfigError(f"{path} [channels] {where}: {first.get('msg')}") from None


SAMPLE = """
[channels]
remote_per_service_per_hour = 30  # remote tickets (web, SMS, USSD) per service and hour; 0 stops them
sms_gateway = "log"               # "log" (DIR/sms.log), "africastalking" or "none"
at_username = "sandbox"           # Africa's Talking account, with at_api_key and at_base_url
sms_notify_ahead = 3              # SMS "3 people ahead of you"
slot_minutes = 30                 # appointments: slot length, capacity per service and slot
slot_capacity = 4
"""
