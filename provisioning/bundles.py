"""What a device is handed: its bundle as JSON and as a QR code it can scan.

A kiosk, display or bridge starts from its bundle alone, so the bundle names the
addresses the device reaches on the centre's LAN (never 127.0.0.1 when the
server has a LAN address) and, for a kiosk, its own staff PIN.
"""

from __future__ import annotations

import json
import logging
import secrets
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from centre_server.config import CentreSettings
from centre_server.contract import DeviceBundle, Role

logger = logging.getLogger(__name__)


def _loopback(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback or ip_address(host).is_unspecified
    except ValueError:
        return False


def mqtt_url_for_devices(settings: CentreSettings) -> str:
    """The broker as devices on the LAN reach it: never 127.0.0.1 when the server has a LAN address."""
    lan_host = urlparse(settings.public_url).hostname or "127.0.0.1"
    if settings.mqtt.url:
        parsed = urlparse(settings.mqtt.url)
        if _loopback(parsed.hostname) and not _loopback(lan_host):
            return f"{parsed.scheme}://{lan_host}:{parsed.port or 1883}"
        return settings.mqtt.url
    host = settings.mqtt.embedded_host
    if _loopback(host):
        host = lan_host
    return f"mqtt://{host}:{settings.mqtt.embedded_port}"


def bundle_data(settings: CentreSettings, device_id: str, kind: str, token: str, mqtt_password: str,
                counters: list[str]) -> dict[str, Any]:
    """A device's bundle as the JSON it is written in."""
    bundle = DeviceBundle(centre_id=settings.centre_id, centre_name=settings.centre_name,
                          device_id=device_id, kind=kind, role=Role(kind), token=token,
                          server_url=settings.public_url, mqtt_url=mqtt_url_for_devices(settings),
                          mqtt_username=device_id, mqtt_password=mqtt_password, counters=list(counters))
    return bundle.model_dump(mode="json")


def saved_bundle(directory: Path, device_id: str) -> Path:
    """Where the copy written at enrolment lives: DIR/devices/<id>.json."""
    return Path(directory) / "devices" / f"{device_id}.json"


def new_staff_pin(digits: int = 6) -> str:
    """A random staff PIN for a kiosk's reprint screen; never one repeated digit (0000, 1111...)."""
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(digits))
        if len(set(pin)) > 1:
            return pin


def with_kiosk_pin(directory: Path, data: dict[str, Any]) -> dict[str, Any]:
    """A kiosk's bundle carries its staff PIN (``kiosk.staff_pin``): the one written at enrolment
    (kept through rotations and rebuilt bundles), or a new random one. Never a shared default."""
    if data.get("kind") != "kiosk":
        return data
    section: dict[str, Any] = {}
    saved = saved_bundle(directory, data["device_id"])
    if saved.is_file():
        try:
            old = json.loads(saved.read_text()).get("kiosk")
            if isinstance(old, dict):
                section = dict(old)
        except (ValueError, AttributeError):
            section = {}
    pin = str(section.get("staff_pin") or "")
    if not (pin.isdigit() and 4 <= len(pin) <= 12 and len(set(pin)) > 1):
        section["staff_pin"] = new_staff_pin()
    data["kiosk"] = section
    return data


def write_bundle(directory: Path, data: dict[str, Any], out: Path | None = None,
                 qr: bool = True) -> dict[str, Path]:
    """The bundle as ``<id>.json`` (mode 0600) and as a scannable ``<id>.png`` QR code."""
    folder = Path(out) if out else directory / "devices"
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{data['device_id']}.json"
    json_path.write_text(json.dumps(data, indent=2))
    json_path.chmod(0o600)
    png_path = folder / f"{data['device_id']}.png"
    if not qr:
        return {"json": json_path}
    bundle_qr(data).save(png_path)
    png_path.chmod(0o600)
    return {"json": json_path, "png": png_path}


def bundle_qr(data: dict[str, Any]) -> Any:
    """A QR code of the bundle's compact JSON with a bilingual label a technician can stick on the device."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(json.dumps(data, separators=(",", ":")))
    qr.make(fit=True)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    lines = [
        (f"{data['device_id']}  ·  {data['kind']}", 26),
        (data.get("centre_name", ""), 18),
        (f"{data['server_url']}  ·  {data['mqtt_url']}", 15),
        ("Contains this device's password: keep it safe.", 15),
        ("Ina nenosiri la kifaa hiki: kihifadhi salama.", 15),
    ]
    pad, gap = 16, 6
    fonts = [ImageFont.load_default(size) for _, size in lines]
    height = code.height + pad + sum(size + gap for _, size in lines) + pad
    width = max(code.width, 560)
    img = Image.new("RGB", (width, height), "white")
    img.paste(code, ((width - code.width) // 2, 0))
    draw = ImageDraw.Draw(img)
    y = code.height
    for (text, size), font in zip(lines, fonts):
        w = draw.textlength(text, font=font)
        draw.text(((width - w) / 2, y), text, fill="black", font=font)
        y += size + gap
    return img
