"""Paying a ticket's fee by M-Pesa while waiting: the states, the HTTP bodies, and Safaricom Daraja's own shapes.

Three kinds of speakers use this module:

* the centre's API (``/api/v1/tickets/{ticket_id}/payment``): ``PaymentOut``,
  ``StartPaymentRequest``, ``CounterPaymentRequest`` (cash or a waiver, by a clerk);
* Daraja (or ``huduma-mpesa-sim``): ``StkPushRequest``/``StkPushResponse``,
  ``StkCallbackEnvelope`` (``Body.stkCallback``), ``StkQueryRequest``/``StkQueryResponse``,
  ``OAuthToken`` and ``DarajaError``, field for field as Daraja spells them;
* the day's reconciliation (``PaymentsDay``), carried in the summary to headquarters.

The amount is never a client's: it is the catalogue's fee for the ticket's service.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class PaymentState(StrEnum):
    """Where a ticket's fee stands (``none``: nobody started a payment; ``not_needed``: the service is free)."""

    none = "none"
    not_needed = "not_needed"
    pending = "pending"  # the prompt is on the citizen's phone; Daraja has not answered yet
    paid = "paid"
    failed = "failed"  # cancelled, wrong PIN, no balance, phone out of reach: the citizen may try again
    cash = "cash"  # paid at the counter, recorded by the clerk
    waived = "waived"  # the clerk waived the fee, with a reason

    @property
    def settled(self) -> bool:
        """Nothing more to pay for this ticket."""
        return self in (PaymentState.paid, PaymentState.cash, PaymentState.waived, PaymentState.not_needed)


class PaymentMethod(StrEnum):
    mpesa = "mpesa"
    cash = "cash"
    waiver = "waiver"


class ResultCode(StrEnum):
    """The STK results Daraja reports (``ResultCode``), as the centre names them; others are ``other``."""

    success = "0"
    insufficient_balance = "1"
    cancelled = "1032"
    unreachable = "1037"
    wrong_pin = "2001"


# Why a payment failed, in both languages (the citizen page, the kiosk, SMS and the clerk read these).
FAILURE_REASONS: dict[str, tuple[str, str]] = {
    "1": ("Not enough money in M-Pesa", "Salio la M-Pesa halitoshi"),
    "1032": ("Cancelled on the phone", "Imesitishwa kwenye simu"),
    "1037": ("The phone could not be reached", "Simu haikupatikana"),
    "2001": ("Wrong M-Pesa PIN", "PIN ya M-Pesa si sahihi"),
    "push_refused": ("M-Pesa refused the request", "M-Pesa imekataa ombi"),
    "unreachable_gateway": ("M-Pesa could not be reached", "M-Pesa haikupatikana"),
    "expired": ("No answer from M-Pesa in time", "Hakuna jibu kutoka M-Pesa kwa wakati"),
    "payments_off": ("M-Pesa is not taken at this centre", "M-Pesa haipokelewi katika kituo hiki"),
    "other": ("The payment did not go through", "Malipo hayakufanikiwa"),
}


def failure_reason(code: str | None) -> tuple[str, str]:
    """The English and Kiswahili words for a failure code (a Daraja ResultCode or the centre's own)."""
    return FAILURE_REASONS.get(code or "other", FAILURE_REASONS["other"])


# --------------------------------------------------------------------------
# The centre's API
# --------------------------------------------------------------------------


