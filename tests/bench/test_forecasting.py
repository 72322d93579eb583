"""The bench runs the server's forecaster inside its replay, and that changes estimates, not the day."""

from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "bench"))

from forecasting import Forecasting  # noqa: E402
from predict import scored, shared  # noqa: E402

from centre_server.sim.replay import replay  # noqa: E402


def test_the_forecasting_replay_prints_table_estimates_on_the_same_day() -> None:
    sc = shared()
    rng = random.Random(4)
    arrivals = sc.model.trace(rng, 2)
    plain = replay(arrivals, sc.shifts)
    chosen = rng.sample(scored(plain.outcomes), 12)
    f = Forecasting(arrivals, sc.shifts, {o.ticket: o.arrival_s for o in chosen}, futures=8, seed=1)
    result = f.run()
    assert f.refreshes == 12 and f.cpu_s > 0
    by = {o.ticket: o for o in result.outcomes}
    assert [o.wait_s for o in plain.outcomes] == [o.wait_s for o in result.outcomes]  # the same day
    printed = [by[o.ticket].estimate_s for o in chosen]
    assert all(e is not None and 0 <= e < 4 * 3600 for e in printed)
    assert printed != [o.estimate_s for o in chosen]  # read from the table, not the closed forms
