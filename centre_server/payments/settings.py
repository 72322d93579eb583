"""The ``[payments]`` section of centre.toml: the centre's M-Pesa Express (STK push) account at Daraja.

Read from the raw TOML, like ``[channels]`` (config.py's classes belong to the server), and from
``HUDUMA_PAYMENTS__<KEY>`` variables, which win (keep the consumer secret and the passkey there, or in a
centre.toml only root can read). Every key has a default: a centre.toml without the section has
payments off, and the queue runs as before.
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

logger = logging.getLogger(__name__)

ENV_PREFIX = "HUDUMA_PAYMENTS__"
SANDBOX_URL = "https://sandbox.safaricom.co.ke"
PRODUCTION_URL = "https://api.safaricom.co.ke"
SIMULATOR_URL = "http://127.0.0.1:8099"  # huduma-mpesa-sim's default address


class PaymentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # Daraja's base: the simulator (the demo), SANDBOX_URL or PRODUCTION_URL
    base_url: str = SIMULATOR_URL
    consumer_key: str = Field("", max_length=200)
    consumer_secret: str = Field("", max_length=200)
    shortcode: str = Field("174379", pattern=r"^\d{5,7}$")  # the paybill (174379: Daraja's sandbox paybill)
    passkey: str = Field("", max_length=200)
    transaction_type: str = Field("CustomerPayBillOnline", pattern="^(CustomerPayBillOnline|CustomerBuyGoodsOnline)$")
    party_b: str = Field("", pattern=r"^(\d{5,7})?$")  # the till for BuyGoods; empty: the shortcode
    # Where Daraja can reach this centre from the internet: "https://relay.example.go.ke/c/nairobi-gpo".
    # The push's CallBackURL is this + "/mpesa/callback/<token>". Empty: the centre's public_url. A centre
    # whose LAN nobody outside can reach still settles every payment: the STK query asks Daraja (outbound).
    callback_base_url: str = ""
    timeout_s: float = Field(15.0, gt=0, le=120)  # one call to Daraja
    # opening the connection to Daraja: a dead address is known in seconds, not after timeout_s
    connect_timeout_s: float = Field(3.0, gt=0, le=60)
    # the reachability check (an OAuth token): Daraja that takes longer is not offered to citizens meanwhile
    reach_timeout_s: float = Field(5.0, gt=0, le=60)
    query_after_s: float = Field(30.0, ge=5, le=3600)  # a push without its callback this long: ask Daraja
    poll_every_s: float = Field(10.0, ge=0.2, le=3600)  # how often the settler looks for such pushes
    expire_after_s: float = Field(300.0, ge=30, le=86400)  # still unanswered then: failed ("expired"); try again
    # while M-Pesa is out of reach, ask again this often (an OAuth token: nothing charged, no phone rings); in
    # reach, a kiosk's question asks again once the last word is 4 times this old
    reach_check_s: float = Field(30.0, ge=0.5, le=3600)
    max_attempts_per_ticket: int = Field(5, ge=1, le=50)  # prompts one ticket may send (phones are not spammed)
    verify_with_query: bool = True  # a success callback is believed only once an STK query agrees

    @field_validator("base_url", "callback_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// address")
        return v

    @property
    def payee(self) -> str:
        return self.party_b or self.shortcode


PLACEHOLDERS = {"", "demo", "demo-passkey"}


def placeholder_refusal(settings: PaymentSettings, demo: bool) -> str | None:
    """Why a real centre may not take payments with these credentials (the demo's, or none), or None."""
    if demo or not settings.enabled:
        return None
    empty = [k for k in ("consumer_key", "consumer_secret", "passkey") if getattr(settings, k) in PLACEHOLDERS]
    if empty:
        return (f"[payments] is enabled with the demo's or no {', '.join(empty)}: set the Daraja app's credentials "
                "and the paybill's passkey (or HUDUMA_PAYMENTS__<KEY>), or enabled = false")
    return None


class PaymentConfigError(Exception):
    """A ``[payments]`` section the server cannot use, naming the key."""


def _env_overrides() -> dict[str, Any]:
    return {k[len(ENV_PREFIX):].lower(): v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def load_payment_settings(directory: Path | str) -> PaymentSettings:
    path = Path(directory) / "centre.toml"
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = dict(tomllib.loads(path.read_text()).get("payments", {}))
        except tomllib.TOMLDecodeError as err:
            raise PaymentConfigError(f"{path}: {err}") from None
    raw.update(_env_overrides())
    try:
        return PaymentSettings(**raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise PaymentConfigError(f"{path} [payments] {where}: {first.get('msg')}") from None


SAMPLE = """
[payments]
enabled = true                    # M-Pesa Express (STK push) for services with a fee
base_url = "http://127.0.0.1:8099" # huduma-mpesa-sim; https://sandbox.safaricom.co.ke or https://api.safaricom.co.ke
consumer_key = "demo"             # the Daraja app's key and secret (or HUDUMA_PAYMENTS__CONSUMER_SECRET)
consumer_secret = "demo"
shortcode = "174379"              # the paybill, and its Lipa Na M-Pesa Online passkey
passkey = "demo-passkey"
callback_base_url = ""            # what Daraja can reach from the internet (a relay); empty: public_url
"""