class PaymentOut(BaseModel):
    """A ticket's payment as every screen reads it (the latest attempt; ``attempts`` counts them all)."""

    ticket_id: str
    number: str
    service_id: str  # the service the fee is for: once settled, the one it was paid for (even after a transfer)
    state: PaymentState
    amount_ksh: int | None = None  # the catalogue's fee; None when it varies (pay at the counter)
    fee_varies: bool = False  # the fee depends on the case: it cannot be pushed from the queue
    paid_online: bool = False  # paid on eCitizen when applying (state not_needed): the clerk asks for the receipt
    method: PaymentMethod | None = None
    receipt: str | None = None  # the M-Pesa receipt number (e.g. "NLJ7RT61SV"); None for cash or a waiver
    # paid by M-Pesa, confirmed by Daraja's STK query, whose answer carries no receipt number: the number comes
    # with the (late) callback; until then every screen says "paid, receipt to follow", never a made-up one
    receipt_to_follow: bool = False
    phone_masked: str | None = None  # "*********678": the phone the prompt went to
    reason_code: str | None = None  # failed: the Daraja ResultCode or the centre's code
    reason_en: str | None = None  # failed: why; waived/cash: the clerk's reason
    reason_sw: str | None = None
    by: str | None = None  # the clerk who recorded cash or a waiver
    attempts: int = 0
    updated_at: str | None = None  # ISO time of the last change, centre's time zone
    # whether a prompt may be started for this ticket now (M-Pesa on, a fixed fee, nothing paid or pending, the
    # ticket still in today's open queue, attempts left): the citizen's page offers "Pay now" only then
    offer_prompt: bool = False
    # paid (M-Pesa or cash) for the service the ticket was in when it ended cancelled (the close, a clerk) or a
    # no-show, never served: the citizen is owed the money back (the help desk, with the receipt)
    refund_due: bool = False


class PaymentsAvailability(BaseModel):
    """Whether this centre can send an M-Pesa prompt now (``GET /api/v1/payments/availability``).

    Kiosks ask at start, on reconnecting and now and then, and offer "Pay now with M-Pesa" only while ``mpesa``
    is true: a citizen is not asked for a phone number for a prompt that cannot leave.
    """

    mpesa: bool
    reason_code: str | None = None  # payments_off ([payments] enabled = false), unreachable_gateway, push_refused
    reason_en: str | None = None
    reason_sw: str | None = None
    checked_at: str | None = None  # ISO time M-Pesa was last reached or tried, centre's time zone


# A Kenyan mobile number as typed (07…, 01…, 2547…, +2547…, with spaces, dashes or brackets between digits):
# the schema states exactly what ``normalise_phone`` accepts, so a schema-valid number is never refused.
_SEP = r"[ ()-]*"
TYPED_PHONE_PATTERN = (rf"^{_SEP}(\+{_SEP}2{_SEP}5{_SEP}4|2{_SEP}5{_SEP}4|0){_SEP}[17](" + _SEP + r"[0-9]){8}"
                       + _SEP + "$")


class StartPaymentRequest(BaseModel):
    """Start an M-Pesa prompt for a ticket's fee: only the phone; the amount is the catalogue's."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=9, max_length=20, pattern=TYPED_PHONE_PATTERN)

    @field_validator("phone")
    @classmethod
    def _kenyan(cls, v: str) -> str:
        from centre_server.contract.phone import normalise_phone

        phone = normalise_phone(v)
        if phone is None:
            raise ValueError("a Kenyan mobile number: 07XX XXX XXX, 01XX XXX XXX or +254…")
        return phone


class CounterPaymentRequest(BaseModel):
    """Cash taken at the counter, or a waiver: the clerk says why (shown in reports and to the citizen)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)

    @field_validator("reason")
    @classmethod
    def _text(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v or any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in v):
            raise ValueError("a reason in words, without control characters")
        return v


# --------------------------------------------------------------------------
# Daraja's shapes (Lipa Na M-Pesa Online, "M-Pesa Express")
# --------------------------------------------------------------------------

MSISDN_PATTERN = r"^2547\d{8}$|^2541\d{8}$"  # Daraja's 12-digit phone form


def msisdn(phone: str) -> str:
    """+254712345678 -> 254712345678 (Daraja's PhoneNumber/PartyA)."""
    return phone.lstrip("+")


