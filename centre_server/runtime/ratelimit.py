"""Rate limits: a token bucket per key (device, phone number, client address).

In memory: limits protect a running server from a stuck kiosk or a script on
the LAN. A per-minute limit need not survive a restart (it refills in the time a
restart takes). The one hourly limit kept only here that guards money, the
tickets per phone number (each sends its citizen an SMS), is spent again at
start-up from the day's tickets (``Limits.remember_issued``), so a server in a
crash loop does not hand a phone a fresh hour at every start. The other limits
on SMS count from the database already (bookings per phone and hour, remote
tickets per phone and day, manager alerts per phone and hour, M-Pesa prompts
per ticket).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
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

    def replay(self, key: str, ages_s: Iterable[float]) -> None:
        """Spend again what was spent ``age`` seconds ago, before this limiter existed (a restart)."""
        now = self.clock()
        with self.lock:
            tokens, last = float(self.rate), None
            for at in sorted(now - age for age in ages_s):
                if last is not None:
                    tokens = min(float(self.rate), tokens + (at - last) * self.rate / self.per)
                tokens, last = max(0.0, tokens - 1.0), at
            if last is not None:
                self.buckets[key] = (tokens, last)

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

    def remember_issued(self, issued: Iterable[tuple[str, float]], now: float) -> None:
        """At start-up: the (phone, issued at) of the day's tickets spend the per-phone limit again (within its
        window), so a restart, or a crash loop, never gives a phone more ticket SMS than the hour allows."""
        window = self.issue_phone.per
        ages: dict[str, list[float]] = {}
        for phone, at in issued:
            if 0 <= now - at < window:
                ages.setdefault(phone, []).append(now - at)
        for phone, spent in ages.items():
            self.issue_phone.replay(phone, spent)
        if ages:
            logger.info("per-phone ticket limit: %d phone(s) keep what they spent in the last hour", len(ages))
