"""HTTP client to the centre server: services, health and issuing tickets.

Blocking calls, meant for a worker thread; the UI thread never waits on them.
Issuing a ticket carries an Idempotency-Key made once per confirmation, and
retries with the same key, so a double tap or a lost reply never makes two
tickets.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

import httpx

from centre_server.contract import API_PREFIX, CheckInResponse, IssueTicketRequest, ServiceOut, TicketOut
from centre_server.contract.catalogue import CatalogueStatePayload
from centre_server.contract.payments import PaymentOut, PaymentsAvailability

logger = logging.getLogger(__name__)


class KioskService(ServiceOut):
    """A service as listed by the server; ``category_sw`` when the server sends it."""

    category_sw: str = ""


class ApiError(Exception):
    """The server answered with an error the citizen cannot fix by retrying."""

    def __init__(self, status: int, code: str, message: str, message_sw: str = "",
                 opens_at: datetime | None = None, book_day: str = "", reason_en: str = "",
                 reason_sw: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.message_sw = message_sw  # the channels' errors carry their Kiswahili text too
        # a refused ticket (409 day_closed / after_last_call) says when to come back
        self.opens_at, self.book_day = opens_at, book_day
        # a suspended service (409 service_suspended) says why, in both languages
        self.reason_en, self.reason_sw = reason_en, reason_sw


class Unreachable(Exception):
    """The server did not answer (down, network cut, or too slow)."""


CheckIn = CheckInResponse  # what ``POST /api/v1/check-in`` answers: the contract's shape


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class CentreApi:
    """The centre's HTTP API as the kiosk uses it."""

    def __init__(self, server_url: str, token: str, timeout_s: float = 5.0) -> None:
        self.base = server_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "huduma-kiosk"},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        )

    def close(self) -> None:
        self._client.close()

    def _error(self, r: httpx.Response) -> ApiError:
        try:
            body = r.json()["error"]
            opens_at = None
            if body.get("opens_at"):
                try:
                    opens_at = datetime.fromisoformat(str(body["opens_at"]))
                except ValueError:
                    logger.warning("server sent an unreadable opens_at %r", body["opens_at"])
            return ApiError(r.status_code, str(body.get("code", "error")), str(body.get("message", "")),
                            str(body.get("message_sw") or ""), opens_at=opens_at,
                            book_day=str(body.get("book_day") or "")[:10],
                            reason_en=str(body.get("reason_en") or ""), reason_sw=str(body.get("reason_sw") or ""))
        except Exception:
            return ApiError(r.status_code, "http_error", r.text[:200])

    def healthy(self, timeout_s: float = 1.0) -> bool:
        """True when ``/healthz`` answers 200 within ``timeout_s``."""
        try:
            return self._client.get("/healthz", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def registered(self, timeout_s: float = 1.0) -> bool | None:
        """Does the centre still know this kiosk's token? ``GET /api/v1/session`` answers who the caller
        is: False on 401 (revoked, rotated, or a bundle from another centre), None when it cannot tell."""
        try:
            r = self._client.get(f"{API_PREFIX}/session", timeout=timeout_s)
        except httpx.HTTPError:
            return None
        if r.status_code == 200:
            return True
        return False if r.status_code == 401 else None

    def services(self) -> list[KioskService]:
        try:
            r = self._client.get(f"{API_PREFIX}/services")
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        return [KioskService.model_validate(s) for s in r.json()]

    def catalogue(self) -> CatalogueStatePayload:
        """The national catalogue as this centre runs it (what ``state/catalogue`` retains)."""
        try:
            r = self._client.get(f"{API_PREFIX}/catalogue")
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        return CatalogueStatePayload.model_validate_json(r.content)

    def issue_ticket(self, request: IssueTicketRequest, idempotency_key: str,
                     attempts: int = 3, pause_s: float = 0.5) -> TicketOut:
        """POST the ticket; on a network failure retry with the SAME key (at most ``attempts``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        last: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                r = self._client.post(f"{API_PREFIX}/tickets", json=body,
                                      headers={"Idempotency-Key": idempotency_key})
            except httpx.HTTPError as exc:
                last = exc
                logger.warning("issue attempt %d/%d failed: %s", attempt, attempts, exc)
                if attempt < attempts:
                    time.sleep(pause_s)
                continue
            if r.status_code in (200, 201):
                return TicketOut.model_validate(r.json())
            if r.status_code >= 500 and attempt < attempts:
                last = self._error(r)
                time.sleep(pause_s)
                continue
            raise self._error(r)
        raise Unreachable(str(last))

    def withdraw_ticket(self, idempotency_key: str) -> TicketOut | None:
        """Withdraw a confirmation this kiosk gave up on: the ticket the server issued late under the key,
        cancelled; None when it never issued one."""
        try:
            r = self._client.post(f"{API_PREFIX}/withdrawals", headers={"Idempotency-Key": idempotency_key})
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise self._error(r)
        return TicketOut.model_validate(r.json())

    def ticket(self, ticket_id: str) -> TicketOut:
        try:
            r = self._client.get(f"{API_PREFIX}/tickets/{ticket_id}")
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        return TicketOut.model_validate(r.json())

    def check_in(self, code: str | None = None, phone: str | None = None) -> CheckIn:
        """Check a remote ticket or a booking in, by its code or the citizen's phone number.

        One attempt only: checking in twice is harmless on the server ("already
        checked in"), but a slow retry would keep the citizen staring at the screen.
        """
        body = {"code": code} if code else {"phone": phone}
        try:
            r = self._client.post(f"{API_PREFIX}/check-in", json=body)
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        # an older server may leave a field out: the kiosk still shows what it got
        return CheckInResponse.model_validate({"tickets": [], "kinds": [], "message_en": "", "message_sw": "",
                                               **r.json()})

    # -- paying the fee (issue 20): the server takes the amount from the catalogue ------------
    def start_payment(self, ticket_id: str, phone: str) -> PaymentOut:
        """Ask the server to send the M-Pesa prompt for this ticket's fee to ``phone``. One attempt:
        a retry could send a second prompt to the citizen's phone."""
        try:
            r = self._client.post(f"{API_PREFIX}/tickets/{ticket_id}/payment", json={"phone": phone})
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        return PaymentOut.model_validate(r.json())

    def payments_availability(self) -> PaymentsAvailability:
        """Can the centre send an M-Pesa prompt now? The server answers within seconds even when Daraja hangs
        (it checks in the background and answers its last word): a longer wait is a server out of reach."""
        try:
            r = self._client.get(f"{API_PREFIX}/payments/availability", timeout=8.0)
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        return PaymentsAvailability.model_validate(r.json())

    def payment(self, ticket_id: str) -> PaymentOut:
        """Where this ticket's fee stands now."""
        try:
            r = self._client.get(f"{API_PREFIX}/tickets/{ticket_id}/payment")
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from None
        if r.status_code != 200:
            raise self._error(r)
        return PaymentOut.model_validate(r.json())
