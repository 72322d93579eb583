"""A centre's configuration: ``DIR/centre.toml``, overridable by ``HUDUMA_*`` variables.

One pydantic-settings class; the centre directory holds this file, the SQLite
database and the device bundles. Placeholder secrets are refused outside demos.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

logger = logging.getLogger(__name__)

CONFIG_NAME = "centre.toml"
DB_NAME = "centre.db"


class MqttSettings(BaseModel):
    url: str = ""  # empty: the server starts an embedded broker
    embedded_host: str = "127.0.0.1"
    embedded_port: int = 1883
    username: str = ""
    password: str = ""
    anonymous_read: bool = False  # embedded broker: anyone may watch state and events (demo centres)
    # the biggest MQTT packet either broker takes; a bigger one disconnects its sender unread
    max_packet_bytes: int = Field(262_144, ge=4096, le=268_435_455)
    # the server publishes to itself this often to prove it still hears commands (0: never)
    probe_interval_s: float = Field(10.0, ge=0, le=3600)


class QueueSettings(BaseModel):
    priority_streak_limit: int = Field(3, ge=1, le=50)
    prefer_breached_target: bool = False
    call_order: str = Field("longest_wait", pattern="^(longest_wait|skill_order)$")
    min_recalls_before_no_show: int = Field(0, ge=0, le=10)
    auto_no_show_after_recalls: int = Field(3, ge=1, le=10)
    reactivation_window_min: int = Field(30, ge=0, le=600)
    # a remote ticket passed over at the front unchecked keeps its place this long (its citizen is told by SMS)
    check_in_grace_min: float = Field(15, gt=0, le=240)
    complete_on_call_next: bool = True
    # a one-stop visit's next service: its place by the first issue time, or at the back (queue/visits.py)
    visit_place: str = Field("issue_time", pattern="^(issue_time|joined)$")
    # the wait forecast (queue/forecast.py): simulated futures every this many seconds (0: off,
    # the estimator's closed forms alone)
    forecast_every_s: float = Field(15.0, ge=0, le=3600)
    # a demo centre only: every service's target wait at most this many minutes (0: the services' own), so a
    # demonstration shows the board's red row and the managers' breach SMS within minutes
    target_wait_cap_min: float = Field(0.0, ge=0, le=480)
    # the wait predictor's learned rates are stored this often (and at a clean stop), read back at start
    keep_learned_every_s: float = Field(300.0, ge=0, le=86400)


class SecuritySettings(BaseModel):
    session_minutes: int = Field(600, ge=1)  # a clerk's shift
    lockout_after_failures: int = Field(5, ge=1)
    lockout_minutes: int = Field(15, ge=1)
    issue_per_device_per_minute: int = Field(120, ge=1)
    issue_per_phone_per_hour: int = Field(5, ge=1)
    login_per_minute: int = Field(30, ge=1)  # per client address, on top of the per-user lock-out
    citizen_per_minute: int = Field(240, ge=1)  # ticket look-ups per client address
    # reverse proxies whose X-Forwarded-For is believed; empty: the client address is the socket's
    trusted_proxies: list[str] = Field(default_factory=list)


class HttpSettings(BaseModel):
    """Limits on what any HTTP client may hold or send: checked before a body is parsed."""

    max_body_bytes: int = Field(262_144, ge=1024)  # a bigger body is a 413 before it is read
    limit_concurrency: int = Field(1000, ge=10)  # connections and requests at once; more get a 503
    timeout_keep_alive_s: float = Field(5.0, gt=0, le=600)  # an idle kept-alive connection is closed
    header_timeout_s: float = Field(10.0, gt=0, le=600)  # a request's headers must arrive within this
    body_timeout_s: float = Field(30.0, gt=0, le=3600)  # each piece of a body must arrive within this


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class DaySettings(BaseModel):
    """The centre's hours: tickets are issued until closing; after it every channel says when it opens."""

    opening_time: str = Field("08:00", pattern=_HHMM)
    closing_time: str = Field("", pattern=r"^$|" + _HHMM)  # e.g. "17:00": the day closes then
    last_call_time: str = Field("", pattern=r"^$|" + _HHMM)  # last call of the day; empty: the closing time
    open_days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    public_holidays: str = Field("", pattern=r"^$|^[A-Z]{2}$")  # "KE": shut on Kenya's public holidays
    phone_retention_days: int = Field(0, ge=0)
    unserved_minutes: int = Field(60, ge=0, le=24 * 60)  # before the last call, a service nobody serves refuses

    @field_validator("open_days")
    @classmethod
    def _known_days(cls, v: list[str]) -> list[str]:
        from centre_server.queue.hours import weekdays_from

        weekdays_from(v)  # ValueError names the bad day
        return v


