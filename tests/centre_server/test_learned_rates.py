"""The wait predictor's learned rates survive a restart (issue 18).

What the estimator learns of its centre beyond the service times (the no-show share, the
arrival profile, yesterday's staffing, patience, the counters' paces) used to live only in
memory: a restart went back to the cold-start defaults. Now it is kept in the centre's
SQLite (``learned_rates``, migration 14) and read back at start.
"""

from __future__ import annotations

import random
import sqlite3
import time

import httpx

from centre_server.config import load_settings
from centre_server.contract import Priority
from centre_server.queue.estimate import WaitPredictor
from centre_server.sim.replay import Arrival, Shift, replay
from tests.conftest import CentreProcess, free_port, wait_until

NO_SHOWS = 24


def _taught() -> WaitPredictor:
    """A predictor after two simulated days of a real engine: every kind of figure learned."""
    rng = random.Random(3)
    arrivals: list[Arrival] = []
    t = 8 * 3600.0
    for day in range(2):
        t = day * 86400 + 8 * 3600.0
        while t < day * 86400 + 15 * 3600.0:
            t += rng.expovariate(1 / 120.0)
            arrivals.append(Arrival(f"t{len(arrivals)}", t, "a" if rng.random() < 0.6 else "b",
                                    Priority.elderly if rng.random() < 0.1 else Priority.none,
                                    rng.expovariate(1 / 400.0),
                                    rng.expovariate(1 / 1800.0) if rng.random() < 0.3 else None,
                                    rng.random() < 0.08))
    shifts = [Shift(c, sv, d * 86400 + 8 * 3600.0, d * 86400 + (12 if c == "c3" else 23) * 3600.0)
              for d in range(2) for c, sv in (("c1", ("a",)), ("c2", ("a", "b")), ("c3", ("b",)))]
    result = replay(arrivals, shifts)
    return result.state.predictor


def test_learned_rates_round_trip_whole() -> None:
    p = _taught()
    assert p.profile_days >= 1 and p.no_shows and p.staffing and p.samples and p.speed
    q = WaitPredictor()
    assert q.restore(p.learned())
    assert q.learned() == p.learned()
    assert q.hazards() == p.hazards() and q.no_show_share("a") == p.no_show_share("a")
    assert q.arrival_rate("a", False, "2099-01-01", 9 * 3600.0, 0.0) == p.arrival_rate("a", False, "2099-01-01",
                                                                                     9 * 3600.0, 0.0)


def test_a_service_added_since_the_save_keeps_its_typical_time() -> None:
    q = WaitPredictor()
    q.prime("new-service", 420.0)
    assert q.restore(_taught().learned())
    assert q.mean_service_s["new-service"] == 420.0 and "a" in q.mean_service_s


def test_a_damaged_or_foreign_blob_is_refused_whole() -> None:
    good = _taught().learned()
    for damage in ({"version": 99}, {"no_show_s": float("nan")}, {"mean_service_s": {"a": -5}},
                   {"profile": [["a", False, [1.0, 2.0]]]}, {"samples": "x"}, {"abandoned_by": [0.0]}):
        q = WaitPredictor()
        q.prime("a", 300.0)
        assert not q.restore({**good, **damage}), damage
        assert q.mean_service_s == {"a": 300.0} and not q.profile and not q.no_shows  # untouched: still cold


def _estimate(kiosk: httpx.Client) -> int:
    r = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
    assert r.status_code in (200, 201), r.text
    est = r.json()["estimated_wait_s"]
    assert isinstance(est, int)
    return est


