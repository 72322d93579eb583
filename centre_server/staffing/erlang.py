"""The first cut of counters: Erlang C (no one leaves the queue), pure arithmetic.

A group of services that share counters is one queue of ``n`` counters with
offered load ``a = arrivals per second x mean service time`` (in erlangs). The share
of citizens called within ``t`` seconds is ``1 - C(n, a) exp(-(n - a) t / s)``.
Citizens who give up make the real queue shorter than Erlang C's, and service
times vary less than an exponential's, so the cut is on the safe side; the replay
through the engine (``plan``) corrects it.
"""

from __future__ import annotations

import math


def erlang_c(n: int, a: float) -> float:
    """The chance an arrival waits at all, with ``n`` counters and ``a`` erlangs (1 when n <= a)."""
    if a <= 0:
        return 0.0
    if n <= a:
        return 1.0
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return n * b / (n - a * (1 - b))


def service_level(n: int, arrivals_per_s: float, service_s: float, target_s: float) -> float:
    """The share called within ``target_s``: 1 - C(n, a) e^{-(n - a) t / s}."""
    a = arrivals_per_s * service_s
    if a <= 0:
        return 1.0
    if n <= a:
        return 0.0
    return 1.0 - erlang_c(n, a) * math.exp(-(n - a) * target_s / service_s)


def counters_needed(arrivals_per_s: float, service_s: float, target_s: float, share: float,
                    most: int | None = None) -> int:
    """The fewest counters that meet ``share`` within ``target_s`` (at most ``most``); 0 when nobody comes."""
    if arrivals_per_s <= 0:
        return 0
    n = max(1, math.floor(arrivals_per_s * service_s) + 1)
    while service_level(n, arrivals_per_s, service_s, target_s) < share:
        n += 1
        if most is not None and n >= most:
            return most
    return n if most is None else min(n, most)
