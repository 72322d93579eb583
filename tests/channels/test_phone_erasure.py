"""A closed day keeps no phone numbers (issue 16, item 6): every table and the SMS log, for every kind of close.

The attack as found: after a manager's day close, ``sms_outbox`` still held
the numbers. Here a real day is lived on a real Centre and ChannelHub (real
SQLite file, the log SMS gateway writing DIR/sms.log, the outbox worker
sending): remote tickets by SMS and on the web, a kiosk ticket with a phone,
bookings for today and for a later day, a citizen's stray SMS, tickets called
and served (so "called" and "rate us" SMS go out). Then the day closes, and
every cell of every table and every line of the log is searched for the numbers.
The close through ``POST /api/v1/day/close`` on the real server process is in
``test_phone_erasure_server.py``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from centre_server.channels.core import ChannelHub
from centre_server.channels.settings import ChannelSettings
from centre_server.config import load_settings
from centre_server.contract import Channel
from centre_server.dayclose import closing
from centre_server.dayclose.closer import DayCloser
from centre_server.queue import engine
from centre_server.runtime.centre import Centre

NAIROBI = ZoneInfo("Africa/Nairobi")
DAY = "2030-01-07"  # a Monday: the demo centre is open


def at(hh: int, mm: int, day: int = 7) -> float:
    return datetime(2030, 1, day, hh, mm, tzinfo=NAIROBI).timestamp()


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def digits(phone: str) -> str:
    """The part of a number every stored form shares (+254712…, 0712…, 254712…)."""
    return phone[-9:]


def where_numbers_are(db_path: Path, log: Path, phones: list[str]) -> dict[str, list[str]]:
    """Every place (``table.column`` or ``sms.log:line``) still holding one of the numbers."""
    found: dict[str, list[str]] = {}
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cur = conn.execute(f"SELECT * FROM {table}")
            cols = [d[0] for d in cur.description]
            for row in cur.fetchall():
                for col, value in zip(cols, row):
                    for p in phones:
                        if value is not None and digits(p) in str(value):
                            found.setdefault(p, []).append(f"{table}.{col}")
    finally:
        conn.close()
    if log.is_file():
        for n, line in enumerate(log.read_text().splitlines(), 1):
            for p in phones:
                if digits(p) in line:
                    found.setdefault(p, []).append(f"sms.log:{n}")
    return found


def live_a_day(hub: ChannelHub, clock: Clock) -> dict[str, str]:
    """The day's citizens by what they did; returns their numbers by role."""
    centre = hub.centre
    phones = {"sms": "+254711000101", "web": "+254711000102", "kiosk": "+254711000103",
              "booked_today": "+254711000104", "booked_later": "+254711000105", "stray": "+254711000106",
              "waiting": "+254711000107"}
    clock.t = at(8, 0)
    centre.execute(engine.OpenCounter("c05", services=("kra-pin",), clerk="otieno"))
    prefix = centre.state.services["kra-pin"].prefix
    clock.t = at(8, 5)
    assert hub.inbound_sms(phones["sms"], prefix) == "joined"
    web, _code = hub.issue_remote("kra-pin", phones["web"], "sw", Channel.web)
    centre.execute(engine.IssueTicket(ticket_id="K1", service_id="kra-pin", phone=phones["kiosk"]))
    hub.issue_remote("kra-pin", phones["waiting"], "en", Channel.web)  # still waiting at the close
    for role, slot in (("booked_today", at(11, 0)), ("booked_later", at(11, 0, day=9))):
        pending = hub.book("passport", slot, phones[role], "en")
        hub.confirm_booking(pending["id"], hub.pending_of(pending["id"])["code"])
    assert hub.inbound_sms(phones["stray"], "hello?") != "joined"
    hub.check_in(phone=phones["sms"])  # both remote citizens arrive and check in at the kiosk
    hub.check_in(code=_code)
    for minute in (10, 20, 30):  # three served: "called" and "rate us" SMS
        clock.t = at(8, minute)
        centre.execute(engine.CallNext("c05"))
        clock.t = at(8, minute + 5)
        centre.execute(engine.Complete("c05"))
    hub.worker.send_due(100)
    sent = hub.db.execute("SELECT COUNT(*) FROM sms_outbox WHERE sent_at IS NOT NULL").fetchone()[0]
    assert sent >= 8, "the day must have sent SMS for the log to hold numbers"
    return phones


@pytest.fixture
def day_hub(centre_dir):
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('closing_time = ""', 'closing_time = "17:00"'))
    clock = Clock(at(7, 0))
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    hub = ChannelHub(centre, ChannelSettings(sms_gateway="log", remote_per_service_per_hour=50), centre_dir.path)
    yield hub, clock, centre_dir.path
    hub.stop()
    centre.close()


