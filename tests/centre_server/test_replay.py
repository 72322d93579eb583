"""The replay: the real engine at simulated time, checked against hand-worked and FCFS truths."""

from __future__ import annotations

import csv
import heapq
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from centre_server.cli import cli
from centre_server.contract import Priority
from centre_server.sim.replay import (
    RESULT_COLUMNS,
    Arrival,
    ReplayError,
    Shift,
    read_arrivals,
    read_counters,
    replay,
)

H = 3600.0
DAY = 86400.0


def arrival(ticket: str, at: float, service: str = "q", s: float = 300.0, priority: Priority = Priority.none,
            patience: float | None = None, no_show: bool = False) -> Arrival:
    return Arrival(ticket, at, service, priority, s, patience, no_show)


def fcfs_waits(arrivals: list[tuple[float, float]], servers: int) -> list[float]:
    """First come first served on identical servers: each goes to the first counter to free."""
    free = [0.0] * servers
    heapq.heapify(free)
    waits = []
    for at, service in arrivals:
        start = max(at, heapq.heappop(free))
        waits.append(start - at)
        heapq.heappush(free, start + service)
    return waits


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4),
       st.lists(st.tuples(st.integers(0, 3600), st.integers(1, 1200)), min_size=1, max_size=40))
def test_one_service_no_priorities_is_exactly_fcfs(servers: int, raw: list[tuple[int, int]]) -> None:
    raw = sorted(raw, key=lambda x: x[0])
    trace = [arrival(f"t{i:03d}", 8 * H + at, s=float(s)) for i, (at, s) in enumerate(raw)]
    shifts = [Shift(f"c{i}", ("q",), 7 * H, 23 * H) for i in range(servers)]
    result = replay(trace, shifts)
    expected = fcfs_waits([(a.arrival_s, a.service_time_s) for a in trace], servers)
    assert [o.wait_s for o in result.outcomes] == expected
    assert all(o.outcome == "served" and o.counter_id for o in result.outcomes)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3600), st.integers(60, 1200)), min_size=1, max_size=40),
       st.integers(1, 3))
def test_more_counters_never_make_anyone_wait_longer(raw: list[tuple[int, int]], servers: int) -> None:
    """The manager's what-if: two more counters, same citizens: no wait grows."""
    trace = [arrival(f"t{i:03d}", 8 * H + at, s=float(s)) for i, (at, s) in enumerate(sorted(raw))]
    few = replay(trace, [Shift(f"c{i}", ("q",), 8 * H, 23 * H) for i in range(servers)])
    more = replay(trace, [Shift(f"c{i}", ("q",), 8 * H, 23 * H) for i in range(servers + 2)])
    for a, b in zip(few.outcomes, more.outcomes, strict=True):
        assert b.wait_s is not None and a.wait_s is not None and b.wait_s <= a.wait_s


def test_priority_is_called_before_earlier_normal_tickets() -> None:
    trace = [arrival("busy", 8 * H, s=600), arrival("n1", 8 * H + 10), arrival("n2", 8 * H + 20),
             arrival("p1", 8 * H + 30, priority=Priority.elderly)]
    result = {o.ticket: o for o in replay(trace, [Shift("c1", ("q",), 8 * H, 20 * H)]).outcomes}
    assert result["p1"].wait_s == 600 - 30
    assert result["n1"].wait_s == 600 + 300 - 10
    assert result["n2"].wait_s == 600 + 600 - 20
    # the priority ticket counts only priority tickets ahead of it; normals count everyone
    assert result["p1"].ahead == 0 and result["n2"].ahead == 1


def test_priority_streak_limit_lets_a_normal_ticket_through() -> None:
    trace = [arrival("busy", 8 * H, s=100), arrival("n1", 8 * H + 1, s=100)]
    trace += [arrival(f"p{i}", 8 * H + 2 + i, s=100, priority=Priority.elderly) for i in range(5)]
    result = replay(trace, [Shift("c1", ("q",), 8 * H, 20 * H)])
    order = sorted((o for o in result.outcomes if o.ticket != "busy"), key=lambda o: o.wait_s + o.arrival_s)
    assert [o.ticket for o in order] == ["p0", "p1", "p2", "n1", "p3", "p4"]


def test_no_show_holds_the_counter_then_the_next_is_called() -> None:
    trace = [arrival("absent", 8 * H, no_show=True), arrival("next", 8 * H + 5)]
    result = {o.ticket: o for o in replay(trace, [Shift("c1", ("q",), 8 * H, 20 * H)], no_show_s=90).outcomes}
    assert result["absent"].outcome == "no_show" and result["absent"].counter_id == "c1"
    assert result["absent"].wait_s == 0
    assert result["next"].outcome == "served" and result["next"].wait_s == 90 - 5


def test_patience_runs_out_or_not() -> None:
    trace = [arrival("busy", 8 * H, s=1000), arrival("leaves", 8 * H + 10, patience=600),
             arrival("stays", 8 * H + 20, patience=2000)]
    result = {o.ticket: o for o in replay(trace, [Shift("c1", ("q",), 8 * H, 20 * H)]).outcomes}
    assert result["leaves"].outcome == "abandoned"
    assert result["leaves"].wait_s == 600 and result["leaves"].counter_id is None
    assert result["stays"].outcome == "served" and result["stays"].wait_s == 1000 - 20


