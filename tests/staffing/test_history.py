"""The history the advisor learns from, read from a real centre database written by the real engine."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from centre_server.config import load_settings
from centre_server.queue import engine
from centre_server.runtime.centre import Centre, new_ticket_id
from centre_server.staffing.history import read_history

NAIROBI = ZoneInfo("Africa/Nairobi")


def at(hour: int, minute: int) -> float:
    return datetime(2026, 3, 2, hour, minute, tzinfo=NAIROBI).timestamp()


def test_arrivals_per_half_hour_first_service_durations_and_patience(centre_dir):
    now = [at(8, 0)]
    centre = Centre(load_settings(centre_dir.path), clock=lambda: now[0])

    def run(when: float, command) -> list:
        now[0] = when
        return centre.execute(command)

    try:
        run(at(8, 0), engine.OpenCounter("c12", clerk="clerk"))
        kra = [new_ticket_id() for _ in range(8)]
        for tid in kra:
            run(at(8, 10), engine.IssueTicket(ticket_id=tid, service_id="kra-pin"))
        run(at(8, 40), engine.IssueTicket(ticket_id=new_ticket_id(), service_id="passport"))
        run(at(8, 20), engine.CallNext("c12"))  # waited 10 min
        run(at(8, 21), engine.StartService("c12"))
        run(at(8, 31), engine.Transfer("c12", "passport"))  # counted once, for the service it came for
        run(at(8, 32), engine.CallNext("c12"))  # waited 22 min
        run(at(8, 33), engine.StartService("c12"))
        run(at(8, 43), engine.Complete("c12"))
        for tid in kra[2:]:  # six give up after 30 minutes
            run(at(8, 40), engine.CancelTicket(tid, reason="abandoned"))
    finally:
        centre.close()
    from centre_server.store import database as storage

    db = storage.connect(centre_dir.path / "centre.db")
    try:
        hist = read_history(db, "Africa/Nairobi", date(2026, 3, 1), date(2026, 3, 2))
    finally:
        db.conn.close()
    per = hist.counts[date(2026, 3, 2)]
    assert per["kra-pin"][16] == 8 and sum(per["kra-pin"]) == 8  # 08:00-08:30
    assert per["passport"][17] == 1 and sum(per["passport"]) == 1  # the transferred ticket is not a second arrival
    assert hist.durations["kra-pin"] == [600.0]  # the transferred one's time at the first counter is not a service
    # six left after 30 min; everyone's waiting: 10 + 22 + 6 x 30 = 212 min, over six who left
    assert hist.patience_s == pytest.approx(212 * 60 / 6)


def test_a_centre_with_too_little_history_is_told_so_without_a_plan_being_started(centre_dir):
    """/tomorrow on a new centre (finding 14): the plan is made in the background when it can come; with fewer
    open days than the forecast needs the answer is "not enough history" at once, never "being prepared"
    first. Two days of tickets: the count agrees with what the history reader holds."""
    from datetime import timedelta

    from centre_server.staffing import advisor
    from centre_server.staffing.forecast import MIN_DAYS
    from centre_server.staffing.history import open_days
    from centre_server.store import database as storage

    now = [at(9, 0)]
    centre = Centre(load_settings(centre_dir.path), clock=lambda: now[0])
    try:
        centre.execute(engine.IssueTicket(ticket_id=new_ticket_id(), service_id="kra-pin"))
        centre.execute(engine.CloseDay())
        now[0] = at(9, 0) + 86400
        centre.execute(engine.IssueTicket(ticket_id=new_ticket_id(), service_id="kra-pin"))
    finally:
        centre.close()
    settings = load_settings(centre_dir.path)
    today = date(2026, 3, 4)
    db = storage.connect(centre_dir.path / "centre.db")
    started = {t.name for t in advisor._background.values()}
    try:
        assert open_days(db, date(2026, 1, 1), today - timedelta(days=1)) == 2
        assert len(read_history(db, "Africa/Nairobi", date(2026, 1, 1), today - timedelta(days=1)).days) == 2
        with pytest.raises(advisor.PlanError) as err:
            advisor.plan_if_ready(settings, lambda: storage.connect(centre_dir.path / "centre.db"),
                                  today + timedelta(days=1), today=today)
    finally:
        db.conn.close()
    assert err.value.history_days == 2 < MIN_DAYS
    assert "not enough history" in str(err.value)
    # nothing was set to work in the background: the page's first answer is the true one
    assert {t.name for t in advisor._background.values()} == started
    assert not any(key[1] == today + timedelta(days=1) for key in advisor._failed)
