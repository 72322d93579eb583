"""The payments part of the server: the ``Payments`` of the running centre and the settler thread.

The settler asks Daraja (STK query) about every push whose callback is late or lost, so a payment is
settled even when the callback never reaches the centre (a LAN nobody outside can reach, a relay down).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.routing import Mount

from centre_server.config import CentreSettings, ConfigError
from centre_server.payments.core import Payments
from centre_server.payments.settings import (
    PaymentConfigError,
    PaymentSettings,
    load_payment_settings,
    placeholder_refusal,
)
from centre_server.runtime.ratelimit import RateLimiter

if TYPE_CHECKING:
    from centre_server.runtime.centre import Centre

logger = logging.getLogger(__name__)

_ATTACHED: weakref.WeakKeyDictionary[Centre, Payments] = weakref.WeakKeyDictionary()


def attached(centre: Centre) -> Payments | None:
    """The running centre's payments (for the channels' USSD, in-process); None when the part is not running."""
    return _ATTACHED.get(centre)


class PaymentsExtension:
    name = "payments"
    on_committed = None

    def __init__(self, settings: CentreSettings, payment_settings: PaymentSettings | None = None) -> None:
        try:
            self.settings = payment_settings or load_payment_settings(settings.directory)
        except PaymentConfigError as err:
            raise ConfigError(str(err)) from None
        why = placeholder_refusal(self.settings, bool(getattr(settings, "demo", False)))
        if why is not None:
            raise ConfigError(why)
        self.payments: Payments | None = None
        # prompts started per caller (a kiosk, a clerk, a citizen's address): a script on the LAN meets a 429;
        # each ticket is capped on its own (max_attempts_per_ticket), so no phone is flooded
        self.limiter = RateLimiter(60, 60.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        self.payments = Payments(centre, self.settings)
        _ATTACHED[centre] = self.payments
        if self.settings.enabled:
            self._stop.clear()
            self._thread = threading.Thread(target=self._settle_loop, name="payments-settler", daemon=True)
            self._thread.start()
            logger.info("M-Pesa payments on, through %s", self.settings.base_url)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self.payments is not None:
            _ATTACHED.pop(self.payments.centre, None)
            self.payments.client.close()

    def _settle_loop(self) -> None:
        """Settle late pushes; and know whether M-Pesa is in reach from the start, asking again while it is not
        (the kiosks read it through ``GET /api/v1/payments/availability`` and offer "Pay now" only then)."""
        self._check_gateway(first=True)
        while not self._stop.wait(self.settings.poll_every_s):
            payments = self.payments
            if payments is None:
                return
            self._check_gateway()
            try:
                n = payments.settle_late()
                if n:
                    logger.info("settled %s late M-Pesa payments by STK query", n)
            except Exception:  # one bad round must not end the settling of the day's payments
                logger.exception("settling late M-Pesa payments failed")

    def _check_gateway(self, first: bool = False) -> None:
        payments = self.payments
        if payments is None:
            return
        try:
            if first:
                payments.check_gateway()
            else:
                payments.recheck_gateway()
        except Exception:  # a bad answer is logged; the next round asks again
            logger.exception("checking M-Pesa's reach failed")
