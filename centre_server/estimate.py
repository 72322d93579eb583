"""Estimated wait: the queue-length predictor, learning service times from the centre.

For a ticket with ``n`` people ahead at a service served by ``s`` counters
(each shared counter counted by its share) with mean service time ``1/μ``, the
classical M/M/s estimate once every counter is busy is E[W | n] = (n + 1) / (sμ).
Service times are learned online (an exponentially weighted mean per service,
started from the menu's typical time), so no oracle parameter is needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from centre_server.contract import CounterState

if TYPE_CHECKING:
    from centre_server.engine import State

logger = logging.getLogger(__name__)

MIN_SERVICE_S = 10.0
MAX_SERVICE_S = 4 * 3600.0


@dataclass
class WaitPredictor:
    alpha: float = 0.1  # weight of the newest observation
    mean_service_s: dict[str, float] = field(default_factory=dict)
    observed: dict[str, int] = field(default_factory=dict)

    def prime(self, service_id: str, typical_s: float) -> None:
        self.mean_service_s.setdefault(service_id, max(MIN_SERVICE_S, float(typical_s)))

    def observe(self, service_id: str, duration_s: float, counter_id: str | None = None) -> None:
        """One finished service: move the service's mean towards it."""
        d = min(MAX_SERVICE_S, max(MIN_SERVICE_S, duration_s))
        n = self.observed.get(service_id, 0)
        old = self.mean_service_s.get(service_id, d)
        # average plainly over the first observations, then forget slowly
        a = max(self.alpha, 1.0 / (n + 1)) if n < 10 else self.alpha
        self.mean_service_s[service_id] = old + a * (d - old)
        self.observed[service_id] = n + 1

    def estimate(self, state: "State", service_id: str, ahead: int, now: float) -> int:
        mean = self.mean_service_s.get(service_id, 600.0)
        servers = 0.0
        free = 0
        for c in state.counters.values():
            if service_id not in c.services or c.state != CounterState.open:
                continue
            servers += 1.0 / max(1, len(c.services))
            if c.ticket_id is None:
                free += 1
        if servers == 0.0:
            # nobody serves it now: assume the counters assigned to it will open
            assigned = sum(1.0 / max(1, len(c.services))
                           for c in state.counters.values() if service_id in c.services)
            servers = assigned or 1.0
        if ahead < free:
            return 0
        return int(round((ahead - free + 1) * mean / servers))
