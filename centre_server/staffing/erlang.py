"""The first cut of counters: Erlang C (no one leaves the queue) and Erlang A (citizens give up).

A group of services that share counters is one queue of ``n`` counters with
offered load ``a = arrivals per second x mean service time`` (in erlangs). The share
of citizens called within ``t`` seconds is ``1 - C(n, a) exp(-(n - a) t / s)``.
Citizens who give up make the real queue shorter than Erlang C's: Erlang A takes
their patience into account. Service times vary less than an exponential's, so
either cut is on the safe side; the replay through the engine (``plan``) corrects it.
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


def erlang_c_service_level(n: int, arrivals_per_s: float, service_s: float, target_s: float) -> float:
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
    while erlang_c_service_level(n, arrivals_per_s, service_s, target_s) < share:
        n += 1
        if most is not None and n >= most:
            return most
    return n if most is None else min(n, most)


def erlang_a_service_level(n: int, arrivals_per_s: float, service_s: float, target_s: float,
                           patience_s: float | None) -> float:
    """Erlang A (M/M/n+M): the share of citizens who, staying, would be called within ``target_s``.

    Citizens give up after an exponential patience of mean ``patience_s`` (None or 0: nobody does,
    and this is Erlang C). Numerically: the queue's steady state (a birth-death chain, cut where
    its tail is negligible) says how many wait ahead of a newcomer; each moves them up one place at
    rate n/s plus the rate at which those still ahead give up, and the chance of reaching a
    counter within the target is read off that pure-death chain's transient (a matrix exponential
    applied to a vector, scipy's ``expm_multiply``).
    """
    if not patience_s:
        return erlang_c_service_level(n, arrivals_per_s, service_s, target_s)
    if arrivals_per_s <= 0:
        return 1.0
    if n <= 0:
        return 0.0
    import numpy as np
    from scipy.sparse import diags
    from scipy.sparse.linalg import expm_multiply

    lam, mu, theta = arrivals_per_s, 1.0 / service_s, 1.0 / patience_s
    # steady state of the number in the centre: p(k+1)/p(k) = lam / death(k+1); abandonment makes it stable
    probs = [1.0]
    k = 0
    while True:
        k += 1
        death = min(k, n) * mu + max(k - n, 0) * theta
        probs.append(probs[-1] * lam / death)
        if probs[-1] > 1e250:  # an overloaded centre with patient citizens: keep the numbers finite
            probs = [x * 1e-250 for x in probs]
        if k > n and probs[-1] < 1e-12 * max(probs) or k > n + 2000:
            break
    p = np.array(probs) / sum(probs)
    if not np.all(np.isfinite(p)):
        return 0.0
    waiting = p[n:]  # a newcomer finding k >= n in the centre has k - n ahead of them in the queue
    if waiting.sum() <= 0:
        return 1.0
    m = len(waiting)
    rates = n * mu + theta * np.arange(m)  # leaving "m ahead" (to m - 1, or to a counter from 0)
    # p'(t) = Q p: mass flows from "j ahead" to "j - 1 ahead"; out of "0 ahead" to a counter
    q = diags([-rates, rates[1:]], [0, 1], shape=(m, m), format="csc")
    left = float(expm_multiply(q * target_s, waiting).sum())
    return 0.0 if not math.isfinite(left) else min(1.0, max(0.0, 1.0 - left))


def counters_needed_a(arrivals_per_s: float, service_s: float, target_s: float, share: float,
                      patience_s: float | None, most: int | None = None) -> int:
    """The fewest counters that meet ``share`` by Erlang A (Erlang C when nobody gives up)."""
    if not patience_s:
        return counters_needed(arrivals_per_s, service_s, target_s, share, most)
    if arrivals_per_s <= 0:
        return 0
    n = 1
    while erlang_a_service_level(n, arrivals_per_s, service_s, target_s, patience_s) < share:
        n += 1
        if most is not None and n >= most:
            return most
    return n
