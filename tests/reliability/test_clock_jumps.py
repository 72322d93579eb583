"""NTP corrections around midnight, through the real Centre and its SQLite file (and a restart)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from centre_server.config import load_settings
from centre_server.contract import TicketState
from centre_server.queue import engine
from centre_server.runtime.centre import Centre, new_ticket_id

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


def test_a_retry_across_midnight_and_a_restart_gets_its_ticket_back(centre_dir):
    """A kiosk's Idempotency-Key holds for today and the day before, also after a restart;
    a key reused days later is simply a new ticket, never a failed commit."""
    settings = load_settings(centre_dir.path)
    clock = Clock(datetime(2026, 11, 23, 23, 59, tzinfo=NBO))
    centre = Centre(settings, clock=clock)
    centre.execute(engine.IssueTicket("t-before", "kra-pin", idempotency_key="kiosk-1:r1"))
    clock.set(datetime(2026, 11, 24, 0, 1, tzinfo=NBO))
    centre.execute(engine.IssueTicket("t-after", "kra-pin"))  # the new day has begun, on disk too
    centre.close()
    again = Centre(settings, clock=clock)  # restarted after midnight: yesterday's keys come back from disk
    assert again.state.day == "2026-11-24" and "kiosk-1:r1" in again.state.earlier_keys
    events = again.execute(engine.IssueTicket("t-retry", "kra-pin", idempotency_key="kiosk-1:r1"))
    assert not any(ev.type.value == "ticket_issued" for ev in events)
    assert engine.issued_for(again.state, "kiosk-1:r1") == "t-before" and again.ticket("t-retry") is None
    # two days on, the same key (a kiosk's counter restarting) issues a new ticket, and it is stored
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=NBO))
    again.execute(engine.IssueTicket("t-new", "kra-pin", idempotency_key="kiosk-1:r1"))
    assert again.ticket("t-new").day == "2026-11-26"
    rows = again.db.execute("SELECT id FROM tickets WHERE idempotency_key='kiosk-1:r1' ORDER BY day").fetchall()
    assert [r[0] for r in rows] == ["t-before", "t-new"]
    again.close()
