"""The simulator's HTTP app: Daraja's endpoints, the prompts in flight, and a control endpoint.

Daraja's endpoints:
  ``GET  /oauth/v1/generate?grant_type=client_credentials`` (HTTP Basic: the consumer key and secret)
  ``POST /mpesa/stkpush/v1/processrequest`` (Bearer), then, after ``delay_s``, a POST of
         ``{"Body": {"stkCallback": ...}}`` to the request's CallBackURL
  ``POST /mpesa/stkpushquery/v1/query`` (Bearer): ``500.001.1001`` "being processed" until the
         citizen "answered", then the result.

What the citizen "does" is chosen by the phone number's last digit, unless the control endpoint set
a result for that number:
  1 -> ResultCode 1 (insufficient balance), 2 -> 1032 (cancelled by the user),
  3 -> 1037 (phone unreachable / no answer: the callback comes after ``timeout_s``),
  4 -> 2001 (wrong PIN), any other digit -> 0 (success, with a receipt number).

Control (no auth: the simulator is a test and demo tool, bind it to 127.0.0.1):
  ``POST /sim/control`` ``{"delay_s", "timeout_s", "lose_callbacks", "duplicate_callbacks",
         "results": {"254712345678": 1032}, "amount_offset"}`` changes what follows (only the keys sent);
  ``GET  /sim/requests``: every push received, with its result and callbacks sent;
  ``POST /sim/requests/{CheckoutRequestID}/callback``: send the callback (again) now.
"""

from __future__ import annotations

import base64
import logging
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from centre_server.contract.payments import StkPushRequest, StkQueryRequest

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")
DIGIT_RESULTS = {"1": 1, "2": 1032, "3": 1037, "4": 2001}
RESULT_DESC = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1032: "Request cancelled by user.",
    1037: "DS timeout user cannot be reached.",
    2001: "The initiator information is invalid.",
}


class Control(BaseModel):
    delay_s: float | None = None
    timeout_s: float | None = None
    lose_callbacks: bool | None = None
    duplicate_callbacks: bool | None = None
    results: dict[str, int] | None = None
    amount_offset: int | None = None  # a misbehaving gateway: the callback reports Amount + offset


@dataclass
class Push:
    checkout_id: str
    merchant_id: str
    request: dict[str, Any]
    result: int
    due_at: float  # when the citizen "answers"
    receipt: str | None
    callbacks_sent: int = 0
    callback_errors: list[str] = field(default_factory=list)


class Simulator:
    """The simulated gateway's state; thread-safe."""

    def __init__(self, consumer_key: str = "", consumer_secret: str = "", passkey: str = "",
                 delay_s: float = 4.0, timeout_s: float = 20.0, lose_callbacks: bool = False,
                 duplicate_callbacks: bool = False) -> None:
        self.consumer_key, self.consumer_secret, self.passkey = consumer_key, consumer_secret, passkey
        self.delay_s, self.timeout_s = delay_s, timeout_s
        self.lose_callbacks, self.duplicate_callbacks = lose_callbacks, duplicate_callbacks
        self.results: dict[str, int] = {}
        self.amount_offset = 0
        self.tokens: dict[str, float] = {}
        self.pushes: dict[str, Push] = {}
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=15.0)
        self.tokens_issued = 0

    def token(self) -> tuple[str, int]:
        tok = secrets.token_urlsafe(21)
        with self.lock:
            self.tokens[tok] = time.time() + 3599
            self.tokens_issued += 1
        return tok, 3599

    def authorised(self, request: Request) -> bool:
        scheme, _, tok = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            return scheme.lower() == "bearer" and self.tokens.get(tok, 0) > time.time()

    def result_for(self, phone: str) -> int:
        with self.lock:
            if phone in self.results:
                return self.results[phone]
        return DIGIT_RESULTS.get(phone[-1:], 0)

    def push(self, req: StkPushRequest) -> Push:
        result = self.result_for(req.PhoneNumber)
        now = time.time()
        wait = self.timeout_s if result == 1037 else self.delay_s
        stamp = datetime.fromtimestamp(now, NAIROBI).strftime("%Y%m%d%H%M%S")
        p = Push(checkout_id=f"ws_CO_{stamp}{secrets.randbelow(10**9):09d}",
                 merchant_id=f"{secrets.randbelow(90000) + 10000}-{secrets.randbelow(10**8)}-1",
                 request=req.model_dump(), result=result, due_at=now + wait,
                 receipt=_receipt() if result == 0 else None)
        with self.lock:
            self.pushes[p.checkout_id] = p
            lose, dup = self.lose_callbacks, self.duplicate_callbacks
        if not lose:
            threading.Timer(wait, self.send_callback, args=(p.checkout_id, 2 if dup else 1)).start()
        return p

    def callback_body(self, p: Push) -> dict[str, Any]:
        cb: dict[str, Any] = {"MerchantRequestID": p.merchant_id, "CheckoutRequestID": p.checkout_id,
                              "ResultCode": p.result, "ResultDesc": RESULT_DESC.get(p.result, "Failed")}
        if p.result == 0:
            when = datetime.fromtimestamp(p.due_at, NAIROBI).strftime("%Y%m%d%H%M%S")
            cb["CallbackMetadata"] = {"Item": [
                {"Name": "Amount", "Value": float(p.request["Amount"] + self.amount_offset)},
                {"Name": "MpesaReceiptNumber", "Value": p.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(when)},
                {"Name": "PhoneNumber", "Value": int(p.request["PhoneNumber"])},
            ]}
        return {"Body": {"stkCallback": cb}}

    def send_callback(self, checkout_id: str, times: int = 1) -> list[int]:
        with self.lock:
            p = self.pushes.get(checkout_id)
        if p is None:
            return []
        statuses = []
        for _ in range(times):
            try:
                r = self.http.post(p.request["CallBackURL"], json=self.callback_body(p))
                statuses.append(r.status_code)
            except httpx.HTTPError as err:
                p.callback_errors.append(str(err))
                logger.warning("callback for %s not delivered: %s", checkout_id, err)
                continue
            p.callbacks_sent += 1
        return statuses


