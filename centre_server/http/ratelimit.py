"""Rate limits: a token bucket per key (device, phone number, client address).

In memory: limits protect a running server from a stuck kiosk or a script on
the LAN; they need not survive a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

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
