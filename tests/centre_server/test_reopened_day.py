"""A day a manager reopened after its close is open again: no revision for headquarters until it closes again.

Found on a fresh clone: "Close the day", "Reopen today", then every new ticket
queued a new revision of the day ("changed after its summary: revision N
queued"), and the reports still said "closed". The real engine and SQLite file,
driven at chosen times; the closer is called as its thread calls it.
"""

from __future__ import annotations

from datetime import date

from centre_server.config import load_settings
from centre_server.dayclose import closing
from centre_server.dayclose.closer import DayCloser
from centre_server.queue import engine
from centre_server.runtime.centre import Centre
from centre_server.sim.daysim import FakeClock
from centre_server.web import reports
from tests.centre_server.test_dayclose import DAY, Day, at
from tests.conftest import set_upstream


def _revisions(centre: Centre) -> list[int]:
    return [r[0] for r in centre.db.execute("SELECT revision FROM daily_summaries WHERE date=? ORDER BY revision",
                                            [DAY]).fetchall()]


def _outbox(centre: Centre) -> list[str]:
    return [r[0] for r in centre.db.execute("SELECT key FROM outbox ORDER BY id").fetchall()]


def _day(centre: Centre) -> dict:
    rep = reports.report(centre, date.fromisoformat(DAY), date.fromisoformat(DAY))
    assert rep["days"][0]["closed"] == rep["closed"] and rep["days"][0]["reopened"] == rep["reopened"]
    return rep["days"][0]


def _business_on_the_reopened_day(day: Day, closer: DayCloser, n: int) -> None:
    """``n`` new tickets, one served and rated: each a change to the day, none a revision while it is open."""
    for i in range(n):
        day.issue(f"11:{i:02d}", f"R{i}", "kra-pin")
        assert [r for r in closer.run_once() if r.new_revision] == []
    day.run("11:30", engine.OpenCounter("c12", clerk="wanjiku", services=["kra-pin"]))
    assert day.run("11:31", engine.CallNext("c12"))[-1].data.ticket_id == "R0"
    day.run("11:35", engine.Complete("c12"))
    day.run("11:36", engine.GiveFeedback(rating=4, ticket_id="R0"))
    assert [r for r in closer.run_once() if r.new_revision] == []


def test_a_reopened_day_sends_no_revision_until_it_is_closed_again_then_exactly_one(centre_dir) -> None:
    day = Day(centre_dir.path)
    day.build()
    closer = DayCloser(day.centre, poll_s=3600)
    sent: list[closing.CloseResult] = []
    closer.on_recorded = sent.append
    closer.start()
    try:
        first = closing.close_with_centre(day.centre)  # "Close the day" on the board
        assert (first.revision, first.new_revision) == (1, True)
        assert _day(day.centre)["closed"] and not _day(day.centre)["reopened"]

        day.run("10:40", engine.ReopenDay())  # "Reopen today"
        shown = _day(day.centre)
        assert (shown["closed"], shown["reopened"], shown["revision"]) == (False, True, 1)

        _business_on_the_reopened_day(day, closer, 18)
        assert _revisions(day.centre) == [1] and _outbox(day.centre) == [f"demo:{DAY}:1"] and sent == []
        assert _day(day.centre)["arrived"] == first.summary["total"]["arrived"] + 18  # the report is live

        assert day.run("11:40", engine.CallNext("c12"))[-1].data.ticket_id == "R1"
        day.run("11:45", engine.Complete("c12"))  # served, rated only after the next close
        second = closing.close_with_centre(day.centre)  # closed again: one new revision with the new tickets
        assert (second.revision, second.new_revision) == (2, True)
        assert second.summary["total"]["arrived"] == first.summary["total"]["arrived"] + 18
        assert _revisions(day.centre) == [1, 2] and _outbox(day.centre) == [f"demo:{DAY}:1", f"demo:{DAY}:2"]
        assert [r for r in closer.run_once() if r.new_revision] == []
        shown = _day(day.centre)
        assert (shown["closed"], shown["reopened"], shown["revision"]) == (True, False, 2)

        # closed for good now: a late rating is a late correction again, one new revision
        day.run("12:00", engine.GiveFeedback(rating=1, ticket_id="R1"))
        [late] = [r for r in closer.run_once() if r.new_revision]
        assert (late.date, late.revision) == (DAY, 3) and _revisions(day.centre) == [1, 2, 3]
    finally:
        closer.stop()
        day.centre.close()


def test_a_server_restarted_while_the_day_is_reopened_still_waits_for_the_close(centre_dir) -> None:
    day = Day(centre_dir.path)
    day.build()
    closing.close_with_centre(day.centre)
    day.run("10:40", engine.ReopenDay())
    day.centre.close()

    centre = Centre(day.settings, clock=day.clock)  # the server restarts: the reopened day is still open
    day.centre = centre
    closer = DayCloser(centre, poll_s=3600)
    closer.start()  # a restart looks again at the days summarised lately: not at the one open again
    try:
        assert centre.state.reopened == DAY and not centre.state.closed
        assert [r for r in closer.run_once() if r.new_revision] == []
        _business_on_the_reopened_day(day, closer, 3)
        assert _revisions(centre) == [1]
        again = closing.close_with_centre(centre)
        assert (again.revision, again.new_revision) == (2, True) and _revisions(centre) == [1, 2]
    finally:
        closer.stop()
        centre.close()


def test_the_midnight_roll_over_closes_a_reopened_day_with_one_revision(centre_dir) -> None:
    day = Day(centre_dir.path)
    day.build()
    closer = DayCloser(day.centre, poll_s=3600)
    closer.start()
    try:
        first = closing.close_with_centre(day.centre)
        day.run("10:40", engine.ReopenDay())
        _business_on_the_reopened_day(day, closer, 4)
        assert _revisions(day.centre) == [1]
        day.clock.now = at("23:59") + 120  # past midnight: the engine rolls over by itself
        day.centre.execute(engine.Tick())
        [rolled] = [r for r in closer.run_once() if r.new_revision]
        assert (rolled.date, rolled.revision) == (DAY, 2)
        assert rolled.summary["total"]["arrived"] == first.summary["total"]["arrived"] + 4
        assert [r for r in closer.run_once() if r.new_revision] == [] and _revisions(day.centre) == [1, 2]
        assert _day(day.centre)["closed"] and not _day(day.centre)["reopened"]
    finally:
        closer.stop()
        day.centre.close()


def test_the_closing_time_close_leaves_a_day_a_manager_reopened_to_the_manager(centre_dir) -> None:
    """The closing time had passed (a typo, say) and the manager reopened before the closer's next pass:
    the closer must not close it again at once; the manager's close does, with revision 1."""
    set_upstream(centre_dir.path)
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('closing_time = ""', 'closing_time = "18:30"'))
    clock = FakeClock(at("18:31"))
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    closer = DayCloser(centre, poll_s=3600)
    try:
        centre.execute(engine.ReopenDay())  # the engine already refuses tickets by the clock: a manager reopens
        closer.start()
        assert closer.run_once() == []
        centre.execute(engine.IssueTicket(ticket_id="L1", service_id="kra-pin"))
        clock.now = at("19:00")
        assert closer.run_once() == [] and _revisions(centre) == []
        assert not centre.state.closed
        closed = closing.close_with_centre(centre)
        assert (closed.revision, closed.summary["total"]["arrived"]) == (1, 1)
    finally:
        closer.stop()
        centre.close()