def _receipt() -> str:
    """An M-Pesa-like receipt number: 10 capitals and digits, e.g. SLK4XM2P9Q."""
    alphabet = string.ascii_uppercase + string.digits
    return "S" + "".join(secrets.choice(alphabet) for _ in range(9))


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"requestId": secrets.token_hex(8), "errorCode": code, "errorMessage": message},
                        status_code=status)


def create_app(sim: Simulator | None = None) -> FastAPI:
    sim = sim or Simulator()
    app = FastAPI(title="huduma-mpesa-sim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = sim

    @app.get("/oauth/v1/generate")
    def oauth(request: Request, grant_type: str = "") -> JSONResponse:
        if grant_type != "client_credentials":
            return _error(400, "400.008.02", "Invalid grant type passed")
        scheme, _, cred = request.headers.get("authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(cred).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key = secret = ""
        if scheme.lower() != "basic" or not key or (sim.consumer_key and (key, secret) != (sim.consumer_key,
                                                                                           sim.consumer_secret)):
            return _error(400, "400.008.01", "Invalid Authentication passed")
        tok, ttl = sim.token()
        return JSONResponse({"access_token": tok, "expires_in": str(ttl)})

    def _password_ok(shortcode: str, password: str, stamp: str) -> bool:
        if not sim.passkey:
            return True
        return password == base64.b64encode(f"{shortcode}{sim.passkey}{stamp}".encode()).decode()

    @app.post("/mpesa/stkpush/v1/processrequest")
    async def processrequest(request: Request) -> JSONResponse:
        if not sim.authorised(request):
            return _error(401, "404.001.03", "Invalid Access Token")
        try:
            req = StkPushRequest.model_validate_json(await request.body())
        except ValidationError as err:
            where = ".".join(str(x) for x in err.errors()[0].get("loc", ()))
            return _error(400, "400.002.02", f"Bad Request - Invalid {where}")
        if not _password_ok(req.BusinessShortCode, req.Password, req.Timestamp):
            return _error(400, "400.002.02", "Bad Request - Invalid Password")
        p = sim.push(req)
        return JSONResponse({"MerchantRequestID": p.merchant_id, "CheckoutRequestID": p.checkout_id,
                             "ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
                             "CustomerMessage": "Success. Request accepted for processing"})

    @app.post("/mpesa/stkpushquery/v1/query")
    async def query(request: Request) -> JSONResponse:
        if not sim.authorised(request):
            return _error(401, "404.001.03", "Invalid Access Token")
        try:
            req = StkQueryRequest.model_validate_json(await request.body())
        except ValidationError:
            return _error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        if not _password_ok(req.BusinessShortCode, req.Password, req.Timestamp):
            return _error(400, "400.002.02", "Bad Request - Invalid Password")
        with sim.lock:
            p = sim.pushes.get(req.CheckoutRequestID)
        if p is None:
            return _error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        if time.time() < p.due_at:
            return _error(500, "500.001.1001", "The transaction is being processed")
        return JSONResponse({"ResponseCode": "0", "ResponseDescription": "The service request has been accepted "
                             "successsfully", "MerchantRequestID": p.merchant_id,
                             "CheckoutRequestID": p.checkout_id, "ResultCode": str(p.result),
                             "ResultDesc": RESULT_DESC.get(p.result, "Failed")})

    @app.post("/sim/control")
    def control(body: Control) -> dict[str, Any]:
        with sim.lock:
            for k, v in body.model_dump(exclude_none=True).items():
                if k == "results":
                    sim.results.update({ph.lstrip("+"): code for ph, code in v.items()})
                else:
                    setattr(sim, k, v)
            return {"delay_s": sim.delay_s, "timeout_s": sim.timeout_s, "lose_callbacks": sim.lose_callbacks,
                    "duplicate_callbacks": sim.duplicate_callbacks, "results": sim.results,
                    "amount_offset": sim.amount_offset}

    @app.get("/sim/requests")
    def requests_seen() -> list[dict[str, Any]]:
        with sim.lock:
            return [{"CheckoutRequestID": p.checkout_id, "MerchantRequestID": p.merchant_id, "request": p.request,
                     "result": p.result, "receipt": p.receipt, "callbacks_sent": p.callbacks_sent,
                     "callback_errors": p.callback_errors} for p in sim.pushes.values()]

    @app.post("/sim/requests/{checkout_id}/callback")
    def resend(checkout_id: str) -> dict[str, Any]:
        if checkout_id not in sim.pushes:
            return _error(404, "404.001.01", "No such CheckoutRequestID")  # type: ignore[return-value]
        return {"statuses": sim.send_callback(checkout_id)}

    return app
