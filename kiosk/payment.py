"""Paying the fee by M-Pesa at the kiosk (issue 20): ask, send the prompt, print what came of it.

When the chosen service has a fee (not free, not "varies"), the citizen chooses "Pay now with
M-Pesa" (their phone number, on a keypad) or "Pay at the counter". Paying now issues the ticket
as usual, then asks the centre server to send the prompt (``POST /tickets/{id}/payment``: the
server takes the amount from the catalogue, the kiosk never sends one) and waits a short while
for the answer, with "Print now, pay later" always on screen: the next citizen is waiting. The
paper then says the receipt number, or that the payment is pending or failed and may be made at
the counter. The clerk sees the same state live whatever happens at the kiosk.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty, OptionProperty, StringProperty
from kivy.utils import escape_markup

from centre_server.contract import TicketOut
from centre_server.contract.catalogue import CatalogueService
from centre_server.contract.payments import PaymentOut, PaymentState
from centre_server.contract.phone import compact_phone, phone_is_valid
from kiosk.api import ApiError, Unreachable
from kiosk.i18n import tr
from kiosk.model import phone_display, phone_keyed
from kiosk.screens import KioskScreen, PhoneEntryScreen

logger = logging.getLogger(__name__)

PAY_SCREENS = ("pay_choice", "pay_phone", "paying")
# How long the kiosk waits for M-Pesa's answer before printing "pending" by itself. A citizen
# who has the prompt usually answers in 10-30 s; Safaricom's prompt itself lapses after about a
# minute, but the next citizen should not wait that long: the clerk sees a late answer anyway.
PAY_WAIT_S = 45.0
POLL_S = 2.0
# Whether the centre can send a prompt at all (``[payments]`` on, M-Pesa in reach) is asked at start, on every
# reconnect and this often (``GET /payments/availability``): "Pay now" is offered only while the answer is yes.
AVAILABILITY_RECHECK_S = 60.0
# Why the server would not send the prompt, in the kiosk's words (the receipt's line adds "pay at the counter").
REFUSAL_WORDS = {"payments_off": "pay_reason_off", "gateway_unreachable": "pay_reason_unreachable",
                 "too_many_attempts": "pay_reason_too_many", "rate_limited": "pay_reason_too_many",
                 "fee_varies": "pay_reason_varies", "paid_online": "pay_reason_online"}


def fee_to_push(service: CatalogueService | None) -> int | None:
    """The amount a prompt would ask for, or None when there is nothing to push (free, paid on eCitizen when
    applying, the amount varies with the case, or the kiosk does not know the catalogue): then no question is asked."""
    if service is None or not service.fee.due_here or service.fee.varies:
        return None
    return service.fee.amount_ksh


class KioskPayment(EventDispatcher):
    """This citizen's payment: their choice, the phone for the prompt, and what M-Pesa said."""

    choice = OptionProperty("", options=["", "mpesa", "counter"])
    phone = StringProperty("")  # as typed; compacted when sent
    amount_ksh = NumericProperty(0)
    # "" (nothing yet), starting (asking the server), pending (prompt on the phone), paid, failed,
    # later (the citizen printed before an answer, or the wait ran out), error (the server refused)
    state = StringProperty("")
    receipt = StringProperty("")
    # paid, settled by M-Pesa's query whose answer has no receipt number: it comes later (the ticket's page)
    to_follow = BooleanProperty(False)
    reason_en = StringProperty("")
    reason_sw = StringProperty("")
    invalid = BooleanProperty(False)  # the phone typed is not a Kenyan mobile number
    left_s = NumericProperty(0)  # seconds before the kiosk prints by itself

    def reset(self) -> None:
        self.choice = ""
        self.phone = self.state = self.receipt = self.reason_en = self.reason_sw = ""
        self.to_follow = False
        self.amount_ksh = 0
        self.invalid = False
        self.left_s = 0

    def reason(self, language: str) -> str:
        return (self.reason_sw if language == "sw" else self.reason_en) or tr("pay_failed_other", language)

    def apply(self, out: PaymentOut) -> None:
        """The server's word on the payment (the kiosk's own "later" stays until something is settled)."""
        if out.state == PaymentState.paid:
            self.receipt = out.receipt or ""  # before the state: screens redraw on the state
            self.to_follow = out.receipt_to_follow
            self.state = "paid"
        elif out.state == PaymentState.failed:
            self.reason_en, self.reason_sw = out.reason_en or "", out.reason_sw or ""
            self.state = "failed"
        elif out.state in (PaymentState.cash, PaymentState.waived, PaymentState.not_needed):
            self.state = "paid"
        elif out.state == PaymentState.pending and self.state in ("", "starting"):
            self.state = "pending"

    def lines(self, language: str) -> list[str]:
        """What the paper and the ticket screen say about the fee (nothing when it was not asked)."""
        amount = f"{int(self.amount_ksh):,}"
        if self.choice == "counter":
            return [tr("pay_print_at_counter", language, amount=amount)]
        if self.choice != "mpesa":
            return []
        if self.state == "paid":
            receipt = [tr("pay_print_receipt", language, receipt=self.receipt)] if self.receipt else \
                [tr("pay_print_to_follow", language)] if self.to_follow else []
            return [tr("pay_print_paid", language), *receipt]
        if self.state == "failed":
            return [tr("pay_print_failed", language, reason=self.reason(language))]
        return [tr("pay_print_pending", language, amount=amount)]


