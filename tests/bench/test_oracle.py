"""The simulation oracle of bench/predict.py measures what it claims: exact on a known future, QL on M/M/s."""

from __future__ import annotations

import os
import random
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "bench"))

from huduma import huduma  # noqa: E402
from oracle import oracle_waits  # noqa: E402
from predict import mms, ql, scored, shared  # noqa: E402

from centre_server.sim.replay import replay  # noqa: E402


def test_the_traces_own_future_gives_back_every_replay_wait() -> None:
    for model, shifts in ((shared().model, shared().shifts), huduma(3, days=2)[:2]):
        rng = random.Random(5)
        arrivals = model.trace(rng, 2)
        pool = scored(replay(arrivals, shifts).outcomes)
        chosen = rng.sample(pool, min(15, len(pool)))
        assert len(chosen) >= 10
        answers = oracle_waits(arrivals, shifts, None, {o.ticket for o in chosen}, trace_future=True)
        assert {o.ticket: o.wait_s for o in chosen} == {t: answers[t] for t in (o.ticket for o in chosen)}


def test_on_mms_the_oracle_matches_queue_length_theory() -> None:
    sc = mms(5, 0.9)
    rng = random.Random(2)
    arrivals = sc.model.trace(rng, 3)
    pool = scored(replay(arrivals, sc.shifts).outcomes)
    chosen = rng.sample(pool, 30)
    answers = oracle_waits(arrivals, sc.shifts, sc.model, {o.ticket for o in chosen}, futures=40, seed=1)
    oracle = statistics.fmean(answers[o.ticket] for o in chosen)
    theory = statistics.fmean(ql(o, sc.model) for o in chosen)
    assert abs(oracle / theory - 1) < 0.05


def test_a_huduma_day_has_the_shape_of_the_issue() -> None:
    for seed in range(1, 6):
        model, shifts, _ = huduma(seed, days=1)
        counters = {s.counter_id: s.services for s in shifts}
        assert 6 <= len(model.streams) <= 40 and 14 <= len(counters) <= 30
        served = {sid for sv in counters.values() for sid in sv}
        assert served == set(model.mean_s)  # every service has a counter
        assert any(not any(sv == (sid,) for sv in counters.values()) for sid in served)  # some only shared
        assert any(len(sv) > 1 for sv in counters.values()) and any(len(sv) == 1 for sv in counters.values())
        assert model.priority_p == 0.12 and model.no_show_p == 0.06 and abs(model.patience_p - 1 / 3) < 1e-9
