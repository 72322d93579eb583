"""The one-stop visits' figures against a day computed by hand (reports/figures.py, contract/summary.py)."""

from __future__ import annotations

from centre_server.contract import counter_of, ticket_of
from centre_server.contract.summary import problem
from centre_server.queue import engine as e
from centre_server.reports import figures
from tests.centre_server.test_engine import T0
from tests.centre_server.test_visits import visit_day


def test_visit_figures_of_a_hand_computed_day():
    d = visit_day()

    def at(seconds: float, cmd: e.Command) -> None:
        d.now = T0 + seconds
        d.events.extend(e.apply(d.state, cmd, d.now))

    at(0, e.OpenCounter("c1", ("id-card",)))
    at(0, e.OpenCounter("c3", ("kra",)))
    at(10, e.IssueTicket("v1", "id-card", then=("kra",)))
    at(20, e.IssueTicket("v2", "id-card", then=("kra", "birth")))
    at(30, e.IssueTicket("s", "kra"))
    at(40, e.CallNext("c1"))       # v1 at the ID counter
    at(340, e.Complete("c1"))      # v1 joins KRA, by its issue time ahead of s
    at(350, e.CallNext("c3"))      # v1 at KRA: waited 10 s there
    at(360, e.CallNext("c1"))      # v2 at the ID counter
    at(650, e.Complete("c3"))      # v1 done: 640 s in the centre
    at(660, e.CallNext("c3"))      # s: waited 630 s
    at(665, e.StartService("c3"))  # s came (a call over a ticket only called is refused)
    at(700, e.Complete("c1"))      # v2 joins KRA
    at(900, e.CallNext("c3"))      # s done, v2 called at KRA: waited 200 s there
    at(1000, e.MarkNoShow("c3"))   # v2 missed KRA: its birth certificate is never served
    assert [d.state.tickets[t].state.value for t in ("v1", "v2", "s")] == ["done", "no_show", "done"]

    services = {sid: {"name_en": s.name_en, "name_sw": s.name_sw, "target_wait_s": s.target_wait_s,
                      "position": i} for i, (sid, s) in enumerate(d.state.services.items())}
    out = figures.summarise(
        centre_id="demo", centre_name="Demo", day=d.state.day, tz="Africa/Nairobi",
        ticket_events=[ev for ev in d.events if ticket_of(ev.data)], counter_prior={},
        counter_events=[ev for ev in d.events if ev.type.value in figures.COUNTER_EVENTS and counter_of(ev.data)],
        services=services, counters={"c1": "1", "c3": "3"}, now=T0 + 1200)
    assert out["visits"] == {
        "visits": 2, "completed": 1,
        "services_planned": 5,          # v1: ID + KRA; v2: ID + KRA + birth
        "services_served": 3,           # v1 twice, v2 once
        "services_per_visit_mean": 2.5,
        "time_in_centre_mean_s": 640.0, "time_in_centre_median_s": 640.0,
        "time_in_centre_p90_s": 640.0, "time_in_centre_max_s": 640.0,
    }
    kra = next(r for r in out["services"] if r["service_id"] == "kra")
    assert (kra["arrived"], kra["issued"], kra["steps_in"], kra["served"], kra["no_shows"]) == (3, 1, 2, 2, 1)
    assert kra["wait_mean_s"] == 280.0  # (10 + 630 + 200) / 3: each step's wait counts from joining its queue
    ids = next(r for r in out["services"] if r["service_id"] == "id-card")
    assert (ids["arrived"], ids["served"], ids["wait_mean_s"]) == (2, 2, 185.0)  # (30 + 340) / 2
    # the citizens: three tickets, two served, one no-show (its last step's outcome)
    assert (out["total"]["arrived"], out["total"]["served"], out["total"]["no_shows"]) == (3, 2, 1)
    assert problem(out) is None
    older = {k: v for k, v in out.items() if k != "visits"}  # a centre from before visits still validates
    assert problem(older) is None
    assert problem({**out, "visits": {**out["visits"], "visits": "2"}}) is not None
