"""NTP corrections around midnight, through the real Centre and its SQLite file (and a restart)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from centre_server import engine
from centre_server.centre import Centre, new_ticket_id
from centre_server.config import load_settings
from centre_server.contract import TicketState

NBO = ZoneInfo("Africa/Nairobi")


class Clock:
    def __init__(self, when: datetime) -> None:
        self.now = when.timestamp()

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def issue(centre: Centre, service: str = "kra-pin"):
    tid = new_ticket_id()
    centre.execute(engine.IssueTicket(tid, service))
    return centre.ticket(tid)


def test_clock_stepping_back_and_forth_over_midnight(centre_dir):
    settings = load_settings(centre_dir.path)
    clock = Clock(datetime(2026, 11, 23, 23, 58, tzinfo=NBO))
    centre = Centre(settings, clock=clock)
    first = issue(centre)
    second = issue(centre)
    assert (first.number, second.number, first.day) == ("K001", "K002", "2026-11-23")
    # NTP jumps the clock forward past midnight: a new day, numbers start again, yesterday closed
    clock.set(datetime(2026, 11, 24, 0, 3, tzinfo=NBO))
    third = issue(centre)
    assert (third.number, third.day) == ("K001", "2026-11-24")
    assert centre.ticket(first.id).state == TicketState.cancelled
    # then corrects itself back to 23:59 of the old day: the closed day is not reopened
    clock.set(datetime(2026, 11, 23, 23, 59, tzinfo=NBO))
    fourth = issue(centre)
    assert (fourth.number, fourth.day) == ("K002", "2026-11-24")
    centre.close()
    # a restart (still at the stepped-back time) carries on the same way, with nothing issued twice
    again = Centre(settings, clock=clock)
    fifth = issue(again)
    assert (fifth.number, fifth.day) == ("K003", "2026-11-24")
    rows = again.db.execute("SELECT day, number FROM tickets ORDER BY issued_at").fetchall()
    assert len(rows) == len(set(rows)) == 5
    again.close()
