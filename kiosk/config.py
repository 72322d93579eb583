"""The kiosk's configuration: its device bundle plus printer and kiosk settings.

The file is the JSON ``huduma-provision add-device --kind kiosk`` prints, with two
optional sections added by the technician::

    {... the DeviceBundle ...,
     "printer": {"kind": "usb", "vendor_id": "0x04b8", "product_id": "0x0202"},
     "kiosk": {"idle_timeout_s": 45, "fullscreen": true, "staff_pin": "4321"}}
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from centre_server.contract import DeviceBundle

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration a technician must fix; the message says what and where."""


class PrinterSettings(BaseModel):
    """Which printer and how to reach it; keys not used by a kind are ignored."""

    model_config = ConfigDict(extra="forbid")

    # None: no printer configured, the kiosk stays out of service; "dummy" (bytes kept in memory) only with --demo
    kind: Literal["dummy", "file", "usb", "serial", "network"] | None = None
    # file: a path or a device node such as /dev/usb/lp0
    path: str | None = None
    # usb
    vendor_id: int | None = None
    product_id: int | None = None
    in_ep: int | None = None
    out_ep: int | None = None
    # serial
    device: str | None = None
    baudrate: int = 9600
    dsrdtr: bool = True
    # network
    host: str | None = None
    port: int = 9100
    # common
    timeout_s: float = 3.0
    profile: str | None = None  # python-escpos printer profile, e.g. "TM-T88V"
    qr_native: bool = True  # the printer draws the QR itself (GS ( k); False sends an image
    qr_size: int = Field(default=6, ge=1, le=16)
    columns: int | None = None  # characters per line in font A; from the profile by default
    status_poll_s: float = 15.0  # how often a faulty printer is asked whether it is fixed

    @field_validator("vendor_id", "product_id", "in_ep", "out_ep", mode="before")
    @classmethod
    def _hex(cls, v: object) -> object:
        if isinstance(v, str):
            return int(v, 0)
        return v

    def check(self) -> None:
        """Refuse a kind without the address it needs, naming the missing key."""
        need = {"file": ["path"], "usb": ["vendor_id", "product_id"], "serial": ["device"],
                "network": ["host"]}.get(self.kind, [])  # type: ignore[arg-type]  # None needs nothing
        missing = [k for k in need if getattr(self, k) in (None, "")]
        if missing:
            raise ConfigError(f"printer kind {self.kind!r} needs {', '.join(missing)} in the 'printer' section")


class KioskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idle_timeout_s: float = Field(default=45.0, gt=0)
    idle_warning_s: float = Field(default=15.0, ge=0)  # "Are you still there?" this long before the reset
    help_key: str = Field(default="f1", min_length=1, max_length=20)  # Kivy's key name, e.g. "f1" or "h"
    speech_rate_wpm: int = Field(default=140, ge=80, le=300)  # slow enough for a first-time listener
    speech_wav_dir: str | None = None  # write speech to WAV files here instead of playing it (no sound card)
    ticket_screen_s: float = Field(default=20.0, gt=0)  # how long "take your ticket" stays
    fullscreen: bool = True  # the whole screen, whatever its size and shape (portrait kiosks too)
    width: int = Field(default=1280, ge=320, le=8192)  # the window's size when not full screen
    height: int = Field(default=800, ge=320, le=8192)
    # add-device writes a random one into the bundle; None: the staff screen stays locked
    staff_pin: str | None = Field(default=None, min_length=4, max_length=12, pattern=r"^\d+$")
    staff_press_s: float = Field(default=2.0, gt=0)  # long press in the corner for the staff screen
    health_interval_s: float = Field(default=1.0, gt=0)
    health_timeout_s: float = Field(default=1.0, gt=0)
    ask_phone: bool = True
    offer_visits: bool = True  # "Anything else today?": up to 4 services on one ticket (kiosk/visit.py)
    sms_number: str = Field(default="", max_length=20)  # the centre's SMS number, shown beside the booking QR

    @field_validator("staff_pin")
    @classmethod
    def _not_a_default(cls, v: str | None) -> str | None:
        if v is not None and len(set(v)) == 1:
            raise ValueError("a PIN of one repeated digit (such as 0000) is the first one anybody tries: "
                             "use the random PIN add-device wrote, or choose another")
        return v


class KioskConfig(BaseModel):
    bundle: DeviceBundle
    printer: PrinterSettings = Field(default_factory=PrinterSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)


def parse_config(data: dict, source: str = "config") -> KioskConfig:
    """Build the config from a bundle dict with optional ``printer`` and ``kiosk`` sections."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    data = dict(data)
    printer = data.pop("printer", None) or {}
    kiosk = data.pop("kiosk", None) or {}
    def check(model, value: dict, section: str):
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join([section, *(str(p) for p in e['loc'])]).strip('.') or '(top)'}: {e['msg']}"
                for e in exc.errors())
            raise ConfigError(f"{source}: {problems}") from None

    cfg = KioskConfig.model_construct(bundle=check(DeviceBundle, data, ""),
                                      printer=check(PrinterSettings, printer, "printer"),
                                      kiosk=check(KioskSettings, kiosk, "kiosk"))
    if cfg.bundle.kind != "kiosk":
        raise ConfigError(f"{source}: this bundle is for a {cfg.bundle.kind}, not a kiosk")
    try:
        cfg.printer.check()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def load_config(path: Path) -> KioskConfig:
    """Read and check a config file; every problem is a ConfigError naming the file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_config(data, str(path))