def test_a_managers_close_erases_every_number_but_a_booking_still_to_come(day_hub) -> None:
    hub, clock, path = day_hub
    phones = live_a_day(hub, clock)
    log = path / "sms.log"
    before = where_numbers_are(path / "centre.db", log, list(phones.values()))
    assert {"sms_outbox.phone", "remote_codes.phone", "appointments.phone"} <= {
        p for places in before.values() for p in places}
    assert any(p.startswith("sms.log") for p in before[phones["sms"]])
    clock.t = at(12, 0)
    result = closing.close_with_centre(hub.centre, reason="closed_by_manager")  # what the manager's POST runs
    assert result.phones_erased >= 4
    after = where_numbers_are(path / "centre.db", log, list(phones.values()))
    # the citizen booked for Wednesday keeps the number the reminder and check-in need, in that row only
    assert after.pop(phones["booked_later"], []) == ["appointments.phone"]
    assert after == {}, after
    assert "[erased]" in log.read_text()


def test_the_closing_time_close_and_the_midnight_roll_over_erase_them_too(day_hub) -> None:
    hub, clock, path = day_hub
    closer = DayCloser(hub.centre, poll_s=3600)
    phones = live_a_day(hub, clock)
    log = path / "sms.log"
    clock.t = at(17, 1)
    [closed] = closer.run_once()  # the closing-time close
    assert closed.date == DAY
    after = where_numbers_are(path / "centre.db", log, list(phones.values()))
    assert after.pop(phones["booked_later"], []) == ["appointments.phone"]
    assert after == {}, after

    # the next day: a citizen joins by SMS and never comes; midnight rolls the day over with no close
    late = "+254711000199"
    clock.t = at(8, 10, day=8)
    hub.centre.execute(engine.Tick())
    assert hub.inbound_sms(late, hub.centre.state.services["kra-pin"].prefix) == "joined"
    hub.worker.send_due(100)
    assert late[-9:] in log.read_text()
    clock.t = at(0, 5, day=9)
    hub.centre.execute(engine.Tick())
    closer.run_once()  # after the roll-over the closer summarises the day before
    after = where_numbers_are(path / "centre.db", log, [late])
    assert after == {}, after


def test_retention_days_keeps_the_numbers_of_the_days_kept(centre_dir) -> None:
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace("phone_retention_days = 0", "phone_retention_days = 1"))
    clock = Clock(at(7, 0))
    centre = Centre(load_settings(centre_dir.path), clock=clock)
    hub = ChannelHub(centre, ChannelSettings(sms_gateway="log", remote_per_service_per_hour=50), centre_dir.path)
    try:
        phones = live_a_day(hub, clock)
        clock.t = at(12, 0)
        closing.close_with_centre(centre)
        kept = where_numbers_are(centre_dir.path / "centre.db", centre_dir.path / "sms.log", list(phones.values()))
        assert set(kept) == set(phones.values())  # one day kept: nothing of today erased yet
        # a day later the close of the 8th erases the 7th's
        clock.t = at(12, 0, day=8)
        centre.execute(engine.Tick())
        # the roll-over at midnight keeps the 7th's numbers too: one day is retained
        rolled = where_numbers_are(centre_dir.path / "centre.db", centre_dir.path / "sms.log", list(phones.values()))
        assert any("tickets.phone" in places for places in rolled.values()), rolled
        closing.close_with_centre(centre)
        after = where_numbers_are(centre_dir.path / "centre.db", centre_dir.path / "sms.log", list(phones.values()))
        assert after.pop(phones["booked_later"], []) == ["appointments.phone"]
        assert after == {}, after
    finally:
        hub.stop()
        centre.close()


def test_the_close_counts_the_messages_the_worker_sent_just_before_it(day_hub) -> None:
    """The close's texts may go in the outbox worker's own round before the close's flush: they are still
    counted as sent (the close once logged "0 message(s) sent" while the citizen had the SMS)."""
    from centre_server.channels.core import CLOSE_SMS_KIND

    hub, clock, path = day_hub
    clock.t = at(12, 0)
    hub.enqueue("close:early", "+254711000301", CLOSE_SMS_KIND, None, "The centre has closed for today.")
    hub.enqueue("close:late", "+254711000302", CLOSE_SMS_KIND, None, "The centre has closed for today.")
    hub.worker.send_due(1)  # the worker's round takes the first
    hub.send_before_erasure(DAY)  # the flush sends the other
    assert hub.told_at_close[DAY] == (2, 0)
    assert (path / "sms.log").read_text().count("The centre has closed for today.") == 2