class _Daraja(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class OAuthToken(_Daraja):
    """``GET /oauth/v1/generate?grant_type=client_credentials``: expires_in is a string of seconds."""

    access_token: str
    expires_in: str


class DarajaError(_Daraja):
    """What Daraja answers instead of a result (e.g. ``500.001.1001``: "The transaction is being processed")."""

    requestId: str = ""
    errorCode: str
    errorMessage: str


STILL_PROCESSING = "500.001.1001"  # stkpushquery's answer while the citizen has not answered the prompt


class StkPushRequest(_Daraja):
    BusinessShortCode: str
    Password: str
    Timestamp: str = Field(pattern=r"^\d{14}$")
    TransactionType: str = "CustomerPayBillOnline"
    Amount: int = Field(ge=1)
    PartyA: str = Field(pattern=MSISDN_PATTERN)
    PartyB: str
    PhoneNumber: str = Field(pattern=MSISDN_PATTERN)
    CallBackURL: str
    AccountReference: str = Field(max_length=12)
    TransactionDesc: str = Field(max_length=13)


class StkPushResponse(_Daraja):
    MerchantRequestID: str
    CheckoutRequestID: str
    ResponseCode: str
    ResponseDescription: str
    CustomerMessage: str = ""


class CallbackItem(_Daraja):
    Name: str
    Value: Any = None  # Daraja sends Balance with no Value


class StkCallbackMetadata(_Daraja):
    Item: list[CallbackItem] = Field(default_factory=list, max_length=20)


class StkCallback(_Daraja):
    MerchantRequestID: str = Field(max_length=100)
    CheckoutRequestID: str = Field(max_length=100)
    ResultCode: int
    ResultDesc: str = Field("", max_length=500)
    CallbackMetadata: StkCallbackMetadata | None = None

    def item(self, name: str) -> Any:
        """One of CallbackMetadata's items (Amount, MpesaReceiptNumber, TransactionDate, PhoneNumber), or None."""
        if self.CallbackMetadata is None:
            return None
        return next((i.Value for i in self.CallbackMetadata.Item if i.Name == name), None)


class StkCallbackBody(_Daraja):
    stkCallback: StkCallback


class StkCallbackEnvelope(_Daraja):
    """What Daraja POSTs to CallBackURL: ``{"Body": {"stkCallback": {...}}}``."""

    Body: StkCallbackBody


class StkQueryRequest(_Daraja):
    BusinessShortCode: str
    Password: str
    Timestamp: str = Field(pattern=r"^\d{14}$")
    CheckoutRequestID: str


class StkQueryResponse(_Daraja):
    ResponseCode: str
    ResponseDescription: str
    MerchantRequestID: str
    CheckoutRequestID: str
    ResultCode: str
    ResultDesc: str


# --------------------------------------------------------------------------
# The day's reconciliation (reports, CSV, and the summary to headquarters)
# --------------------------------------------------------------------------


class ServicePayments(BaseModel):
    """One service's money on one day: what the served tickets owed against what came in."""

    service_id: str
    fee_ksh: int = 0  # the catalogue's fee that day (0 when free; a typical amount when it varies)
    fee_varies: bool = False
    served: int = 0  # tickets served (done) that owed the fee
    due_ksh: int = 0  # served x fee (0 when the fee varies: what is due is known only at the counter)
    mpesa_count: int = 0
    mpesa_ksh: int = 0
    cash_count: int = 0
    cash_ksh: int = 0
    waived_count: int = 0
    waived_ksh: int = 0
    unpaid_served: int = 0  # served without any payment recorded: the gap to look into
    failed_attempts: int = 0
    refund_count: int = 0  # paid (M-Pesa or cash), never served, cancelled or a no-show: owed back
    refund_ksh: int = 0
    refund_receipts: list[str] = Field(default_factory=list)  # the M-Pesa receipts of those payments


class PaymentsDay(BaseModel):
    """A day's payments: per service, plus M-Pesa money that matched no ticket (refused callbacks)."""

    services: list[ServicePayments] = Field(default_factory=list)
    unmatched_count: int = 0
    unmatched_ksh: int = 0
    received_ksh: int = 0  # M-Pesa + cash, all services
    refund_ksh: int = 0  # paid, not served: owed back to the citizens, all services

    @property
    def due_ksh(self) -> int:
        return sum(s.due_ksh for s in self.services)
