"""The estimate of a two-service visit as the kiosk prints it, on the days a centre really has: the first
morning (nobody served yet, the menu's typical times), nobody serving, and after lunch (counters paused
for an hour and a half, then back). The real engine and projection, the real ticket layout on python-escpos's
``Dummy`` printer, the bytes decoded: never an absurd figure, never an invented one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from escpos.printer import Dummy

from centre_server.queue import engine as e
from centre_server.runtime import projections
from kiosk.layout import print_ticket
from tests.centre_server.test_visits import visit_day
from tests.kiosk.escpos_decode import decode

NBO = ZoneInfo("Africa/Nairobi")
TYPICAL_S = 300  # the engine tests' menu: five minutes a service


def printed(d, t: e.Ticket, lang: str = "en") -> list[str]:
    out = projections.ticket_out(d.state, t, d.now, NBO, "http://centre.test")
    p = Dummy()
    print_ticket(p, out, "Huduma Centre Test", lang, columns=42)
    return decode(p.output).texts


def minutes_of(lines: list[str], lead: str) -> int:
    line = next(x for x in lines if x.startswith(lead))
    return int(line.removeprefix(lead).split()[0])


def test_first_morning_the_visit_is_this_wait_plus_the_typical_time_of_each_step():
    d = visit_day()
    d.open("c1", ("id-card",))
    d.open("c3", ("kra",))
    first = d.issue("id-card", then=("kra",))
    assert e.visit_wait(d.state, first, d.now) == TYPICAL_S  # nobody ahead: the ID card's own time, then KRA
    for _ in range(5):
        d.issue("id-card")
    sixth = d.issue("id-card", then=("kra",))
    here, _ = e.ticket_wait(d.state, sixth, d.now)
    whole = e.visit_wait(d.state, sixth, d.now)
    assert here is not None and whole is not None
    assert whole == here + TYPICAL_S  # KRA has nobody ahead of it by its issue time
    assert 6 * TYPICAL_S * 0.5 <= here <= 6 * TYPICAL_S * 1.5  # six ahead at one counter: about half an hour
    lines = printed(d, sixth)
    assert minutes_of(lines, "Until your last service is called: ") == -(-whole // 60)
    sw = printed(d, sixth, "sw")
    # 42 columns: the Kiswahili line wraps, but the figure never leaves its unit ("dakika" alone, "34" below)
    assert any(x.startswith("Hadi huduma yako ya mwisho iitwe:") for x in sw), sw
    assert any(x.endswith(f"dakika {-(-whole // 60)}") for x in sw) and "dakika" not in sw, sw


def test_with_nobody_serving_no_visit_estimate_is_invented():
    d = visit_day()
    t = d.issue("id-card", then=("kra",))
    assert e.ticket_wait(d.state, t, d.now)[0] is None and e.visit_wait(d.state, t, d.now) is None
    lines = printed(d, t)
    assert not [x for x in lines if x.startswith("Until your last service")], lines
    assert "2. KRA PIN" in " ".join(lines)  # the plan is still on paper
    d.open("c1", ("id-card",))  # the ID counter opens, nobody serves KRA yet: this step known, the visit not
    assert e.ticket_wait(d.state, t, d.now)[0] is not None and e.visit_wait(d.state, t, d.now) is None
    assert not [x for x in printed(d, t) if x.startswith("Until your last service")]


def test_after_lunch_the_visit_estimate_forgets_the_break():
    d = visit_day()
    d.open("c1", ("id-card",))
    d.open("c3", ("kra",))
    for _ in range(12):  # a morning: twelve of each served, four and three minutes and a bit each
        d.issue("id-card")
        d.issue("kra")
        d.call("c1")
        d.do(e.Complete("c1"), dt=240)
        d.call("c3")
        d.do(e.Complete("c3"), dt=200)
    d.do(e.PauseCounter("c1"))
    d.do(e.PauseCounter("c3"))
    d.do(e.Tick(), dt=5400)  # lunch: an hour and a half with nobody serving
    lunch = d.issue("id-card", then=("kra",))
    assert e.visit_wait(d.state, lunch, d.now) is None  # paused counters: no figure rather than a guess
    d.do(e.ResumeCounter("c1"))
    d.do(e.ResumeCounter("c3"))
    later = d.issue("id-card", then=("kra",))
    for t in (lunch, later):
        here, _ = e.ticket_wait(d.state, t, d.now)
        whole = e.visit_wait(d.state, t, d.now)
        assert here is not None and whole is not None
        ahead = e.position(d.state, t)
        # this step's wait for the people ahead, then the ID card's time: the lunch hour is in neither
        assert whole - here <= 2 * TYPICAL_S
        assert whole <= (ahead + 2) * 2 * TYPICAL_S, (ahead, here, whole)
        lines = printed(d, t)
        assert minutes_of(lines, "Until your last service is called: ") <= 30