def test_days_back_to_back_restart_numbers_and_cancel_what_waits_at_midnight() -> None:
    trace = [arrival("d1a", 8 * H), arrival("d1b", 8 * H + 1), arrival("late", 23 * H + 1800, s=60),
             arrival("d2a", DAY + 8 * H), arrival("d2b", DAY + 8 * H + 1)]
    shifts = [Shift("c1", ("q",), 8 * H, 17 * H), Shift("c1", ("q",), DAY + 8 * H, DAY + 17 * H)]
    result = replay(trace, shifts)
    by = {o.ticket: o for o in result.outcomes}
    assert len(result.days) == 2 and result.days[1] > result.days[0]
    assert by["d1a"].number.endswith("001") and by["d1b"].number.endswith("002")
    assert by["late"].number.endswith("003") and by["late"].outcome == "not_served"
    assert by["late"].wait_s == 1800  # cancelled at midnight, the centre's day roll-over
    assert by["d2a"].number.endswith("001") and by["d2b"].number.endswith("002")
    assert by["d2a"].day == result.days[1] and by["d2a"].outcome == "served"


def test_a_counter_closing_finishes_its_citizen_and_unseen_services_are_services() -> None:
    trace = [arrival("a", 8 * H, service="passport-x", s=1200), arrival("b", 8 * H + 1, service="passport-x")]
    shifts = [Shift("c1", ("passport-x",), 8 * H, 8 * H + 600), Shift("c2", ("passport-x",), 9 * H, 10 * H)]
    result = replay(trace, shifts)
    by = {o.ticket: o for o in result.outcomes}
    assert by["a"].counter_id == "c1" and by["a"].outcome == "served"
    assert by["b"].counter_id == "c2" and by["b"].wait_s == H - 1
    assert "passport-x" in result.state.services
    assert result.state.services["passport-x"].prefix.startswith("X")


