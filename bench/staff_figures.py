"""What the per-counter and per-clerk figures cost the board: a simulated day of the demo centre through the
real engine, then ``figures.summarise`` (the board's figures after every event, memoised per event) with the
staff rows, and ``figures.staff_rows`` alone. Prints figures; asserts nothing about time.

Usage: ``python bench/staff_figures.py [--citizens 2500] [--repeat 20]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centre_server.menu import builtin_menu, demo_counters  # noqa: E402
from centre_server.queue import engine  # noqa: E402
from centre_server.queue.model import Policy  # noqa: E402
from centre_server.reports import figures  # noqa: E402
from centre_server.sim.daysim import simulate  # noqa: E402

TZ = "Africa/Nairobi"
DAY = "2026-12-08"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citizens", type=int, default=2500)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    services = builtin_menu()
    state = engine.new_state(services, demo_counters(), Policy(timezone=TZ))
    state.day = DAY
    log: list[engine.Event] = []

    def execute(cmd: engine.Command, at: float) -> list[engine.Event]:
        events = engine.apply(state, cmd, at)
        log.extend(events)
        return events

    counts = simulate(execute, lambda: state, DAY, TZ, citizens=args.citizens, seed=1)
    tickets = [e for e in log if e.type in figures.TICKET_EVENTS]
    counter_events = [e for e in log if e.type in figures.COUNTER_EVENTS]
    svc = {s.id: {"name_en": s.name_en, "name_sw": s.name_sw, "target_wait_s": s.target_wait_s,
                  "position": s.position} for s in services}
    names = {c.id: c.name for c in state.counters.values()}
    now = counts["end_at"]
    stories = figures.stories_from_events(tickets)

    def whole() -> dict:
        return figures.summarise(centre_id="gpo", centre_name="GPO", day=DAY, tz=TZ, ticket_events=tickets,
                                 counter_prior={}, counter_events=counter_events, services=svc, counters=names,
                                 now=now, stories=stories, clerk_key="bench-key")

    start, end = figures.day_bounds(DAY, TZ)
    spans = figures._intervals({}, counter_events, start, now)
    clerk_spans = figures._clerk_spans({}, counter_events, start, now)

    def staff() -> tuple:
        return figures.staff_rows(list(stories.values()), spans, clerk_spans, names, start, now)

    for name, fn in (("summarise (with staff rows)", whole), ("staff_rows alone", staff)):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:32s} median {statistics.median(times):7.2f} ms  max {max(times):7.2f} ms  "
              f"({len(stories)} tickets, {len(tickets)} ticket events, {args.repeat} runs)")
    data = whole()
    print(f"clerk rows: {len(data['clerks'])}, counter rows: {len(data['counters'])}, "
          f"served {data['total']['served']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
