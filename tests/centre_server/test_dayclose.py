"""Day close against a hand-computed day: a small day with known times, driven through the engine.

The day (Nairobi time, counters c01 = ID services, c05 = birth certificates):
  08:00 c01 and c05 open
  08:10 T1 id-card-new (with a phone)   08:20 T2 id-card-new   08:25 T3 birth-cert
  08:30 c01 calls T1, 08:31 starts, 08:40 completes             -> wait 1200 s, service 540 s
  08:40 c01 calls T2, 08:42 recall, 08:45 no-show               -> wait 1200 s, no-show
  08:50 c05 calls T3 (wait 1500 s), 08:52 transfers it to id-card-collect (target 15 min)
  09:05 T4 id-card-replace
  09:10 c01 calls T3 (18 min in its new queue: over 15), 09:14 completes -> wait 1080 s, service 240 s
  09:14 T3 rated 4, 09:15 T1 rated 2
  09:20 c05 pauses, 09:50 resumes
  10:00 T5 birth-cert
  10:30 day closed: T4 (waited 85 min > 30) and T5 (waited exactly 30 min) cancelled, counters closed
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from centre_server.config import load_settings
from centre_server.contract import Channel
from centre_server.dayclose import closing, lock, records, summary
from centre_server.dayclose.closer import DayCloser
from centre_server.dayclose.errors import DayCloseError
from centre_server.queue import engine
from centre_server.reports import figures
from centre_server.runtime.centre import Centre
from centre_server.sim.daysim import FakeClock
from centre_server.store import database as storage
from tests.conftest import set_upstream

DAY = "2026-03-02"
TZ = ZoneInfo("Africa/Nairobi")


def at(hhmm: str) -> float:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 3, 2, h, m, tzinfo=TZ).timestamp()


class Day:
    def __init__(self, directory: Path) -> None:
        set_upstream(directory)
        self.settings = load_settings(directory)
        self.clock = FakeClock(at("07:00"))
        self.centre = Centre(self.settings, clock=self.clock)

    def run(self, hhmm: str, cmd: engine.Command) -> list[engine.Event]:
        self.clock.now = at(hhmm)
        return self.centre.execute(cmd)

    def issue(self, hhmm: str, tid: str, service: str, phone: str | None = None) -> None:
        self.run(hhmm, engine.IssueTicket(ticket_id=tid, service_id=service, phone=phone))

    def build(self) -> None:
        r = self.run
        r("08:00", engine.OpenCounter("c01", clerk="wanjiku"))
        r("08:00", engine.OpenCounter("c05", clerk="otieno"))
        self.issue("08:10", "T1", "id-card-new", phone="+254700000001")
        self.issue("08:20", "T2", "id-card-new")
        self.issue("08:25", "T3", "birth-cert")
        called = r("08:30", engine.CallNext("c01"))
        assert called[-1].data.ticket_id == "T1"
        r("08:31", engine.StartService("c01"))
        r("08:40", engine.Complete("c01"))
        assert r("08:40", engine.CallNext("c01"))[-1].data.ticket_id == "T2"
        r("08:42", engine.Recall("c01"))
        r("08:45", engine.MarkNoShow("c01"))
        assert r("08:50", engine.CallNext("c05"))[-1].data.ticket_id == "T3"
        r("08:52", engine.Transfer("c05", "id-card-collect"))
        self.issue("09:05", "T4", "id-card-replace")
        assert r("09:10", engine.CallNext("c01"))[-1].data.ticket_id == "T3"
        r("09:14", engine.Complete("c01"))
        r("09:14", engine.GiveFeedback(rating=4, ticket_id="T3"))
        r("09:15", engine.GiveFeedback(rating=2, ticket_id="T1"))
        r("09:20", engine.PauseCounter("c05"))
        r("09:50", engine.ResumeCounter("c05"))
        self.issue("10:00", "T5", "birth-cert")
        self.clock.now = at("10:30")


@pytest.fixture
def day(centre_dir) -> Day:
    d = Day(centre_dir.path)
    d.build()
    yield d
    d.centre.close()


def by_id(rows: list[dict], key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows}


def test_day_close_matches_the_hand_computed_day(day: Day) -> None:
    result = closing.close_with_centre(day.centre)
    assert (result.date, result.revision, result.new_revision, result.cancelled) == (DAY, 1, True, 2)
    s = result.summary
    assert s["centre_id"] == "demo" and s["date"] == DAY
    assert s["total"] == {
        "arrived": 5, "served": 2, "no_shows": 1, "cancelled": 2, "unfinished": 0, "transfers": 1,
        "wait_mean_s": 1245.0, "wait_median_s": 1200.0, "wait_p90_s": 1500.0, "wait_max_s": 1500.0,
        "service_mean_s": 390.0, "service_median_s": 390.0, "service_p90_s": 540.0, "service_max_s": 540.0,
        "within_target": 3, "measured": 5, "within_target_share": 0.6,
        "measured_not_called": 1,  # T4, cancelled at the close after waiting past its target, never called
        "satisfaction_mean": 3.0, "satisfaction_count": 2,
        "counters_open": 2, "staffed_hours": 4.5, "served_share": 0.4, "no_show_share": 0.2,
    }
    services = by_id(s["services"], "service_id")
    assert set(services) == {"id-card-new", "birth-cert", "id-card-collect", "id-card-replace"}
    new = services["id-card-new"]
    assert (new["arrived"], new["issued"], new["transfers_in"], new["served"], new["no_shows"], new["cancelled"],
            new["transfers"]) == (2, 2, 0, 1, 1, 0, 0)
    assert (new["wait_mean_s"], new["wait_median_s"], new["wait_p90_s"], new["wait_max_s"]) == (1200.0,) * 4
    assert (new["service_mean_s"], new["service_max_s"]) == (540.0, 540.0)
    assert (new["within_target"], new["measured"], new["within_target_share"]) == (2, 2, 1.0)
    assert (new["satisfaction_mean"], new["satisfaction_count"], new["counters"]) == (2.0, 1, 1)
    assert (new["served_share"], new["no_show_share"]) == (0.5, 0.5)
    birth = services["birth-cert"]
    assert (birth["arrived"], birth["served"], birth["cancelled"], birth["transfers"]) == (2, 0, 1, 1)
    assert (birth["wait_mean_s"], birth["within_target"], birth["measured"]) == (1500.0, 1, 1)
    assert birth["satisfaction_count"] == 0 and birth["satisfaction_mean"] is None
    collect = services["id-card-collect"]
    assert (collect["arrived"], collect["issued"], collect["transfers_in"], collect["served"]) == (1, 0, 1, 1)
    assert (collect["wait_mean_s"], collect["service_mean_s"]) == (1080.0, 240.0)
    assert (collect["within_target"], collect["measured"], collect["within_target_share"]) == (0, 1, 0.0)
    assert (collect["target_wait_s"], collect["satisfaction_mean"]) == (900, 4.0)
    replace = services["id-card-replace"]
    assert (replace["arrived"], replace["cancelled"], replace["wait_mean_s"]) == (1, 1, None)
    assert (replace["within_target"], replace["measured"], replace["within_target_share"]) == (0, 1, 0.0)
    assert replace["measured_not_called"] == 1 and new["measured_not_called"] == 0

    hours = by_id(s["hours"], "hour")
    assert sorted(hours) == [8, 9, 10]
    h8, h9, h10 = hours[8], hours[9], hours[10]
    assert (h8["arrived"], h8["served"], h8["no_shows"], h8["cancelled"], h8["transfers"]) == (3, 2, 1, 0, 1)
    assert (h8["wait_mean_s"], h8["within_target"], h8["measured"], h8["within_target_share"]) == (1245.0, 3, 4, 0.75)
    assert (h8["satisfaction_mean"], h8["counters_open"], h8["staffed_hours"]) == (3.0, 2, 2.0)
    assert (h9["arrived"], h9["cancelled"], h9["measured"], h9["within_target_share"]) == (1, 1, 1, 0.0)
    assert (h9["counters_open"], h9["staffed_hours"]) == (2, 1.5)
    assert (h10["arrived"], h10["cancelled"], h10["measured"], h10["within_target_share"]) == (1, 1, 0, None)
    assert (h10["counters_open"], h10["staffed_hours"]) == (2, 1.0)
    counters = by_id(s["counters"], "counter_id")
    assert (counters["c01"]["staffed_hours"], counters["c01"]["served"]) == (2.5, 2)
    assert (counters["c05"]["staffed_hours"], counters["c05"]["served"]) == (2.0, 0)


def test_waiting_tickets_are_cancelled_with_a_reason_and_phones_erased(day: Day) -> None:
    result = closing.close_with_centre(day.centre)
    assert result.phones_erased == 1
    db = day.centre.db
    rows = {r["id"]: r for r in db.query("SELECT id, state, cancel_reason, phone FROM tickets")}
    assert rows["T4"]["state"] == "cancelled" and rows["T4"]["cancel_reason"] == "day_closed"
    assert rows["T5"]["state"] == "cancelled"
    assert all(r["phone"] is None for r in rows.values())
    issued = [json.loads(r[0]) for r in db.execute("SELECT data FROM events WHERE type='ticket_issued'").fetchall()]
    assert [d["phone"] for d in issued] == [None] * 5
    assert day.centre.state.tickets["T1"].phone is None  # the engine's copy too, or it would write it back


def test_closing_twice_is_idempotent_and_a_late_correction_makes_a_revision(day: Day) -> None:
    day.run("10:30", engine.CallNext("c01"))  # T4, served before the close and not yet rated
    day.run("10:31", engine.StartService("c01"))
    day.run("10:35", engine.Complete("c01"))
    first = closing.close_with_centre(day.centre)
    again = closing.close_with_centre(day.centre)
    assert (again.revision, again.new_revision, again.note) == (1, False, "unchanged")
    assert again.summary == first.summary
    # a late correction: T4's citizen rates the service after the close (a rating, once given, stands)
    day.run("10:40", engine.GiveFeedback(rating=1, ticket_id="T4"))  # (4 + 2 + 1) / 3
    third = closing.close_with_centre(day.centre)
    assert (third.revision, third.new_revision) == (2, True)
    assert third.summary["total"]["satisfaction_mean"] == 2.33
    loaded = records.load_summary(day.centre.db, DAY)
    assert loaded["revision"] == 2 and loaded["total"]["satisfaction_mean"] == 2.33
    assert records.load_summary(day.centre.db, "2026-03-01") is None
    keys = [r[0] for r in day.centre.db.execute("SELECT key FROM outbox ORDER BY id").fetchall()]
    assert keys == [f"demo:{DAY}:1", f"demo:{DAY}:2"]
    payload = json.loads(day.centre.db.execute("SELECT payload FROM outbox WHERE key=?", [keys[1]]).fetchone()[0])
    assert payload["revision"] == 2 and payload["summary"]["total"]["satisfaction_mean"] == 2.33


def test_the_automatic_close_at_closing_time_and_after_the_roll_over(centre_dir) -> None:
    set_upstream(centre_dir.path)
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('closing_time = ""', 'closing_time = "18:30"'))
    settings = load_settings(centre_dir.path)
    clock = FakeClock(at("09:00"))
    centre = Centre(settings, clock=clock)
    closer = DayCloser(centre, poll_s=3600)
    closer.start()
    try:
        centre.execute(engine.IssueTicket(ticket_id="W1", service_id="kra-pin", phone="+254711111111"))
        clock.now = at("18:29")
        assert closer.run_once() == []
        clock.now = at("18:31")
        [closed] = closer.run_once()
        assert (closed.date, closed.revision, closed.cancelled) == (DAY, 1, 1)
        assert centre.state.tickets["W1"].cancel_reason == "closing_time"
        assert closer.run_once() == []  # once a day
        # after midnight the engine rolls over by itself; the closer re-summarises: same figures, same revision
        clock.now = at("23:59") + 120
        centre.execute(engine.Tick())
        [again] = closer.run_once()
        assert (again.date, again.revision, again.new_revision) == (DAY, 1, False)
    finally:
        closer.stop()
        centre.close()


def test_command_line_close_refuses_beside_a_running_server(centre_dir) -> None:
    set_upstream(centre_dir.path)
    settings = load_settings(centre_dir.path)
    with lock.server_lock(centre_dir.path), pytest.raises(DayCloseError, match="a centre server is running"):
        closing.close_offline(settings)  # the lock is held as a running server holds it
    result = closing.close_offline(settings)  # stopped: fine
    assert result.revision == 1 and result.summary["total"]["arrived"] == 0


def test_percentile_is_nearest_rank() -> None:
    assert summary.percentile([], 90) is None
    assert summary.percentile([5], 90) == 5
    assert summary.percentile(list(range(1, 11)), 90) == 9
    assert summary.percentile(list(range(1, 11)), 50) == 5
    assert summary.percentile([4, 1, 3, 2], 90) == 4


def test_a_simulated_day_is_recorded_and_not_replaced_by_an_empty_real_close(centre_dir) -> None:
    from centre_server.sim import daysim

    set_upstream(centre_dir.path)
    settings = load_settings(centre_dir.path)
    r = daysim.simulate_into_centre(settings, "2026-03-01", citizens=40, seed=7)
    assert r["new_revision"] and r["total"]["arrived"] == 40
    db = storage.connect(settings.db_path)
    try:
        assert db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 0  # the real log is untouched
        again = daysim.simulate_into_centre(settings, "2026-03-01", citizens=40, seed=7)
        assert (again["revision"], again["new_revision"]) == (1, False)
        loaded = records.load_summary(db, "2026-03-01")
        assert loaded["simulated"] is True and loaded["total"]["arrived"] == 40
    finally:
        db.conn.close()


# --------------------------------------------------------------------------
# One definition of every figure: the board, the reports and the close agree
# --------------------------------------------------------------------------


def _board(centre: Centre) -> dict:
    from centre_server.reports import live as stats

    return stats.live(centre)


def _report(centre: Centre) -> dict:
    from datetime import date

    from centre_server.web import reports

    d = date.fromisoformat(DAY)
    return reports.report(centre, d, d)


def test_a_day_has_one_p90_on_the_board_in_the_reports_and_once_closed(centre_dir) -> None:
    """Waits of 1..10 s: nearest rank gives 9 s everywhere (the reports used to say 10, the close 9)."""
    day = Day(centre_dir.path)
    day.run("08:00", engine.OpenCounter("c12", clerk="wanjiku", services=["kra-pin"]))
    base = at("09:00")
    for i in range(10):
        day.clock.now = base + i * 100
        day.centre.execute(engine.IssueTicket(ticket_id=f"K{i}", service_id="kra-pin"))
    for i in range(10):
        day.clock.now = base + i * 100 + (i + 1)  # K{i} waits i+1 seconds
        called = day.centre.execute(engine.CallNext("c12"))
        assert called[-1].data.ticket_id == f"K{i}"
        day.clock.now += 30
        day.centre.execute(engine.Complete("c12"))
    day.clock.now = at("11:00")
    board = _board(day.centre)
    [kra] = [s for s in board["services"] if s["id"] == "kra-pin"]
    report = _report(day.centre)
    assert kra["wait_p90_s"] == board["total"]["wait_p90_s"] == report["total"]["wait_p90_s"] == 9.0
    assert figures.percentile(list(range(1, 11)), 90) == 9
    closed = closing.close_with_centre(day.centre)
    assert closed.summary["total"]["wait_p90_s"] == 9.0
    assert closed.summary["total"] == {**report["total"], "counters_open": closed.summary["total"]["counters_open"],
                                       "staffed_hours": closed.summary["total"]["staffed_hours"]}
    assert _report(day.centre)["total"]["wait_p90_s"] == 9.0
    day.centre.close()


def test_no_figure_counts_a_ticket_the_close_finished_as_served(centre_dir) -> None:
    """BN001 called at 18:01 and never started, BN002 at the counter: the close must not make them served."""
    day = Day(centre_dir.path)
    day.run("08:00", engine.OpenCounter("c05", clerk="otieno"))
    day.run("08:00", engine.OpenCounter("c06", clerk="achieng"))
    for i, hhmm in enumerate(["08:10", "08:20", "08:30"]):
        day.issue(hhmm, f"S{i}", "birth-cert")
        day.run(hhmm, engine.CallNext("c05"))
        day.run(hhmm, engine.Complete("c05"))
    day.issue("17:50", "BN001", "birth-cert")
    day.issue("17:52", "BN002", "birth-cert")
    day.run("18:01", engine.CallNext("c05"))  # BN001: called, never started
    day.run("18:02", engine.CallNext("c06"))  # BN002: called and started
    day.run("18:03", engine.StartService("c06"))
    day.clock.now = at("18:08")
    before = _board(day.centre)
    assert before["served_today"] == 3 and _report(day.centre)["total"]["served"] == 3
    closed = closing.close_with_centre(day.centre)
    t = closed.summary["total"]
    assert (t["served"], t["arrived"], t["unfinished"]) == (3, 5, 0)
    assert t["service_max_s"] == 0.0  # the three served at once; nobody got a 7-minute "service" from the close
    [birth] = closed.summary["services"]
    assert birth["served"] == 3 and birth["service_mean_s"] == 0.0
    assert sum(c["served"] for c in closed.summary["counters"]) == 3
    after = _board(day.centre)
    assert after["served_today"] == 3 and _report(day.centre)["total"]["served"] == 3
    assert [s["served_today"] for s in after["services"] if s["id"] == "birth-cert"] == [3]
    day.centre.close()


def test_a_closed_day_says_closed_and_a_later_change_sends_a_new_revision(centre_dir) -> None:
    """"Close the day" on the board: the reports say closed; a rating (or a ticket) after it gives revision 2."""
    day = Day(centre_dir.path)
    day.build()
    day.run("10:30", engine.CallNext("c01"))  # T4, served before the close and not yet rated
    day.run("10:35", engine.Complete("c01"))
    closer = DayCloser(day.centre, poll_s=3600)
    sent: list[closing.CloseResult] = []
    closer.on_recorded = sent.append
    closer.start()
    try:
        assert not _report(day.centre)["closed"]
        first = closing.close_with_centre(day.centre)  # what POST /api/v1/day/close does
        report = _report(day.centre)
        assert report["closed"] and report["days"][0]["closed"] and report["days"][0]["revision"] == 1
        assert [r for r in closer.run_once() if r.new_revision] == []  # nothing changed since
        day.run("10:40", engine.GiveFeedback(rating=1, ticket_id="T4"))  # a rating after the close: (4 + 2 + 1) / 3
        [again] = [r for r in closer.run_once() if r.new_revision]
        assert (again.date, again.revision) == (DAY, 2) and sent[-1].key == f"demo:{DAY}:2"
        assert records.load_summary(day.centre.db, DAY)["total"]["satisfaction_mean"] == 2.33
        assert _report(day.centre)["days"][0]["revision"] == 2
        try:  # a ticket issued after the close: refused by an engine that knows the day is closed, else counted
            day.issue("10:45", "LATE", "kra-pin")
        except engine.QueueError:
            arrived = first.summary["total"]["arrived"]
        else:
            [late] = [r for r in closer.run_once() if r.new_revision]
            assert late.revision == 3
            arrived = first.summary["total"]["arrived"] + 1
        assert records.load_summary(day.centre.db, DAY)["total"]["arrived"] == arrived
        assert _report(day.centre)["total"]["arrived"] == arrived
    finally:
        closer.stop()
        day.centre.close()


class TickingClock:
    """A loaded machine: time moves on between any two looks at the clock."""

    def __init__(self, now: float, step: float) -> None:
        self.now, self.step = now, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_close_cut_after_its_summary_and_run_again_makes_no_second_revision(centre_dir) -> None:
    """The close read ``now`` before the engine closed the counters, so its summary clipped their hours short;
    the re-close after a power cut read a later ``now`` and made revision 2 of the same day."""
    set_upstream(centre_dir.path)
    clock = TickingClock(at("09:00"), 40)
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    try:
        centre.execute(engine.OpenCounter("c12", clerk="wanjiku", services=["kra-pin"]))
        centre.execute(engine.IssueTicket(ticket_id="P1", service_id="kra-pin"))
        centre.execute(engine.CallNext("c12"))
        first = closing.close_with_centre(centre)
        again = closing.close_with_centre(centre)  # the answer was lost in the cut: the manager closes again
        assert (again.revision, again.new_revision) == (1, False)
        assert again.summary == first.summary
    finally:
        centre.close()


def test_every_figure_is_defined_in_one_module() -> None:
    """stats.py and dayclose.py each had a percentile (10 s and 9 s for waits 1..10): now only figures.py has."""
    import ast
    import importlib
    from pathlib import Path

    root = Path(figures.__file__).resolve().parents[2]
    users = ["centre_server.reports.live", "centre_server.http.routes.stats", "centre_server.web.reports",
             "centre_server.dayclose.summary", "hq.board"]
    for name in users:
        module = importlib.import_module(name)
        assert "figures" in vars(module) or module.__name__ == "centre_server.http.routes.stats", name
    assert summary.percentile is figures.percentile and summary.summarise is figures.summarise
    defined = []
    for path in [*(root / "centre_server").rglob("*.py"), *(root / "hq").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in ("percentile", "median", "service_level"):
                defined.append(f"{path.relative_to(root)}:{node.name}")
    assert sorted(defined) == ["centre_server/reports/figures.py:median", "centre_server/reports/figures.py:percentile",
                               "centre_server/reports/figures.py:service_level"]
    api_stats = (root / "centre_server" / "http" / "routes" / "stats.py").read_text()
    # the board's API reads stats.live, which reads figures
    assert "from centre_server.reports import live as stats" in api_stats


def test_only_citizens_in_the_hall_count_in_the_share_within_target(centre_dir) -> None:
    """A USSD ticket whose citizen never came (never checked in, cancelled at the close) waited nowhere: it is
    not "below target" on the board, in the reports or once closed. One who checked in and waited past the
    target without a call counts; the share has one definition (``figures.service_level``)."""
    day = Day(centre_dir.path)
    day.run("08:00", engine.OpenCounter("c12", clerk="wanjiku", services=["kra-pin"]))
    day.run("08:05", engine.IssueTicket(ticket_id="H1", service_id="sha-registration", channel=Channel.ussd,
                                        phone="+254722000111", checked_in=False))
    day.run("08:06", engine.IssueTicket(ticket_id="K1", service_id="kra-pin", channel=Channel.sms,
                                        phone="+254722000112", checked_in=False))
    day.run("08:07", engine.IssueTicket(ticket_id="K2", service_id="kra-pin", channel=Channel.web,
                                        phone="+254722000113", checked_in=False))
    day.issue("08:10", "K3", "kra-pin")
    day.run("08:20", engine.CheckIn("K1"))  # came: in the hall, then never called (the counter calls K3 only)
    assert day.run("08:25", engine.CallTicket("c12", "K3"))[-1].data.ticket_id == "K3"
    day.run("08:30", engine.Complete("c12"))
    day.clock.now = at("10:00")  # K1 waited 1 h 54 min in the hall, target 30 min; K2 and H1 never came

    def shares(rows: list[dict], key: str) -> dict[str, tuple]:
        return {r[key]: (r["within_target"], r["measured"]) for r in rows if r[key] in ("kra-pin", "sha-registration")}

    board = _board(day.centre)
    on_board = {s["id"]: (s["within_target"], s["measured"], s["service_level"]) for s in board["services"]
                if s["id"] in ("kra-pin", "sha-registration")}
    assert on_board == {"kra-pin": (1, 2, 0.5), "sha-registration": (0, 0, None)}
    report = _report(day.centre)
    assert shares(report["services"], "service_id") == {"kra-pin": (1, 2), "sha-registration": (0, 0)}
    assert (report["total"]["within_target"], report["total"]["measured"]) == (1, 2)
    closed = closing.close_with_centre(day.centre)  # H1 and K2 cancelled at the close, never in the hall
    assert shares(closed.summary["services"], "service_id") == {"kra-pin": (1, 2), "sha-registration": (0, 0)}
    assert closed.summary["total"]["within_target_share"] == 0.5
    day.centre.close()
def test_a_remote_ticket_never_checked_in_is_not_a_miss_of_the_share(day: Day) -> None:
    """newuser finding 10: an SMS ticket whose citizen never came made its service "0% within target" on the
    board, the reports and at headquarters, though nobody waited in the hall. One checked in and never
    called is a miss as any citizen in the hall."""
    sms = engine.Channel.sms
    day.run("10:05", engine.IssueTicket(ticket_id="R1", service_id="id-card-replace", channel=sms,
                                        phone="+254700000011", checked_in=False))
    day.run("10:05", engine.IssueTicket(ticket_id="R2", service_id="id-card-replace", channel=sms,
                                        phone="+254700000012", checked_in=False))
    day.run("10:06", engine.CheckIn("R2"))
    day.clock.now = at("13:30")  # both far past the target, neither called
    replace = by_id(closing.close_with_centre(day.centre).summary["services"], "service_id")["id-card-replace"]
    # T4 (in the hall, never called) and R2 (checked in, never called) are misses; R1 never came
    assert (replace["arrived"], replace["measured"], replace["within_target"]) == (3, 2, 0)
    assert replace["measured_not_called"] == 2
