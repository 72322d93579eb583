"""A client of Safaricom Daraja's M-Pesa Express: the OAuth token, the STK push and the STK query.

The same code speaks to ``huduma-mpesa-sim``, Daraja's sandbox and production: only ``base_url`` and
the credentials change. The token is asked for once and kept until shortly before it expires (Daraja
gives one hour), so a busy morning does not ask for a token per citizen.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

from centre_server.contract.payments import (
    DarajaError,
    OAuthToken,
    StkPushRequest,
    StkPushResponse,
    StkQueryRequest,
    StkQueryResponse,
)
from centre_server.payments.settings import PaymentSettings

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")  # Daraja's Timestamp is Kenyan time
TOKEN_MARGIN_S = 60.0  # ask for a new token this long before the old one expires


class GatewayUnreachable(Exception):
    """Daraja did not answer (network, timeout, a 5xx without Daraja's error body)."""


class GatewayRefused(Exception):
    """Daraja answered with its error body (``errorCode``, ``errorMessage``)."""

    def __init__(self, error: DarajaError, status: int) -> None:
        super().__init__(f"{error.errorCode}: {error.errorMessage}")
        self.error = error
        self.status = status


def timestamp(now: float) -> str:
    """YYYYMMDDHHMMSS in Nairobi time."""
    return datetime.fromtimestamp(now, NAIROBI).strftime("%Y%m%d%H%M%S")


def password(shortcode: str, passkey: str, stamp: str) -> str:
    """Daraja's Password: base64 of shortcode + passkey + timestamp."""
    return base64.b64encode(f"{shortcode}{passkey}{stamp}".encode()).decode()


class DarajaClient:
    """One centre's account at Daraja; thread-safe (the API's threads and the settler share it)."""

    def __init__(self, settings: PaymentSettings, transport: httpx.BaseTransport | None = None,
                 clock=time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._http = httpx.Client(base_url=settings.base_url, transport=transport,
                                  timeout=httpx.Timeout(settings.timeout_s,
                                                        connect=min(settings.connect_timeout_s, settings.timeout_s)))
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_until = 0.0
        self.tokens_fetched = 0  # how many times a token was asked for (the cache's proof)

    def close(self) -> None:
        self._http.close()

    def token(self, timeout: httpx.Timeout | None = None) -> str:
        """The cached bearer token, or a new one when it is about to expire (``timeout``: this call's own)."""
        with self._lock:
            now = self.clock()
            if self._token is not None and now < self._token_until:
                return self._token
            try:
                r = self._http.get("/oauth/v1/generate", params={"grant_type": "client_credentials"},
                                   auth=(self.settings.consumer_key, self.settings.consumer_secret),
                                   timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
            except httpx.HTTPError as err:
                raise GatewayUnreachable(f"OAuth: {err}") from None
            if r.status_code != 200:
                raise self._refusal(r, "OAuth")
            try:
                tok = OAuthToken.model_validate_json(r.content)
                ttl = float(tok.expires_in)
            except (ValidationError, ValueError) as err:
                raise GatewayUnreachable(f"OAuth answer unreadable: {err}") from None
            self._token, self._token_until = tok.access_token, now + max(ttl - TOKEN_MARGIN_S, ttl / 2)
            self.tokens_fetched += 1
            return self._token

    def forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _post(self, path: str, body: dict) -> httpx.Response:
        for attempt in (1, 2):
            try:
                r = self._http.post(path, json=body, headers={"Authorization": f"Bearer {self.token()}"})
            except httpx.HTTPError as err:
                raise GatewayUnreachable(f"{path}: {err}") from None
            if r.status_code == 401 and attempt == 1:  # revoked or expired early: one new token, once
                self.forget_token()
                continue
            return r
        raise AssertionError("unreachable")

    def stk_push(self, *, amount: int, phone_msisdn: str, account: str, description: str,
                 callback_url: str) -> StkPushResponse:
        """Send the prompt to the citizen's phone; Daraja answers at once that it accepted it (or not)."""
        s = self.settings
        stamp = timestamp(self.clock())
        req = StkPushRequest(BusinessShortCode=s.shortcode, Password=password(s.shortcode, s.passkey, stamp),
                             Timestamp=stamp, TransactionType=s.transaction_type, Amount=amount,
                             PartyA=phone_msisdn, PartyB=s.payee, PhoneNumber=phone_msisdn,
                             CallBackURL=callback_url, AccountReference=account[:12],
                             TransactionDesc=description[:13])
        r = self._post("/mpesa/stkpush/v1/processrequest", req.model_dump())
        if r.status_code != 200:
            raise self._refusal(r, "STK push")
        try:
            out = StkPushResponse.model_validate_json(r.content)
        except ValidationError as err:
            raise GatewayUnreachable(f"STK push answer unreadable: {err}") from None
        if out.ResponseCode != "0":
            raise GatewayRefused(DarajaError(errorCode=out.ResponseCode, errorMessage=out.ResponseDescription), 200)
        return out

    def stk_query(self, checkout_request_id: str) -> StkQueryResponse | None:
        """The result of a push, or None while the citizen has not answered yet (Daraja's 500.001.1001)."""
        s = self.settings
        stamp = timestamp(self.clock())
        req = StkQueryRequest(BusinessShortCode=s.shortcode, Password=password(s.shortcode, s.passkey, stamp),
                              Timestamp=stamp, CheckoutRequestID=checkout_request_id)
        r = self._post("/mpesa/stkpushquery/v1/query", req.model_dump())
        if r.status_code != 200:
            refusal = self._refusal(r, "STK query")
            if isinstance(refusal, GatewayRefused) and refusal.error.errorCode.startswith("500.001.1001"):
                return None
            raise refusal
        try:
            return StkQueryResponse.model_validate_json(r.content)
        except ValidationError as err:
            raise GatewayUnreachable(f"STK query answer unreadable: {err}") from None

    @staticmethod
    def _refusal(r: httpx.Response, what: str) -> Exception:
        try:
            return GatewayRefused(DarajaError.model_validate_json(r.content), r.status_code)
        except ValidationError:
            return GatewayUnreachable(f"{what}: HTTP {r.status_code}")