class PaymentFlow:
    """The kiosk's part of paying: which screen comes next, the prompt, the wait, and the paper's words."""

    def __init__(self, app: Any) -> None:  # the KioskApp (not imported: kiosk.ui imports this module)
        self.app = app
        self.state = KioskPayment()
        self._deadline = 0.0
        self._ticket: TicketOut | None = None
        self._poll_ev = None
        self._polling = False
        # the centre's word on M-Pesa: True offers "Pay now"; False (off, out of reach) or None (not known
        # yet, or the server is out of reach) does not: nobody types a phone for a prompt that cannot leave
        self.mpesa: bool | None = None
        self._asking = False

    # -- the journey ---------------------------------------------------------------
    def asks(self) -> bool:
        """After priority: does this service's fee get the "pay now or at the counter" question?"""
        m = self.app.model
        amount = fee_to_push(m.needs_of(m.service_id))
        self.state.reset()
        if amount is None or not self.mpesa:
            return False
        self.state.amount_ksh = amount
        return True

    def after_choice(self) -> None:
        """On to what the journey asked before payments existed: the SMS phone, or the confirmation."""
        self.app.go("phone" if self.app.kconfig.kiosk.ask_phone else "confirm")

    def pay_at_counter(self) -> None:
        self.state.choice = "counter"
        self.after_choice()

    def pay_now(self) -> None:
        self.state.choice = ""
        self.state.invalid = False
        self.app.go("pay_phone")

    def key(self, key: str) -> None:
        self.state.invalid = False
        self.state.phone = phone_keyed(self.state.phone, key)

    def phone_done(self) -> None:
        p = self.state
        if not phone_is_valid(p.phone):
            p.invalid = True
            return
        p.choice = "mpesa"
        m = self.app.model
        if not m.phone:  # the SMS screen offers the same number; the citizen may still skip it
            m.phone = p.phone
        self.after_choice()

    def back_from_confirm(self) -> str:
        """Where "Back" on the confirmation goes."""
        if self.app.kconfig.kiosk.ask_phone:
            return "phone"
        if self.state.choice == "mpesa":
            return "pay_phone"
        return "pay_choice" if self.state.choice else "priority"

    # -- can a prompt leave? -----------------------------------------------------------
    def refresh(self, *_a: object) -> None:
        """Ask the centre whether a prompt can leave now (at start, on reconnecting, every AVAILABILITY_RECHECK_S)."""
        if self._asking:
            return
        self._asking = True
        self.app.executor.submit(self._availability_worker)

    def _availability_worker(self) -> None:
        mpesa: bool | None
        try:
            out = self.app.api.payments_availability()
            mpesa = out.mpesa
            if not mpesa:
                logger.info("no M-Pesa at this centre now (%s): pay at the counter", out.reason_code)
        except ApiError as exc:  # a server without the payments part: nothing to pay by M-Pesa here
            logger.info("payments availability: %s", exc)
            mpesa = False
        except Unreachable as exc:  # asked again on reconnecting
            logger.info("payments availability not read: %s", exc)
            mpesa = None
        except Exception:
            logger.exception("payments availability failed")
            mpesa = None

        def apply(_dt: float) -> None:
            self._asking = False
            if mpesa != self.mpesa:
                logger.info("M-Pesa at the kiosk: %s", {True: "offered", False: "not offered", None: "unknown"}[mpesa])
            self.mpesa = mpesa

        Clock.schedule_once(apply, 0)

    # -- after the ticket ------------------------------------------------------------
    def wants_push(self) -> bool:
        return self.state.choice == "mpesa" and bool(self.state.phone)

    def start(self, ticket: TicketOut) -> None:
        """The ticket is issued: ask for the prompt, show "check your phone", wait a short while."""
        p = self.state
        self._ticket = ticket
        p.state = "starting"
        self._deadline = time.monotonic() + PAY_WAIT_S
        p.left_s = int(PAY_WAIT_S)
        self.app.go("paying")
        phone = compact_phone(p.phone)
        self.app.executor.submit(self._start_worker, ticket.id, phone)
        self._poll_ev = Clock.schedule_interval(self._tick, 0.5)

    def _start_worker(self, ticket_id: str, phone: str) -> None:
        try:
            out = self.app.api.start_payment(ticket_id, phone)
        except ApiError as exc:
            logger.warning("payment not started for %s: %s", ticket_id, exc)
            Clock.schedule_once(lambda _dt, e=exc: self._refused(e), 0)
            return
        except Unreachable as exc:
            logger.warning("payment not started, server unreachable: %s", exc)
            Clock.schedule_once(lambda _dt: self._refused(None), 0)
            return
        except Exception:
            logger.exception("payment start failed")
            Clock.schedule_once(lambda _dt: self._refused(None), 0)
            return
        Clock.schedule_once(lambda _dt: self._answered(out), 0)

    def _refused(self, exc: ApiError | None) -> None:
        p = self.state
        if self._ticket is None:
            return
        if exc is not None and exc.code == "payments_off":
            logger.warning("the centre takes no M-Pesa now: not asking until it says it does")
            self.mpesa = False
        if exc is not None and exc.code == "already_paid":
            p.state = "paid"
        else:
            # the kiosk's own short words: the server's sentences already end in "pay at the counter"
            key = REFUSAL_WORDS.get(exc.code if exc is not None else "", "pay_failed_other")
            p.reason_en, p.reason_sw = tr(key, "en"), tr(key, "sw")
            p.state = "failed"
        self._settled()

    def _answered(self, out: PaymentOut) -> None:
        if self._ticket is None:
            return
        self.state.apply(out)
        if out.reason_code == "unreachable_gateway":  # the next citizen is not asked until M-Pesa is back
            self.mpesa = False
        if self.state.state in ("paid", "failed"):
            self._settled()

    def _tick(self, _dt: float) -> None:
        if self._ticket is None:
            return
        now = time.monotonic()
        self.state.left_s = max(0, int(self._deadline - now + 0.99))
        if now >= self._deadline:
            logger.info("no M-Pesa answer for %s in %.0f s: printing as pending", self._ticket.number, PAY_WAIT_S)
            self.state.state = "later"
            self._settled()
            return
        if self.state.state == "pending" and not self._polling:
            self._polling = True
            self.app.executor.submit(self._poll_worker, self._ticket.id)

    def _poll_worker(self, ticket_id: str) -> None:
        time.sleep(POLL_S)
        out: PaymentOut | None = None
        try:
            out = self.app.api.payment(ticket_id)
        except (ApiError, Unreachable) as exc:  # the next poll tries again; the deadline still holds
            logger.info("payment state not read: %s", exc)

        def apply(_dt: float) -> None:
            self._polling = False
            if out is not None and self._ticket is not None and self._ticket.id == ticket_id:
                self._answered(out)

        Clock.schedule_once(apply, 0)

    def print_now(self) -> None:
        """"Print now, pay later": the citizen stops waiting; the prompt on their phone still counts."""
        if self._ticket is None:
            return
        logger.info("print now, pay later: %s", self._ticket.number)
        if self.state.state not in ("paid", "failed"):
            self.state.state = "later"
        self._settled()

    def _settled(self) -> None:
        """Print the ticket with the payment's words, once, and show it."""
        ticket, self._ticket = self._ticket, None
        if self._poll_ev is not None:
            self._poll_ev.cancel()
            self._poll_ev = None
        if ticket is None:
            return
        logger.info("payment of %s: %s %s", ticket.number, self.state.state, self.state.receipt)
        self.app.print_issued(ticket)

    def cancel(self) -> None:
        """The next citizen: nothing of this one's payment stays (the server keeps the record)."""
        if self._poll_ev is not None:
            self._poll_ev.cancel()
            self._poll_ev = None
        self._ticket = None
        self.state.reset()

    # -- words ------------------------------------------------------------------------
    def screen_line(self, language: str, *_deps: object) -> str:
        """The ticket screen's line about the fee (empty when it was not asked)."""
        p = self.state
        if p.choice == "counter":
            line = tr("pay_screen_counter", language, amount=f"{int(p.amount_ksh):,}")
        elif p.choice != "mpesa":
            return ""
        elif p.state == "paid" and not p.receipt and p.to_follow:
            line = tr("pay_screen_paid_to_follow", language)
        elif p.state == "paid":
            line = tr("pay_screen_paid", language, receipt=p.receipt or "-")
        elif p.state == "failed":
            line = tr("pay_screen_failed", language, reason=escape_markup(p.reason(language)))
        else:
            line = tr("pay_screen_pending", language)
        return "\n" + line

    def confirm_line(self, language: str, *_deps: object) -> str:
        """The confirmation's row about the fee: how the citizen chose to pay."""
        p = self.state
        amount = f"{int(p.amount_ksh):,}"
        if p.choice == "mpesa":
            return "\n" + tr("pay_confirm_mpesa", language, amount=amount, phone=phone_display(p.phone))
        if p.choice == "counter":
            return "\n" + tr("pay_confirm_counter", language, amount=amount)
        return ""

    def paying_text(self, language: str, *_deps: object) -> str:
        p = self.state
        if p.state == "starting":
            return tr("pay_starting", language)
        if p.state == "paid" and not p.receipt and p.to_follow:
            return tr("pay_done_to_follow", language)
        if p.state == "paid":
            return tr("pay_done", language, receipt=p.receipt)
        if p.state == "failed":
            return tr("pay_failed", language, reason=escape_markup(p.reason(language)))
        return tr("pay_check_phone", language, amount=f"{int(p.amount_ksh):,}")


class PayChoiceScreen(KioskScreen):
    """"Pay now with M-Pesa" or "Pay at the counter", with the fee in large type."""

    def fee_text(self, language: str, *_deps: object) -> str:
        return tr("pay_fee", language, amount=f"{int(self.app.pay.state.amount_ksh):,}")


class PayPhoneScreen(PhoneEntryScreen):
    """The phone that gets the M-Pesa prompt (the citizen's own, usually): the SMS phone's keypad, not optional."""

    def key(self, key: str) -> None:
        self.app.pay.key(key)

    def clear(self) -> None:
        self.app.payment.phone = ""
        self.app.payment.invalid = False

    def done(self) -> None:
        self.app.pay.phone_done()

    def back(self) -> None:
        self.app.go("pay_choice")


class PayingScreen(KioskScreen):
    """"Check your phone and enter your M-Pesa PIN": the number, a countdown, "Print now, pay later"."""


PAY_SCREEN_CLASSES = {"pay_choice": PayChoiceScreen, "pay_phone": PayPhoneScreen, "paying": PayingScreen}
