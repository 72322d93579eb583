"""The bridge's configuration: its provisioning bundle plus the map of serial ports.

The file is the ``DeviceBundle`` JSON that ``huduma-provision add-device --kind
bridge`` printed, with one more key, ``ports``: which serial lines to open and
which device address on each line belongs to which counter. The centre's device
registry decides which counters the bridge may drive (``counters`` in the
bundle); a port map that names any other counter is refused at start-up, since
the broker would refuse its commands anyway.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from centre_server.contract import DeviceBundle
from firmware_bridge import frames

logger = logging.getLogger(__name__)

DEMO_DIR = Path("demo-centre")
DEMO_BUNDLE = "devices/bridge-1.json"
DEMO_SIM_LINK = "bridge-sim.tty"  # the simulator's pty, as a symlink the demo bridge opens


class ConfigError(ValueError):
    """The configuration cannot run a bridge; the message says what to fix."""


class DeviceEntry(BaseModel):
    """One device on a line: its bus address, what it is, and its counter."""

    model_config = ConfigDict(extra="forbid")

    address: int = Field(ge=1, le=frames.MAX_ADDRESS)
    kind: Literal["keypad", "led", "feedback"]
    counter_id: str = Field(min_length=1, max_length=64)


class PortEntry(BaseModel):
    """One serial line: a pyserial URL (``/dev/ttyUSB0``, ``rfc2217://``, ``socket://``, ``loop://``)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    baudrate: int = Field(default=9600, gt=0)
    devices: list[DeviceEntry] = Field(default_factory=list)

    @field_validator("devices")
    @classmethod
    def _unique_addresses(cls, devices: list[DeviceEntry]) -> list[DeviceEntry]:
        seen: set[int] = set()
        for d in devices:
            if d.address in seen:
                raise ValueError(f"address {d.address} is used twice on one line")
            seen.add(d.address)
        return devices


class Timing(BaseModel):
    """How often devices are polled and how long the bridge waits; defaults suit 9600 baud."""

    model_config = ConfigDict(extra="forbid")

    poll_interval_s: float = Field(default=2.0, gt=0)
    offline_after_s: float = Field(default=6.5, gt=0)  # about three missed polls
    reply_timeout_s: float = Field(default=5.0, gt=0)
    reopen_min_s: float = Field(default=0.5, gt=0)
    reopen_max_s: float = Field(default=10.0, gt=0)
    ident_interval_s: float = Field(default=30.0, gt=0)  # ask unknown devices to say HELLO
    status_interval_s: float = Field(default=30.0, gt=0)
    blink_s: int = Field(default=5, ge=0, le=60)


class BridgeConfig(DeviceBundle):
    """A bridge's bundle with its ports; ``device_id`` is the bridge's own id."""

    ports: list[PortEntry] = Field(default_factory=list)
    timing: Timing = Field(default_factory=Timing)

    @model_validator(mode="after")
    def _counters_are_ours(self) -> BridgeConfig:
        if self.kind != "bridge":
            raise ValueError(f"this bundle is for a {self.kind}, not a bridge")
        allowed = set(self.counters)
        urls: set[str] = set()
        for port in self.ports:
            if port.url in urls:
                raise ValueError(f"port {port.url} is listed twice")
            urls.add(port.url)
            for d in port.devices:
                if d.counter_id not in allowed:
                    raise ValueError(
                        f"device {d.address} on {port.url} names counter {d.counter_id!r}, "
                        f"but this bridge is registered for {sorted(allowed) or 'no counters'} "
                        f"(huduma-provision add-device --kind bridge --counters ...)"
                    )
        return self


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def _validate(data: dict, source: str) -> BridgeConfig:
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{source} is not a valid bridge config:\n  " + "\n  ".join(lines)) from None


def load(path: Path) -> BridgeConfig:
    """Read a bridge config file (bundle + ports)."""
    config = _validate(_load_json(path), str(path))
    if not config.ports:
        logger.warning("%s lists no ports: the bridge will only publish its status", path)
    return config


def demo_ports(counters: list[str], url: str) -> list[PortEntry]:
    """The demo's line: for the i-th counter, keypad 3i+1, LED board 3i+2, feedback unit 3i+3."""
    devices: list[DeviceEntry] = []
    for i, counter in enumerate(counters[: frames.MAX_ADDRESS // 3]):
        devices += [
            DeviceEntry(address=3 * i + 1, kind="keypad", counter_id=counter),
            DeviceEntry(address=3 * i + 2, kind="led", counter_id=counter),
            DeviceEntry(address=3 * i + 3, kind="feedback", counter_id=counter),
        ]
    return [PortEntry(url=url, baudrate=9600, devices=devices)]


def load_demo(demo_dir: Path = DEMO_DIR, url: str | None = None) -> BridgeConfig:
    """The demo bridge: ``demo-centre/devices/bridge-1.json`` and the simulator's pty."""
    bundle_path = demo_dir / DEMO_BUNDLE
    if not bundle_path.exists():
        raise ConfigError(
            f"no demo centre at {demo_dir} ({bundle_path} is missing): run `make run` first"
        )
    data = _load_json(bundle_path)
    bundle = _validate(data, str(bundle_path))
    if not bundle.counters:
        raise ConfigError(f"{bundle_path} lists no counters for this bridge")
    data["ports"] = [p.model_dump() for p in demo_ports(bundle.counters, url or str(demo_dir / DEMO_SIM_LINK))]
    return _validate(data, str(bundle_path))