def test_estimate_is_what_the_engine_printed_and_grows_with_the_queue() -> None:
    trace = [arrival(f"t{i}", 8 * H + i, service="id-card-new") for i in range(6)]
    result = replay(trace, [Shift("c1", ("id-card-new",), 8 * H, 20 * H)])
    est = [o.estimate_s for o in result.outcomes]
    assert est[0] == 0  # a free counter
    assert est[1] > 0 and est == sorted(est) and len(set(est[1:])) == 5


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_cli_writes_result_with_the_issue_columns(tmp_path: Path) -> None:
    arrivals = _write(tmp_path / "arrivals.csv",
                      ["ticket", "arrival_s", "service_id", "priority", "service_time_s", "patience_s", "no_show"],
                      [["a", 28800, "id-card-new", "", 300, "", ""],
                       ["b", 28810, "id-card-new", "elderly", 200, "", ""],
                       ["c", 28820, "id-card-new", "", 100, "", "1"], ["d", 28830, "id-card-new", "", 100, 30, ""]])
    counters = _write(tmp_path / "counters.csv", ["counter_id", "services", "open_from_s", "open_to_s"],
                      [["c01", "id-card-new;kra-pin", 28800, 60000]])
    out = tmp_path / "result.csv"
    r = CliRunner().invoke(cli, ["replay", str(arrivals), str(counters), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "4 tickets over 1 day(s)" in r.output
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == RESULT_COLUMNS
    by = {row["ticket"]: row for row in rows}
    assert by["a"]["outcome"] == "served" and by["a"]["wait_s"] == "0" and by["a"]["counter_id"] == "c01"
    assert by["b"]["wait_s"] == "290" and by["c"]["outcome"] == "no_show"
    assert by["d"]["outcome"] == "abandoned" and by["d"]["counter_id"] == ""


def test_bad_traces_get_a_clear_error(tmp_path: Path) -> None:
    good_counters = _write(tmp_path / "c.csv", ["counter_id", "services", "open_from_s", "open_to_s"],
                           [["c01", "q", 0, 100]])
    cases = [
        (["ticket", "arrival_s", "service_id", "service_time_s"], [["a", 1, "q", 5]], "missing column(s) priority"),
        (["ticket", "arrival_s", "service_id", "priority", "service_time_s"], [["a", 1, "q", "vip", 5]],
         "line 2: priority 'vip'"),
        (["ticket", "arrival_s", "service_id", "priority", "service_time_s"],
         [["a", 1, "q", "", 5], ["a", 2, "q", "", 5]],
         "line 3: ticket 'a' appears twice"),
        (["ticket", "arrival_s", "service_id", "priority", "service_time_s"], [["a", "soon", "q", "", 5]],
         "arrival_s 'soon' is not a number"),
    ]
    for header, rows, message in cases:
        path = _write(tmp_path / "a.csv", header, rows)
        try:
            read_arrivals(path)
        except ReplayError as err:
            assert message in str(err)
        else:
            raise AssertionError(f"accepted {rows}")
        r = CliRunner().invoke(cli, ["replay", str(path), str(good_counters), "--out", str(tmp_path / "r.csv")])
        assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output
    bad = _write(tmp_path / "c2.csv", ["counter_id", "services", "open_from_s", "open_to_s"], [["c01", "q", 50, 10]])
    try:
        read_counters(bad)
    except ReplayError as err:
        assert "open_to_s must be after open_from_s" in str(err)
    else:
        raise AssertionError("accepted a counter closing before it opens")
    r = CliRunner().invoke(cli, ["replay", str(tmp_path / "nope.csv"), str(good_counters), "--out", "x.csv"])
    assert r.exit_code == 1 and "cannot read" in r.output


def test_a_real_day_exported_and_replayed_with_its_own_counters_gives_its_own_waits(centre_dir, tmp_path: Path) -> None:
    """export-trace turns the centre's history into a trace; replaying it with the same counters reproduces it."""
    from centre_server.config import load_settings
    from centre_server.queue import engine
    from centre_server.runtime.centre import Centre
    from centre_server.sim.replay import export_trace, start_epoch

    now = [start_epoch("2026-03-02") + 8 * H]
    centre = Centre(load_settings(centre_dir.path), clock=lambda: now[0])
    centre.execute(engine.OpenCounter("c01", services=("id-card-new",)))
    centre.execute(engine.OpenCounter("c02", services=("id-card-new", "kra-pin")))
    plan = [("id-card-new", 0, 400), ("id-card-new", 30, 200), ("kra-pin", 60, 300), ("id-card-new", 90, 100),
            ("kra-pin", 100, 250), ("id-card-new", 120, 500)]
    # a tiny hand-run day: arrivals, and each counter calls next the moment it frees (as the replay does)
    events: list[tuple[float, int, str, object]] = [(8 * H + at, 1, "arrive", (i, sid, s))
                                                    for i, (sid, at, s) in enumerate(plan)]
    busy: dict[str, float] = {}
    ids: dict[int, str] = {}
    heapq.heapify(events)
    durations: dict[str, float] = {}
    while events:
        t, _, kind, data = heapq.heappop(events)
        now[0] = start_epoch("2026-03-02") + t
        if kind == "arrive":
            i, sid, s = data  # type: ignore[misc]
            ids[i] = f"tk{i}"
            durations[f"tk{i}"] = s
            centre.execute(engine.IssueTicket(f"tk{i}", sid))
            free = [c for c in ("c01", "c02") if c not in busy
                    and sid in centre.state.counters[c].services]
            if free:
                centre.execute(engine.CallNext(free[0]))
                busy[free[0]] = t + s
                heapq.heappush(events, (t + s, 0, "end", free[0]))
        else:
            cid = data  # type: ignore[assignment]
            del busy[cid]
            centre.execute(engine.Complete(cid))  # served (a call over a ticket only called is refused)
            try:
                centre.execute(engine.CallNext(cid))
            except engine.QueueError:
                continue
            tid = centre.state.counters[cid].ticket_id
            busy[cid] = t + durations[tid]
            heapq.heappush(events, (t + durations[tid], 0, "end", cid))
    now[0] = start_epoch("2026-03-02") + 17 * H
    centre.execute(engine.CloseCounter("c01"))
    centre.execute(engine.CloseCounter("c02"))
    real = {t.id: t.first_called_at - t.queued_at for t in centre.state.tickets.values()}
    arrivals, shifts = export_trace(centre.db, "2026-03-02", "2026-03-02")
    centre.close()
    assert len(arrivals) == len(plan)
    assert sorted((s.counter_id, s.services, s.open_from_s, s.open_to_s) for s in shifts) == [
        ("c01", ("id-card-new",), 8 * H, 17 * H), ("c02", ("id-card-new", "kra-pin"), 8 * H, 17 * H)]
    assert sorted(a.service_time_s for a in arrivals) == sorted(s for _, _, s in plan)
    result = replay(arrivals, shifts, start=start_epoch("2026-03-02"))
    by_number = {o.ticket: o for o in result.outcomes}
    from centre_server.store import database as storage

    db = storage.connect(load_settings(centre_dir.path).db_path)
    for row in db.query("SELECT id, day, number FROM tickets"):
        o = by_number[f"{row['day']}-{row['number']}"]
        assert o.outcome == "served" and o.wait_s == real[row["id"]]
    db.conn.close()
    # the CLI writes the same two files and says how to replay them
    r = CliRunner().invoke(cli, ["export-trace", str(centre_dir.path), "--date", "2026-03-02",
                                 "--arrivals", str(tmp_path / "a.csv"), "--counters", str(tmp_path / "c.csv")])
    assert r.exit_code == 0, r.output
    assert "6 tickets and 2 counter shifts" in r.output
    assert read_arrivals(tmp_path / "a.csv") == arrivals
    assert read_counters(tmp_path / "c.csv") == shifts
    r = CliRunner().invoke(cli, ["export-trace", str(centre_dir.path), "--date", "2026-13-02",
                                 "--arrivals", str(tmp_path / "a.csv"), "--counters", str(tmp_path / "c.csv")])
    assert r.exit_code == 1 and "is not a date" in r.output
