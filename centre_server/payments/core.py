"""A ticket's fee: start an M-Pesa prompt, take Daraja's callback, settle by query, record cash or a waiver.

``Payments`` is the one implementation every channel calls: the HTTP routes (kiosk, /join, the citizen's
page, the clerk), the USSD code in-process, and the settler thread. Each attempt is a row of the
``payments`` table, written before the push leaves (so a restart between push and callback loses
nothing: the callback's token finds the row on disk); every change of state is then told to everyone
through the engine (``RecordPayment`` -> ``payment_updated``), durable in the event log and heard by the
live pages and MQTT like any queue event.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from centre_server.contract.errors import Refusal
from centre_server.contract.payments import (
    STILL_PROCESSING,
    PaymentMethod,
    PaymentOut,
    PaymentsAvailability,
    PaymentState,
    StkCallback,
    failure_reason,
    msisdn,
)
from centre_server.payments.daraja import DarajaClient, GatewayRefused, GatewayUnreachable
from centre_server.payments.settings import PaymentSettings
from centre_server.queue.engine import QueueError, RecordPayment
from centre_server.store import payments as store
from centre_server.store.payments import PaymentRow

if TYPE_CHECKING:
    from centre_server.queue.model import Ticket
    from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/mpesa/callback"  # + "/<token>": the only part of the server Daraja calls
FINAL_TICKET = ("cancelled", "no_show")  # a ticket nobody will serve is not pushed a prompt
# How long a kiosk's "can a prompt leave?" waits for a reachability check in flight before the last known answer
AVAILABILITY_WAIT_S = 2.0


def refund_due(t: Ticket, settled: PaymentRow | None, day_over: bool) -> bool:
    """Money received for a service the ticket then left unserved (cancelled, a no-show): owed back.

    A cancelled ticket can never be served, so its money is owed back at once. A no-show may still come
    back and be served the same day (within the reactivation window, or at the help desk's word), so its
    money is owed back only once its day is over (``day_over``: closed, or a past day). Only the service the
    ticket ended in counts: a one-stop visit paid for a service it was served in, then cancelled in the next
    one, owes nothing back for the first."""
    if settled is None or settled.state not in ("paid", "cash") or settled.service_id != t.service_id:
        return False
    return t.state.value == "cancelled" or (t.state.value == "no_show" and day_over)


def day_over(state: Any, day: str) -> bool:
    """``day`` is over for the engine's ``state``: a past day, or the open day once closed."""
    return day < state.day or (day == state.day and bool(state.closed))


def owed_back(db: Any, t: Ticket, is_day_over: bool) -> PaymentRow | None:
    """The payment to give back for ``t`` (read from the database: the payments part need not run, as on a
    stopped server's close), or None when nothing is owed."""
    rows = store.of_ticket(db, t.id)
    settled = next((r for r in reversed(rows) if r.state in ("paid", "cash", "waived")), None)
    return settled if settled is not None and refund_due(t, settled, is_day_over) else None


class PaymentRefusal(Refusal):
    """A payment the centre will not start or record, in the citizen's two languages."""

    def __init__(self, status: int, code: str, en: str, sw: str) -> None:
        super().__init__(status, code, en, message_sw=sw)


@dataclass(frozen=True)
class Fee:
    amount_ksh: int
    varies: bool
    online: bool = False  # paid on eCitizen when the citizen applied: nothing to take here

    @property
    def free(self) -> bool:
        return self.amount_ksh == 0 and not self.varies

    @property
    def nothing_here(self) -> bool:
        """Nothing for the centre to take: free, or paid online when applying."""
        return self.free or self.online


class Payments:
    """The payments of one running centre (thread-safe: HTTP threads, USSD and the settler share it)."""

    def __init__(self, centre: Centre, settings: PaymentSettings, client: DarajaClient | None = None) -> None:
        self.centre = centre
        self.settings = settings
        self.client = client if client is not None else DarajaClient(settings, clock=centre.clock)
        self._lock = threading.Lock()  # one settlement of a row at a time (callback, duplicate, query)
        self._gateway_lock = threading.Lock()  # one reachability check at a time, whatever the kiosks ask
        self._gateway: str | None = None  # None: Daraja answered last; else why not (a FAILURE_REASONS code)
        self._gateway_at: float | None = None  # when Daraja was last reached or tried (None: never yet)
        self._checking_lock = threading.Lock()
        self._checking: threading.Event | None = None  # the background reachability check in flight

    # ------------------------------------------------------------------ reading

    def fee(self, service_id: str) -> Fee:
        """The catalogue's fee for a service (never a client's amount); a service outside the catalogue is free."""
        cs = next((s for s in self.centre.catalogue.services if s.id == service_id), None)
        if cs is None:
            return Fee(0, False)
        return Fee(cs.fee.amount_ksh, cs.fee.varies, cs.fee.paid_online)

    def status(self, ticket_id: str) -> PaymentOut:
        t = self._ticket(ticket_id)
        rows = store.of_ticket(self.centre.reader(), ticket_id)
        return self._out(t, rows)

    def _out(self, t: Ticket, rows: list[PaymentRow]) -> PaymentOut:
        settled = next((r for r in reversed(rows) if r.state in ("paid", "cash", "waived")), None)
        # a fee settled for a service the ticket then left by a transfer is that service's (its amount, its
        # terms), never the new service's: the clerk and the reconciliation see what it was paid for
        paid_for = settled.service_id if settled is not None else t.service_id
        fee = self.fee(paid_for)
        amount = None if fee.varies else fee.amount_ksh
        base: dict[str, Any] = {"ticket_id": t.id, "number": t.number, "service_id": paid_for,
                                "amount_ksh": amount, "fee_varies": fee.varies, "paid_online": fee.online,
                                "attempts": len(rows)}
        base["offer_prompt"] = self._offer_prompt(t, fee, rows)
        if not rows:
            state = PaymentState.not_needed if fee.nothing_here else PaymentState.none
            return PaymentOut(state=state, **base)
        last = rows[-1]
        row = settled or last  # a paid ticket stays paid, whatever a later stray attempt did
        en = sw = None
        if row.state == PaymentState.failed:
            en, sw = failure_reason(row.result_code)
        elif row.state in (PaymentState.cash, PaymentState.waived):
            en = sw = row.reason
        base["amount_ksh"] = row.amount_ksh if row.amount_ksh is not None else amount
        receipt = row.receipt if row.state == PaymentState.paid else None  # a pending one's is not yet confirmed
        to_follow = row.state == PaymentState.paid and row.method == PaymentMethod.mpesa and not receipt
        with self.centre.lock:
            over = day_over(self.centre.state, t.day)
        base["refund_due"] = refund_due(t, settled, over)
        return PaymentOut(state=PaymentState(row.state), method=PaymentMethod(row.method), receipt=receipt,
                          receipt_to_follow=to_follow,
                          phone_masked=("*" * 9 + row.phone[-3:]) if row.phone else None,
                          reason_code=row.result_code if row.state == PaymentState.failed else None,
                          reason_en=en, reason_sw=sw, by=row.by,
                          updated_at=_iso(self.centre, row.updated_at), **base)

    def _offer_prompt(self, t: Ticket, fee: Fee, rows: list[PaymentRow]) -> bool:
        """Would ``start`` send a prompt for this ticket now? (Its refusals, read without asking.) A ticket already
        served is not offered one either: its citizen has left the counter ("pay when called" is past)."""
        return (self.settings.enabled and not fee.nothing_here and not fee.varies and not self.centre.state.closed
                and t.state.value not in (*FINAL_TICKET, "done") and t.day == self.centre.state.day
                and not any(r.state in ("paid", "cash", "waived", "pending") for r in rows)
                and sum(1 for r in rows if r.method == "mpesa") < self.settings.max_attempts_per_ticket)

    def _ticket(self, ticket_id: str) -> Ticket:
        t = self.centre.ticket(ticket_id) if ticket_id else None
        if t is None:
            raise PaymentRefusal(404, "unknown_ticket", "No such ticket", "Tiketi hiyo haipo")
        return t

    # ------------------------------------------------------------------ can a prompt leave?

    def availability(self) -> PaymentsAvailability:
        """Whether a prompt can leave now: payments on, and Daraja answered lately.

        Never held up by Daraja: a stale answer starts a check in the background and waits for it at most
        ``AVAILABILITY_WAIT_S``; a Daraja that accepts the connection and never answers leaves the last known
        answer (or, before any, "out of reach"), so a kiosk asking at start is never stuck on it.
        """
        if not self.settings.enabled:
            en, sw = failure_reason("payments_off")
            return PaymentsAvailability(mpesa=False, reason_code="payments_off", reason_en=en, reason_sw=sw)
        at = self._gateway_at
        if at is None or self.centre.clock() - at >= 4 * self.settings.reach_check_s:
            self._check_in_background().wait(AVAILABILITY_WAIT_S)
        why, at = self._gateway, self._gateway_at
        if at is None:  # Daraja has not answered the first check yet: nobody is offered a prompt meanwhile
            why = "unreachable_gateway"
        en, sw = failure_reason(why) if why is not None else (None, None)
        return PaymentsAvailability(mpesa=why is None, reason_code=why, reason_en=en, reason_sw=sw,
                                    checked_at=_iso(self.centre, at))

    def _check_in_background(self) -> threading.Event:
        """One reachability check in its own thread (none started while one is in flight); set when it ends."""
        with self._checking_lock:
            if self._checking is None:
                done = self._checking = threading.Event()
                threading.Thread(target=self._check_then_tell, args=(done,), name="mpesa-reach", daemon=True).start()
            return self._checking

    def _check_then_tell(self, done: threading.Event) -> None:
        try:
            self.check_gateway()
        except Exception:  # the next question asks again
            logger.exception("checking M-Pesa's reach failed")
        finally:
            with self._checking_lock:
                self._checking = None
            done.set()

    def check_gateway(self) -> bool:
        """Ask Daraja for a fresh OAuth token (nothing charged, no phone rings): is M-Pesa in reach?"""
        if not self.settings.enabled:
            return False
        with self._gateway_lock:
            at = self._gateway_at
            if at is not None and self.centre.clock() - at < 1.0:  # another thread just asked
                return self._gateway is None
            self.client.forget_token()
            try:
                self.client.token(timeout=httpx.Timeout(self.settings.reach_timeout_s,
                                                        connect=min(self.settings.connect_timeout_s,
                                                                    self.settings.reach_timeout_s)))
            except GatewayUnreachable as err:
                logger.warning("M-Pesa out of reach: %s", err)
                self._note_gateway("unreachable_gateway")
            except GatewayRefused as err:
                logger.warning("M-Pesa refuses this centre's credentials: %s", err)
                self._note_gateway("push_refused")
            else:
                self._note_gateway(None)
            return self._gateway is None

    def recheck_gateway(self) -> None:
        """While M-Pesa is out of reach, ask again every ``reach_check_s`` (the settler's rounds call this), so
        the kiosks offer "Pay now" again soon after it returns."""
        at = self._gateway_at
        if self._gateway is not None and (at is None or self.centre.clock() - at >= self.settings.reach_check_s):
            self.check_gateway()

    def _note_gateway(self, why: str | None) -> None:
        if why is None and self._gateway is not None:
            logger.info("M-Pesa reachable again")
        self._gateway, self._gateway_at = why, self.centre.clock()

    # ------------------------------------------------------------------ starting

    def callback_url(self, token: str) -> str:
        base = self.settings.callback_base_url or self.centre.settings.public_url.rstrip("/")
        return f"{base}{CALLBACK_PATH}/{token}"

    def start(self, ticket_id: str, phone: str) -> PaymentOut:
        """Send the M-Pesa prompt for the ticket's fee to ``phone`` (+254…); the amount is the catalogue's.

        Refusals (409 unless said): ``payments_off`` (503: this centre takes no M-Pesa), ``not_needed``
        (free), ``paid_online`` (paid on eCitizen when applying), ``fee_varies`` (pay at the counter),
        ``already_paid``, ``pending`` (a prompt is on a phone now), ``ticket_closed``,
        ``day_closed`` (the manager closed the day), ``too_many_attempts`` (429). A prompt Daraja
        refused, or that could not reach Daraja at all, is recorded as failed and returned (200,
        ``reason_code`` push_refused or unreachable_gateway): nothing was charged, and the citizen may try
        again or pay at the counter.
        """
        if not self.settings.enabled:
            raise PaymentRefusal(503, "payments_off", "M-Pesa payment is not available at this centre: pay at "
                                 "the counter", "Malipo ya M-Pesa hayapatikani hapa: lipa kwenye kaunta")
        t = self._ticket(ticket_id)
        fee = self.fee(t.service_id)
        if fee.free:
            raise PaymentRefusal(409, "not_needed", "This service is free", "Huduma hii ni bure")
        if fee.online:
            raise _paid_online()
        if fee.varies:
            raise PaymentRefusal(409, "fee_varies", "The fee depends on your case: pay at the counter",
                                 "Ada inategemea hali yako: lipa kwenye kaunta")
        if self.centre.state.closed:
            # the day is closed: its reconciliation is made and its phone numbers erased; a prompt now would keep
            # a phone number past the close and bring money the day's figures (and headquarters) never see
            raise PaymentRefusal(409, "day_closed", "Today's queue is closed: no M-Pesa request can be sent now",
                                 "Foleni ya leo imefungwa: ombi la M-Pesa haliwezi kutumwa sasa")
        if t.state.value in FINAL_TICKET or t.day != self.centre.state.day:
            raise PaymentRefusal(409, "ticket_closed", "This ticket is no longer in the queue",
                                 "Tiketi hii haiko tena kwenye foleni")
        with self._lock:
            rows = store.of_ticket(self.centre.db, ticket_id)
            if any(r.state in ("paid", "cash", "waived") for r in rows):
                raise PaymentRefusal(409, "already_paid", "This ticket is already paid", "Tiketi hii imeshalipwa")
            if any(r.state == "pending" for r in rows):
                raise PaymentRefusal(409, "pending", "A payment request is already on a phone: answer it, or "
                                     "wait a few minutes", "Ombi la malipo tayari liko kwenye simu: lijibu, "
                                     "au subiri dakika chache")
            if sum(1 for r in rows if r.method == "mpesa") >= self.settings.max_attempts_per_ticket:
                raise PaymentRefusal(429, "too_many_attempts", "Too many payment requests for this ticket: pay "
                                     "at the counter", "Maombi mengi mno ya malipo kwa tiketi hii: lipa kwenye kaunta")
            now = self.centre.clock()
            token = secrets.token_urlsafe(24)
            row = store.insert(self.centre.db, ticket_id=t.id, day=t.day, service_id=t.service_id, number=t.number,
                               method="mpesa", state="pending", amount_ksh=fee.amount_ksh, phone=phone,
                               account=t.number, callback_token=token, created_at=now, updated_at=now)
        try:
            resp = self.client.stk_push(amount=fee.amount_ksh, phone_msisdn=msisdn(phone), account=t.number,
                                        description=f"Huduma {t.number}", callback_url=self.callback_url(token))
        except GatewayRefused as err:
            logger.warning("STK push for %s refused: %s", t.number, err)
            self._finish(row, "failed", result_code="push_refused", result_desc=str(err)[:500])
            return self.status(ticket_id)
        except GatewayUnreachable as err:
            # nothing reached the phone, so nothing was charged: failed, with the reason, and the citizen may retry
            logger.warning("STK push for %s: M-Pesa out of reach: %s", t.number, err)
            self._note_gateway("unreachable_gateway")
            self._finish(row, "failed", result_code="unreachable_gateway", result_desc=str(err)[:500])
            return self.status(ticket_id)
        self._note_gateway(None)
        store.update(self.centre.db, row.id, merchant_request_id=resp.MerchantRequestID,
                     checkout_request_id=resp.CheckoutRequestID, updated_at=self.centre.clock())
        self._tell(t, "pending", fee.amount_ksh, "mpesa")
        logger.info("STK push for %s: %s KSh, checkout %s", t.number, fee.amount_ksh, resp.CheckoutRequestID)
        return self.status(ticket_id)

    # ------------------------------------------------------------------ at the counter

    def record_at_counter(self, ticket_id: str, method: PaymentMethod, reason: str, by: str) -> PaymentOut:
        """Cash taken, or the fee waived, by a clerk: ``already_paid`` (409) when M-Pesa or cash got there first;
        ``day_closed`` (409) once the day is closed, whose reconciliation has gone to headquarters without it;
        ``paid_online`` (409) for a fee the citizen paid on eCitizen: taking it again would charge twice."""
        t = self._ticket(ticket_id)
        fee = self.fee(t.service_id)
        if fee.online:
            raise _paid_online()
        if self.centre.state.closed:
            # a record now would be missing from the reconciliation already made and sent; reopening the day
            # (the manager) lets it be recorded and the next close counts it
            raise PaymentRefusal(409, "day_closed", "Today's queue is closed and its money counted: ask the "
                                 "manager to reopen the day to record this", "Foleni ya leo imefungwa na pesa "
                                 "zake zimehesabiwa: mwombe meneja afungue siku ili kurekodi hili")
        state = "cash" if method is PaymentMethod.cash else "waived"
        with self._lock:
            rows = store.of_ticket(self.centre.db, ticket_id)
            if any(r.state in ("paid", "cash", "waived") for r in rows):
                raise PaymentRefusal(409, "already_paid", "This ticket is already paid", "Tiketi hii imeshalipwa")
            now = self.centre.clock()
            # a prompt still on the phone is withdrawn from the centre's side: a late success is then unmatched
            for r in rows:
                if r.state == "pending":
                    store.settle(self.centre.db, r.id, state="failed", result_code="expired",
                                 result_desc=f"superseded by {state} at the counter", updated_at=now)
            store.insert(self.centre.db, ticket_id=t.id, day=t.day, service_id=t.service_id, number=t.number,
                         method=method.value, state=state, amount_ksh=None if fee.varies else fee.amount_ksh,
                         reason=reason, by=by, created_at=now, updated_at=now)
        self._tell(t, state, None if fee.varies else fee.amount_ksh, method.value, reason=reason, by=by)
        return self.status(ticket_id)

    # ------------------------------------------------------------------ Daraja's answers

    def callback_known(self, token: str) -> bool:
        """Whether a push carried this callback address (checked before the callback's body is read)."""
        return bool(token) and store.by_token(self.centre.db, token) is not None

    def callback(self, token: str, cb: StkCallback, address: str | None = None) -> str:
        """Daraja's ``Body.stkCallback`` for the push that carried ``token``.

        Returns "accepted" or "duplicate"; raises a 404/409 Refusal (kept in ``payment_refusals``) for a token
        that matches no push, a checkout id not the push's, an amount or phone not the push's, a success the
        STK query does not confirm, or a result that contradicts the one already recorded.
        """
        now = self.centre.clock()
        amount = _int(cb.item("Amount"))
        receipt = _text(cb.item("MpesaReceiptNumber"))
        phone = _text(cb.item("PhoneNumber"))
        db = self.centre.db

        def refuse(status: int, code: str, why: str) -> Refusal:
            logger.warning("M-Pesa callback refused (%s): %s; checkout %s, result %s, amount %s, receipt %s, from %s",
                           code, why, cb.CheckoutRequestID, cb.ResultCode, amount, receipt, address)
            store.refuse(db, now, self.centre.state.day, why, cb.CheckoutRequestID, cb.ResultCode, amount, receipt,
                         phone, address)
            return Refusal(status, code, why)

        row = store.by_token(db, token) if token else None
        if row is None:
            raise refuse(404, "unknown_callback", "no payment request carries this callback address")
        if cb.CheckoutRequestID != row.checkout_request_id and row.checkout_request_id is not None:
            raise refuse(409, "checkout_mismatch", "the callback names another checkout request")
        success = cb.ResultCode == 0
        if success:
            if amount != row.amount_ksh:
                raise refuse(409, "amount_mismatch", f"the callback says {amount} KSh; the request was for "
                                                     f"{row.amount_ksh} KSh")
            if row.phone is not None and phone != msisdn(row.phone):
                raise refuse(409, "phone_mismatch", "the callback names another phone than the request's")
            if not receipt:
                raise refuse(409, "no_receipt", "a success without an M-Pesa receipt number")
        with self._lock:
            row = store.by_id(db, row.id) or row
            if row.state == "paid" and success and row.receipt is None and row.method == "mpesa":
                # settled by the query (which carries no receipt); the late callback brings the receipt number
                store.update(db, row.id, receipt=receipt, updated_at=now)
                t = self.centre.ticket(row.ticket_id)
                if t is not None:
                    self._tell(t, "paid", row.amount_ksh, "mpesa", receipt=receipt)
                return "accepted"
            if row.state == "failed" and row.result_code == "expired" and success:
                # the centre gave up waiting (or the clerk took cash meanwhile), yet the citizen paid: money moved,
                # so it is recorded once the query agrees (a double payment then shows in the reconciliation)
                if self.settings.verify_with_query and self._query(row) != "0":
                    raise refuse(409, "query_disagrees", "a late success the STK query does not confirm")
                store.update(db, row.id, state="paid", receipt=receipt, result_code="0",
                             result_desc=cb.ResultDesc[:500], updated_at=now)
                t = self.centre.ticket(row.ticket_id)
                if t is not None:
                    self._tell(t, "paid", row.amount_ksh, "mpesa", receipt=receipt)
                logger.warning("late M-Pesa payment for %s recorded after the prompt had expired", row.number)
                return "accepted"
            if row.state != "pending":
                same = (row.state == "paid") == success and (not success or row.receipt == receipt)
                if same:
                    logger.info("duplicate M-Pesa callback for %s (checkout %s): already %s",
                                row.number, cb.CheckoutRequestID, row.state)
                    return "duplicate"
                raise refuse(409, "contradicts_record", f"the payment is already {row.state}")
            if success and self.settings.verify_with_query and row.checkout_request_id:
                verdict = self._query(row)
                if verdict is None:
                    # Daraja has no result yet (or is out of reach): keep the receipt, believe it only once the
                    # settler's query says 0; a forged "success" sent before the citizen answered stays pending
                    store.update(db, row.id, receipt=receipt, updated_at=now)
                    logger.info("M-Pesa success for %s kept until an STK query confirms it", row.number)
                    return "accepted"
                if verdict != "0":
                    raise refuse(409, "query_disagrees", f"the STK query says ResultCode {verdict}")
            if success:
                self._finish(row, "paid", receipt=receipt, result_code="0", result_desc=cb.ResultDesc[:500])
            else:
                self._finish(row, "failed", result_code=str(cb.ResultCode), result_desc=cb.ResultDesc[:500])
        return "accepted"

    def _query(self, row: PaymentRow) -> str | None:
        """Daraja's ResultCode for the row's push, or None when Daraja is still waiting or out of reach."""
        try:
            q = self.client.stk_query(row.checkout_request_id or "")
        except (GatewayUnreachable, GatewayRefused) as err:
            logger.warning("STK query for %s failed: %s", row.number, err)
            if isinstance(err, GatewayUnreachable):
                self._note_gateway("unreachable_gateway")
            return None
        finally:
            store.update(self.centre.db, row.id, queried_at=self.centre.clock(), queries=row.queries + 1)
        self._note_gateway(None)
        return None if q is None else q.ResultCode

    def settle_late(self) -> int:
        """Ask Daraja about pushes whose callback is late or lost; give up on those too old. Returns how many
        were settled. Run by the settler thread (``PaymentsExtension``)."""
        now = self.centre.clock()
        settled = 0
        for row in store.pending_before(self.centre.db, now - self.settings.query_after_s):
            if row.queried_at is not None and now - row.queried_at < self.settings.poll_every_s:
                continue
            code = self._query(row) if row.checkout_request_id else None
            with self._lock:
                fresh = store.by_id(self.centre.db, row.id)
                if fresh is None or fresh.state != "pending":
                    continue  # the callback came meanwhile
                if code == "0":
                    # the query carries no receipt number: the callback's, if one came; else it is in M-Pesa's
                    # statement (the payment is real either way)
                    self._finish(fresh, "paid", receipt=fresh.receipt, result_code="0",
                                 result_desc="confirmed by STK query")
                elif code is not None:  # a receipt a callback brought is not believed: the query's word stands
                    self._finish(fresh, "failed", receipt=None, result_code=code, result_desc="settled by STK query")
                elif now - row.created_at >= self.settings.expire_after_s:
                    self._finish(fresh, "failed", result_code="expired", result_desc="no answer from M-Pesa")
                else:
                    continue
            settled += 1
        return settled

    # ------------------------------------------------------------------ telling everyone

    def _finish(self, row: PaymentRow, state: str, **values: Any) -> None:
        if not store.settle(self.centre.db, row.id, state=state, updated_at=self.centre.clock(), **values):
            return
        t = self.centre.ticket(row.ticket_id)
        if t is not None:
            self._tell(t, state, row.amount_ksh, row.method, receipt=values.get("receipt"),
                       reason=values.get("result_code") if state == "failed" else None)

    def _tell(self, t: Ticket, state: str, amount: int | None, method: str, *, receipt: str | None = None,
              reason: str | None = None, by: str | None = None) -> None:
        """The engine's event, so the clerk's screen, the citizen's page and MQTT hear it (best effort: the
        table already holds the truth, and a ticket of a closed day is no longer in the engine)."""
        try:
            self.centre.execute(RecordPayment(ticket_id=t.id, state=state, amount_ksh=amount, method=method,
                                              receipt=receipt, reason=reason, by=by))
        except QueueError as err:
            logger.info("payment of %s recorded, not announced: %s", t.number, err)


def _paid_online() -> PaymentRefusal:
    """A fee paid on eCitizen when applying: the queue never asks for it again."""
    return PaymentRefusal(409, "paid_online", "This fee is paid on eCitizen when you apply: bring the receipt",
                          "Ada hii hulipwa kwenye eCitizen unapoomba: leta risiti")


def _iso(centre: Centre, ts: float | None) -> str | None:
    d = centre.iso(ts)
    return d.isoformat() if d is not None else None


def _int(v: Any) -> int | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f == int(f) else None


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, bool):
        return None
    s = str(v).strip()
    return s[:40] or None


__all__ = ["CALLBACK_PATH", "STILL_PROCESSING", "Fee", "PaymentRefusal", "Payments"]
