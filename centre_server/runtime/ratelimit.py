"""Rate limits: a token bucket per key (device, phone number, client address).

In memory: limits protect a running server from a stuck kiosk or a script on
the LAN; they need not survive a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from centre_server.config import SecuritySettings

logger = logging.getLogger(__name__)


class RateLimiter:
    """``allow(key)`` spends one token; ``rate`` tokens come back every ``per`` seconds, up to ``rate``."""

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 50_000) -> None:
        self.rate, self.per, self.clock, self.max_keys = rate, per, clock, max_keys
        self.buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self.lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0.0 when allowed, else the seconds to wait before trying again."""
        now = self.clock()
        with self.lock:
            tokens, last = self.buckets.get(key, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate / self.per)
            if tokens >= 1.0:
                self.buckets[key] = (tokens - 1.0, now)
                if len(self.buckets) > self.max_keys:
                    self._forget_full(now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1.0 - tokens) * self.per / self.rate

    def _forget_full(self, now: float) -> None:
        for key, (tokens, last) in list(self.buckets.items()):
            if tokens + (now - last) * self.rate / self.per >= self.rate:
                del self.buckets[key]


CHECK_IN_PER_DEVICE_PER_MIN = 20  # a kiosk checks in a citizen every few seconds at most
CHECK_IN_PER_PREFIX_PER_MIN = 30  # codes sharing their first 3 digits, from every device together


@dataclass(frozen=True)
class Limits:
    """Every rate limit of the app, one field each: a misspelt limit is an error, not a limit that never bites."""

    issue_device: RateLimiter  # tickets per kiosk or clerk
    issue_phone: RateLimiter  # tickets per phone number
    login_client: RateLimiter  # logins per client address
    citizen_client: RateLimiter  # ticket reads per client address (the API)
    citizen_pages: RateLimiter  # citizen pages per client address (/t/, /join, /book)
    book_address: RateLimiter  # POST /book per client address: each try may send an SMS to someone
    check_in_device: RateLimiter  # kiosk check-ins per device
    check_in_prefix: RateLimiter  # check-in codes sharing their first three digits, from every device

    @classmethod
    def for_centre(cls, security: SecuritySettings, book_per_address_per_hour: int) -> Limits:
        """The limits of ``[security]``, and the channels' ``book_per_address_per_hour``."""
        return cls(
            issue_device=RateLimiter(security.issue_per_device_per_minute, 60.0),
            issue_phone=RateLimiter(security.issue_per_phone_per_hour, 3600.0),
            login_client=RateLimiter(security.login_per_minute, 60.0),
            citizen_client=RateLimiter(security.citizen_per_minute, 60.0),
            citizen_pages=RateLimiter(security.citizen_per_minute, 60.0),
            book_address=RateLimiter(book_per_address_per_hour, 3600.0),
            check_in_device=RateLimiter(CHECK_IN_PER_DEVICE_PER_MIN, 60.0),
            check_in_prefix=RateLimiter(CHECK_IN_PER_PREFIX_PER_MIN, 60.0),
        )
