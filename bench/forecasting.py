"""The replay with the server's forecaster on: the bench runs the code the server runs.

``runtime/forecaster.py`` refreshes the forecast table every ``period`` seconds on the
server; a replay of a whole day cannot afford a refresh every few simulated seconds
for a score that reads a few hundred estimates, so the refreshes run where they are
read: before each scored arrival, at a moment drawn uniformly within one period
before it. The table a scored citizen's estimate comes from is as old as on the
server, from the same snapshot and futures (``queue/forecast.py``), and the engine's
``IssueTicket`` reads it exactly as on the server.
"""

from __future__ import annotations

import random
import time
from typing import Any

from centre_server.queue import forecast
from centre_server.runtime.forecaster import PERIOD_S
from centre_server.sim.replay import _ARRIVE, Arrival, Replay, Shift


class _Refresh:
    """A refresh of the table in the replay's heap (it travels as an arrival's payload)."""


_REFRESH = _Refresh()


class Forecasting(Replay):
    """A replay whose engine reads a fresh forecast table at each arrival of ``ask``."""

    def __init__(self, arrivals: list[Arrival], shifts: list[Shift], ask: dict[str, float],
                 period: float = PERIOD_S, futures: int = forecast.FUTURES, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(arrivals, shifts, **kwargs)
        self.rng = random.Random(seed)
        self.futures = futures
        self.refresh_at = sorted(t - self.rng.uniform(0.0, period) for t in ask.values())
        self.draws_seed = self.rng.getrandbits(64)  # the same every refresh, as the server's forecaster
        self.cpu_s = 0.0
        self.refreshes = 0
        self.futures_run = 0

    def run(self):  # type: ignore[no-untyped-def]
        for t in self.refresh_at:
            self._push(t, _ARRIVE, _REFRESH)
        return super().run()

    def _arrive(self, a: Arrival, t: float) -> None:
        if a is _REFRESH:  # type: ignore[comparison-overlap]
            began = time.process_time()
            snap = forecast.take_snapshot(self.state, self.base + t)
            table = forecast.run_futures(snap, self.futures, seed=self.draws_seed, most=forecast.MAX_FUTURES)
            self.state.predictor.install(table)
            self.futures_run += table.futures
            self.cpu_s += time.process_time() - began
            self.refreshes += 1
            return
        super()._arrive(a, t)