class BackupSettings(BaseModel):
    directory: str = ""  # a folder (another disk): nightly backups go there
    time: str = Field("21:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    keep: int = Field(14, ge=1)


class UpstreamSettings(BaseModel):
    hq_url: str = ""
    hq_token: str = ""
    catalogue_every_s: float = Field(300.0, ge=5, le=86400)  # how often to ask headquarters for a new catalogue
    live_every_s: float = Field(60.0, ge=0, le=3600)  # live queue figures to headquarters this often (0: off)
    inbox_every_s: float = Field(3.0, ge=0, le=3600)  # how often to ask HQ's call centre inbox (0: never)


class PlaceSettings(BaseModel):
    """Where the centre is, for headquarters' public wait page (issue 22)."""

    county: str = Field("", max_length=40)
    town: str = Field("", max_length=40)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class AlertSettings(BaseModel):
    """SMS to the managers when something needs them and nobody is looking at the board (centre_server/alerts/)."""

    phones: list[str] = Field(default_factory=list)  # the managers' mobile numbers; empty: no alert SMS
    language: str = Field("en", pattern="^(en|sw)$")  # the language of the alert SMS
    breach_minutes: float = Field(10.0, ge=0, le=1440)  # a service over its target wait this long
    offline_minutes: float = Field(5.0, ge=0, le=1440)  # a kiosk, display or bridge offline this long
    paper_minutes: float = Field(1.0, ge=0, le=1440)  # a kiosk printer out of paper this long
    repeat_minutes: float = Field(30.0, ge=0, le=1440)  # at most one alert SMS per alert and subject this often
    max_per_hour: int = Field(30, ge=1, le=1000)  # all alert SMS to one phone in an hour (a switch failing
                                                  # takes every device with it: one SMS each is enough)
    check_every_s: float = Field(15.0, gt=0, le=600)  # how often the conditions are looked at

    @field_validator("phones")
    @classmethod
    def _phones(cls, v: list[str]) -> list[str]:
        from centre_server.contract.phone import normalise_phone

        out = []
        for p in v:
            n = normalise_phone(p)
            if n is None:
                raise ValueError(f"phones: {p!r} is not a Kenyan mobile number (write 0712 345 678)")
            if n not in out:
                out.append(n)
        return out


class CentreSettings(BaseSettings):
    """Everything a centre server reads at start."""

    model_config = SettingsConfigDict(env_prefix="HUDUMA_", env_nested_delimiter="__", extra="ignore")

    centre_id: str = Field("demo", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    centre_name: str = "Huduma Centre"
    timezone: str = "Africa/Nairobi"
    public_url: str = "http://127.0.0.1:8000"
    demo: bool = False
    mqtt: MqttSettings = MqttSettings()
    queue: QueueSettings = QueueSettings()
    security: SecuritySettings = SecuritySettings()
    http: HttpSettings = HttpSettings()
    day: DaySettings = DaySettings()
    upstream: UpstreamSettings = UpstreamSettings()
    backup: BackupSettings = BackupSettings()
    alerts: AlertSettings = AlertSettings()
    place: PlaceSettings = PlaceSettings()

    directory: Path = Path(".")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(v)
        return v

    @model_validator(mode="after")
    def _demo_targets_only_in_a_demo(self) -> CentreSettings:
        # a real centre runs the national targets: a cap there would make its board and reports lie
        if self.queue.target_wait_cap_min and not self.demo:
            raise ValueError("queue.target_wait_cap_min is for a demo centre only (demo = true): remove it")
        return self

    @property
    def db_path(self) -> Path:
        return self.directory / DB_NAME

    @property
    def mqtt_url(self) -> str:
        return self.mqtt.url or f"mqtt://{self.mqtt.embedded_host}:{self.mqtt.embedded_port}"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = os.environ.get("_HUDUMA_CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


class ConfigError(Exception):
    """A centre directory that cannot be served, with what to do about it."""


def load_settings(directory: Path | str, **overrides: Any) -> CentreSettings:
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{path} not found: create the centre with `huduma-provision init {directory}`")
    os.environ["_HUDUMA_CONFIG_FILE"] = str(path)
    try:
        return CentreSettings(directory=directory, **overrides)
    except Exception as err:  # pydantic's message names the bad key
        raise ConfigError(f"{path}: {err}") from None
    finally:
        os.environ.pop("_HUDUMA_CONFIG_FILE", None)


# A demonstration's short targets (``huduma-provision init --demo --short-targets``, what ``make run`` makes):
# 15 tickets for one service with one counter open give the managers' breach SMS (sms.log) within about three
# minutes (README "Demo walk-through"); a real centre, and a plain demo centre, keep the services' own targets.
DEMO_TARGETS = ("target_wait_cap_min = 2          # demo only: every service's target wait at most 2 minutes, so\n"
                "                                 # the board's red row and the breach SMS come within minutes\n")


def render_config(centre_id: str, centre_name: str, *, demo: bool, timezone: str = "Africa/Nairobi",
                  public_url: str = "http://127.0.0.1:8000", mqtt_url: str = "",
                  place: PlaceSettings | None = None, mqtt_port: int = 1883, short_targets: bool = False,
                  hq_url: str = "", hq_token: str = "") -> str:
    """The centre.toml a new centre starts with, every key explained (``short_targets``: a demonstration's;
    ``hq_url``/``hq_token``: headquarters, written only when asked: a centre reports nowhere by default)."""
    short_targets = short_targets and demo
    breach = "0.5" if short_targets else "5" if demo else "10"
    place = place or PlaceSettings()
    lat = "" if place.latitude is None else f"latitude = {place.latitude}\n"
    lon = "" if place.longitude is None else f"longitude = {place.longitude}\n"
    return f'''# Huduma Centre queue server configuration (huduma-centre serve reads this).
centre_id = "{centre_id}"
centre_name = "{centre_name}"
timezone = "{timezone}"          # ticket numbers reset at local midnight
public_url = "{public_url}"      # printed in ticket QR codes: the server's LAN address
demo = {str(demo).lower()}

[mqtt]
url = "{mqtt_url}"               # e.g. "mqtt://127.0.0.1:1883" for Mosquitto; empty: embedded broker
embedded_host = "127.0.0.1"      # where the embedded broker listens (0.0.0.0 for the LAN)
embedded_port = {mqtt_port}
username = ""                    # the server's own broker credentials, if the broker wants them
password = ""
anonymous_read = {str(demo).lower()}           # embedded broker: anyone may watch state and events, read-only
max_packet_bytes = 262144        # embedded broker: a bigger MQTT packet disconnects its sender
probe_interval_s = 10            # the server checks it still hears commands this often

[queue]
priority_streak_limit = 3        # after this many priority calls in a row, one normal ticket
prefer_breached_target = false   # serve services over their target wait first
call_order = "longest_wait"      # or "skill_order": a counter's first service first
min_recalls_before_no_show = 0   # refuse a no-show before this many recalls
auto_no_show_after_recalls = 3   # the recall after this many marks a no-show
reactivation_window_min = 30     # a no-show may be re-activated within this window
check_in_grace_min = 15          # a remote ticket passed over unchecked keeps its place this long
complete_on_call_next = true     # "call next" finishes the ticket being served (a call over one only called is refused)
visit_place = "issue_time"       # a visit's next service: place by first issue, or "joined" (the back)
forecast_every_s = 15            # wait estimates from simulated futures this often (0: off)
keep_learned_every_s = 300       # the estimator's learned rates stored this often, read back at start (0: at stop only)
{DEMO_TARGETS if short_targets else ""}
[security]
session_minutes = 600
lockout_after_failures = 5
lockout_minutes = 15
issue_per_device_per_minute = 120
issue_per_phone_per_hour = 5
login_per_minute = 30
citizen_per_minute = 240
trusted_proxies = []             # e.g. ["127.0.0.1"] behind nginx: only these may set X-Forwarded-For

[http]
max_body_bytes = 262144          # a bigger request body is refused (413) before it is read
limit_concurrency = 1000         # open connections at once; more get a 503 (raise LimitNOFILE to match)
timeout_keep_alive_s = 5         # an idle kept-alive connection is closed after this
header_timeout_s = 10            # a request's headers must arrive within this, or the connection closes
body_timeout_s = 30              # a request body that stalls this long is refused (408)

[day]
opening_time = "08:00"           # when the centre opens: "opens again at" on every channel
closing_time = ""                # "17:00" closes the day automatically; no ticket is issued after it
last_call_time = ""              # the last call of the day (empty: the closing time); a newcomer who
                                 # would not be called before it is offered a booking instead
open_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # e.g. drop "sun" where the centre shuts
public_holidays = ""             # "KE": closed on Kenya's public holidays
phone_retention_days = 0         # phone numbers are erased when the day closes
unserved_minutes = 60            # this close to the last call, a service no counter serves (none open,
                                 # paused or planned) gives no ticket: the close would only cancel it

[backup]
directory = ""                   # e.g. "/mnt/usb/huduma-backups": a nightly online backup goes there
time = "21:00"
keep = 14

[upstream]
hq_url = "{hq_url}"                      # headquarters, for the nightly statistics and the national catalogue
hq_token = "{hq_token}"
catalogue_every_s = 300          # ask headquarters for a newer service catalogue this often (backs off while
                                 # it is unreachable; picks up the newest when the link returns)
live_every_s = 60                # send the live queue figures this often (0: off); after an outage only
                                 # the latest figures are sent, never a backlog
inbox_every_s = 3                # ask headquarters' call centre for look-ups and bookings of callers this often
                                 # (0: never); held bookings arrive when the link returns

[place]                          # where the centre is: headquarters' public wait page ("near me", by county)
county = "{place.county}"
town = "{place.town}"
{lat}{lon}
[alerts]
# SMS to the managers (through the centre's SMS gateway, above) when a service is over its target wait,
# a device is offline or a kiosk printer is out of paper for this long; again when it clears.
phones = {'["0700 000 001"]' if demo else '[]              '}        # the managers' mobile numbers; empty: no alert SMS
language = "en"                  # or "sw"
breach_minutes = {breach:<3}             # a service's longest wait over its target this long
offline_minutes = 5              # a kiosk, display or bridge offline this long
paper_minutes = 1                # a kiosk printer out of paper this long
repeat_minutes = 30              # at most one SMS per alert and subject this often
max_per_hour = 30                # all alert SMS to one phone in an hour

[payments]
enabled = {str(demo).lower()}                   # M-Pesa Express (STK push) for services with a fee (README: Payments)
base_url = "http://127.0.0.1:8099"  # huduma-mpesa-sim; https://sandbox.safaricom.co.ke; https://api.safaricom.co.ke
consumer_key = "{"demo" if demo else ""}"          # the Daraja app's key and secret (or HUDUMA_PAYMENTS__*)
consumer_secret = "{"demo" if demo else ""}"
shortcode = "174379"             # the paybill (or BuyGoods shortcode) and its Lipa Na M-Pesa Online passkey
passkey = "{"demo-passkey" if demo else ""}"
callback_base_url = ""           # the public address Daraja calls back (a relay); empty: public_url
'''


def centre_label(centre_name: str, centre_id: str) -> str:
    """"Huduma Centre Nakuru (nakuru)" in the commands' lines; the id once, not again when the name already ends
    with it (the demo's "Huduma Centre GPO (demo)" printed "(demo) (demo)")."""
    if centre_name.rstrip().lower().endswith(f"({centre_id.lower()})"):
        return centre_name
    return f"{centre_name} ({centre_id})"