def test_first_estimate_after_a_kill_uses_the_learned_rates(centre_dir, mosquitto, tmp_path) -> None:
    """A morning of no-shows teaches the centre that a call often costs nothing; killed -9 and
    started again, the first ticket's estimate still knows it (the cold start would assume 5 %)."""
    config = centre_dir.path / "centre.toml"
    text = config.read_text()
    assert "forecast_every_s = 15" in text and "keep_learned_every_s = 300" in text
    # the closed forms alone (deterministic to compare), the learned rates kept every second
    config.write_text(text.replace("forecast_every_s = 15", "forecast_every_s = 0")
                      .replace("keep_learned_every_s = 300", "keep_learned_every_s = 1"))
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start(timeout=120)  # a shared machine starts slowly
    db_path = load_settings(centre_dir.path).db_path
    try:
        clerk = server.client(server.login("clerk"))
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        typical_s = next(s for s in clerk.get("/api/v1/services").json() if s["id"] == "kra-pin")
        assert clerk.post("/api/v1/counters/c12/open", json={"services": ["kra-pin"]}).status_code == 200
        open_for_kra = [c for c in clerk.get("/api/v1/counters").json()
                        if c["state"] == "open" and "kra-pin" in c["services"]]
        assert [c["id"] for c in open_for_kra] == ["c12"]
        for _ in range(NO_SHOWS):  # nobody answers their call
            _estimate(kiosk)
            assert clerk.post("/api/v1/counters/c12/call-next").status_code == 200
            assert clerk.post("/api/v1/counters/c12/no-show").status_code == 200
        learned_at = time.time()
        _estimate(kiosk)
        assert clerk.post("/api/v1/counters/c12/call-next").status_code == 200  # c12 serves someone now
        _estimate(kiosk)
        before = _estimate(kiosk)  # one waiting ahead of it (and one at the counter)

        def kept() -> bool:
            with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
                row = conn.execute("SELECT saved_at FROM learned_rates WHERE id=1").fetchone()
            return row is not None and row[0] > learned_at

        wait_until(kept, 15)
        server.kill9()
        server.start(timeout=120)  # a shared machine starts slowly
        clerk = server.client(server.login("clerk"))
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        after = _estimate(kiosk)  # two waiting ahead of it, the first estimate since the restart
    finally:
        server.stop()
    # E[W | q waiting ahead] = (q + 1) x a call's mean cost: one more ahead, the same learned cost
    assert abs(after - before * 3 / 2) <= 2, (before, after)
    mean_s = typical_s["typical_service_min"] * 60
    share = (NO_SHOWS + 1) / (NO_SHOWS + 20)  # the learned no-show share (prior 1 in 20)
    cold = 3 * (0.95 * mean_s + 0.05 * 60)  # what a restart that forgot would print
    assert after < 3 * (1 - share) * mean_s + 60 < 0.6 * cold, (after, cold)
    assert "Traceback" not in (tmp_path / "centre.log").read_text()


def test_one_days_priority_arrivals_are_read_smoothed_and_pooled() -> None:
    """One day's profile: a service's few priority citizens are not read bin by bin (a phantom or
    missed one moves every wait behind it); the rate is its share of all arrivals, near in time."""
    from centre_server.queue.estimate import BIN_S, BINS, PRIORITY_PRIOR

    p = WaitPredictor()
    opens, closes = int(8 * 3600 / BIN_S), int(16 * 3600 / BIN_S)
    normal = [4.0 if opens <= b < closes else 0.0 for b in range(BINS)]
    special = [0.0] * BINS
    special[opens + 10] = 2.0  # the only two priority citizens of the day, in one quarter-hour
    p.profile = {("a", False): normal, ("a", True): special,
                 ("b", False): list(normal), ("b", True): [1.0 if opens <= b < closes and b % 8 == 0 else 0.0
                                                          for b in range(BINS)]}
    p.profile_days = 1
    day = "2099-01-01"
    a_pri = [p.arrival_rate("a", True, day, b * BIN_S, 0.0) * BIN_S for b in range(BINS)]
    assert a_pri[opens - 1] == 0.0 and a_pri[closes] == 0.0  # never before the doors open nor after they close
    assert all(x > 0.0 for x in a_pri[opens:closes])  # no quarter-hour of the day is sure to have none
    assert max(a_pri) < 1.0  # not the 2 of one day's one quarter-hour
    every_a = sum(normal) + 2.0
    pooled = (2.0 + 4.0) / (2 * sum(normal) + 2.0 + 4.0)
    share = (2.0 + PRIORITY_PRIOR * pooled) / (every_a + PRIORITY_PRIOR)
    mid = opens + 20  # far from the edges: all arrivals there times the share
    assert abs(a_pri[mid] - 4.0 * share) < 1e-9
    assert abs(p.arrival_rate("a", False, day, mid * BIN_S, 0.0) * BIN_S - 4.0 * (1 - share)) < 1e-9
    assert p.arrival_rate("zzz", True, day, mid * BIN_S, 0.0) == 0.0  # a service never seen
