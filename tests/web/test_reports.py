"""Reports over a range: the real engine and SQLite file, driven at chosen times (the clock is an input)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from centre_server.config import load_settings
from centre_server.queue import engine
from centre_server.runtime.centre import Centre, new_ticket_id
from centre_server.web import reports

NAIROBI = ZoneInfo("Africa/Nairobi")


def at(day: int, hour: int, minute: int) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=NAIROBI).timestamp()


@pytest.fixture
def two_days(centre_dir):
    """Day 1: A waits 10 min, served 5 min; B waits 20 min, no-show. Day 2: C waits 30 min, served 10 min."""
    now = [at(2, 9, 0)]
    centre = Centre(load_settings(centre_dir.path), clock=lambda: now[0])

    def run(when: float, command) -> list:
        now[0] = when
        return centre.execute(command)

    run(at(2, 9, 0), engine.OpenCounter("c01", clerk="clerk"))
    a, b, c = new_ticket_id(), new_ticket_id(), new_ticket_id()
    run(at(2, 9, 0), engine.IssueTicket(ticket_id=a, service_id="id-card-new"))
    run(at(2, 9, 0), engine.IssueTicket(ticket_id=b, service_id="id-card-new"))
    run(at(2, 9, 10), engine.CallNext("c01"))
    run(at(2, 9, 15), engine.Complete("c01", "served"))
    run(at(2, 9, 20), engine.CallNext("c01"))
    run(at(2, 9, 21), engine.MarkNoShow("c01"))
    run(at(3, 9, 0), engine.IssueTicket(ticket_id=c, service_id="id-card-new"))  # the day rolls over first
    run(at(3, 9, 0), engine.OpenCounter("c01", clerk="clerk"))
    run(at(3, 9, 30), engine.CallNext("c01"))
    run(at(3, 9, 40), engine.Complete("c01", "served"))
    yield centre
    centre.close()


def test_a_range_adds_days_up_with_weighted_means(two_days):
    rep = reports.report(two_days, date(2026, 3, 2), date(2026, 3, 3))
    assert [d["date"] for d in rep["days"]] == ["2026-03-02", "2026-03-03"]
    assert [d["arrived"] for d in rep["days"]] == [2, 1]
    t = rep["total"]
    assert (t["arrived"], t["served"], t["no_shows"]) == (3, 2, 1)
    assert t["wait_mean_s"] == 1200  # the mean of 600, 1200 and 1800, not the mean of the daily means (1350)
    assert (t["wait_max_s"], t["service_mean_s"], t["service_max_s"]) == (1800, 450, 600)
    assert t["within_target_share"] == 1.0  # id-card-new's target is 30 min
    assert (t["served_share"], t["no_show_share"]) == (round(2 / 3, 4), round(1 / 3, 4))
    [svc] = rep["services"]
    assert (svc["service_id"], svc["arrived"], svc["wait_mean_s"]) == ("id-card-new", 3, 1200)
    # hour rows: the hours citizens came, and the hours a counter was staffed (c01 stayed open overnight)
    assert [(h["hour"], h["arrived"]) for h in rep["hours"] if h["arrived"]] == [(9, 3)]

    rows = list(csv.DictReader(io.StringIO(reports.csv_text(rep))))
    total = next(r for r in rows if r["scope"] == "total")
    assert (total["wait_mean_min"], total["service_mean_min"], total["served_pct"]) == ("20.0", "7.5", "66.7")
    assert [r["key"] for r in rows if r["scope"] == "day"] == ["2026-03-02", "2026-03-03"]
    assert [r["key"] for r in rows if r["scope"] == "hour" and r["arrived"] != "0"] == ["09:00"]


def test_a_closed_day_is_read_from_its_stored_summary(two_days):
    from centre_server.dayclose import closing

    computed = reports.day_summary(two_days, "2026-03-02")
    assert not computed["closed"] and "revision" not in computed  # computed: the day was never closed
    result = closing.close_with_centre(two_days, "2026-03-02")
    assert result.revision == 1
    stored = reports.day_summary(two_days, "2026-03-02")
    assert stored["closed"] and stored["revision"] == 1 and stored["date"] == "2026-03-02"  # the stored summary
    computed.pop("closed")
    assert {k: v for k, v in stored.items() if k not in ("closed", "revision", "created_at")} == computed
    # the open day is always computed live; the range agrees whichever source each day came from
    assert not reports.day_summary(two_days, "2026-03-03")["closed"]
    rep = reports.report(two_days, date(2026, 3, 2), date(2026, 3, 3))
    assert [d["closed"] for d in rep["days"]] == [True, False]
    t = rep["total"]
    assert (t["arrived"], t["served"], t["wait_mean_s"], t["service_mean_s"]) == (3, 2, 1200, 450)


@pytest.mark.parametrize("start,end", [("2026-03-05", "2026-03-01"), ("yesterday", None), ("2026-01-01", "2026-12-31")])
def test_ranges_a_person_may_not_ask_for(start, end):
    with pytest.raises(reports.RangeError):
        reports.parse_range(start, end, "2026-03-03")


def test_missing_dates_mean_today_or_one_day():
    assert reports.parse_range(None, None, "2026-03-03") == (date(2026, 3, 3), date(2026, 3, 3))
    assert reports.parse_range("2026-03-01", None, "2026-03-03") == (date(2026, 3, 1), date(2026, 3, 1))
