"""Days that look like a Huduma Centre's: many services on fewer counters with overlapping skills.

One seed draws a whole centre and its citizens: 6 to 40 services (mean service 3 to
12 min, lognormal), 14 to 30 counters of which about 40 % are dedicated to one busy
service and the rest shared between 2 to 5 services (some services have no dedicated
counter at all), staggered 45-minute lunch breaks, a shift change at 13:00 on a third
of the counters (a 15-minute handover), a late start at 08:30 on a few, a morning peak
above capacity (08:00-11:00), 12 % priority citizens, 6 % no-shows, a third of the
citizens with a patience limit (exponential, mean 40 min). Days run back to back.
"""

from __future__ import annotations

import math
import random

from oracle import DAY, Model, Stream

from centre_server.sim.replay import Shift

H = 3600.0
CLOSE = 23 * H  # the counters stay until the hall is empty

# the load through the day, as a share of the full staffing's capacity
LOAD = [(8 * H, 11 * H, 1.15), (11 * H, 12 * H, 0.85), (12 * H, 14.5 * H, 0.6), (14.5 * H, 16 * H, 0.8)]


def load(tod: float) -> float:
    for a, b, x in LOAD:
        if a <= tod < b:
            return x
    return 0.0


def layout(rng: random.Random) -> tuple[dict[str, float], dict[str, tuple[str, ...]]]:
    """Services with their mean service time, and the counters with the services each serves."""
    n_services = rng.randint(6, 40)
    n_counters = rng.randint(14, 30)
    means = {f"s{i:02d}": rng.uniform(180.0, 720.0) for i in range(n_services)}
    services = list(means)
    rng.shuffle(services)
    only_shared = services[:max(1, n_services // 6)]  # no dedicated counter for these
    n_dedicated = min(round(0.4 * n_counters), n_services - len(only_shared))
    dedicated = [services[len(only_shared) + i % (n_services - len(only_shared))] for i in range(n_dedicated)]
    counters: dict[str, tuple[str, ...]] = {}
    for i, sid in enumerate(dedicated):
        counters[f"c{i + 1:02d}"] = (sid,)
    n_shared = n_counters - n_dedicated
    per = max(2, min(5, math.ceil(2 * n_services / n_shared)))
    order = only_shared + [s for s in services if s not in only_shared]
    k = 0
    for j in range(n_shared):
        skills: list[str] = []
        while len(skills) < per:
            sid = order[k % len(order)] if k < 2 * len(order) else rng.choice(services)
            k += 1
            if sid not in skills:
                skills.append(sid)
        counters[f"c{n_dedicated + j + 1:02d}"] = tuple(skills)
    return means, counters


def shifts(rng: random.Random, counters: dict[str, tuple[str, ...]], days: int) -> list[Shift]:
    """Each day's staffing: lunch breaks staggered 12:00-14:15, a shift change, late starts."""
    ids = list(counters)
    rng.shuffle(ids)
    changing = set(ids[:len(ids) // 3])
    late = set(ids[len(ids) // 3:len(ids) // 3 + 3])
    out: list[Shift] = []
    for d in range(days):
        base = d * DAY
        for i, cid in enumerate(ids):
            sv = counters[cid]
            start = 8.5 * H if cid in late else 8 * H
            if cid in changing:
                spans = [(start, 13 * H), (13.25 * H, CLOSE)]
            else:
                lunch = 12 * H + (i % 10) * 15 * 60.0
                spans = [(start, lunch), (lunch + 45 * 60.0, CLOSE)]
            out += [Shift(cid, sv, base + a, base + b) for a, b in spans]
    return out


def huduma(seed: int, days: int = 16) -> tuple[Model, list[Shift], str]:
    """A centre and its staffing for ``days`` days; the load follows ``LOAD`` on every service."""
    rng = random.Random(seed)
    means, counters = layout(rng)
    share = {sid: 0.0 for sid in means}
    for sv in counters.values():
        for sid in sv:
            share[sid] += 1.0 / len(sv)
    streams = []
    for sid, mean in means.items():
        lam = share[sid] * rng.uniform(0.85, 1.15) / mean  # arrivals per second at full load
        streams.append(Stream(sid, (lambda t, lam=lam: lam * load(t)), lam * 1.15, mean, cv=0.7))
    model = Model(streams, priority_p=0.12, no_show_p=0.06, patience_p=1 / 3, patience_mean_s=2400.0)
    plan = shifts(rng, counters, days)
    dedicated = sum(len(sv) == 1 for sv in counters.values())
    note = (f"{len(means)} services, {len(counters)} counters ({dedicated} dedicated), "
            f"{sum(1 for s in share if not any(sv == (s,) for sv in counters.values()))} services only shared")
    return model, plan, note
