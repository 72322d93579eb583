"""A visit's whole-visit estimate when a step's counters are paused (a clerk on a break, expected back).

The forecaster counts open counters only: a paused counter calls nobody, and when its clerk returns is not
known, so it makes no figure for a service whose counters are all paused. The visit estimate is built from
the same per-step waits: no figure either, but it says why (``paused``, and which step), not "no counter".
"""

from __future__ import annotations

from centre_server.contract import WaitUnknown
from centre_server.queue import engine as e
from tests.centre_server.test_visits import visit_day


def forecaster_has_figure(d, service_id: str) -> bool:
    """The forecaster's own answer (the predictor the issue path asks) for a newcomer to ``service_id``."""
    return d.state.predictor.estimate(d.state, service_id, 0, d.now,
                                      closes_at=e.closing_epoch(d.state, d.now)) is not None


def test_a_paused_step_gives_no_figure_and_says_so():
    d = visit_day()
    d.open("c1", ("id-card",))
    d.open("c2", ("kra",))
    whole = d.issue("id-card", then=("kra",))
    seconds, why, step = e.visit_wait_for(d.state, whole, d.now)
    assert seconds is not None and seconds >= 300 and why is None and step is None

    # the only KRA counter's clerk goes on a break: the forecaster has no KRA figure, nor does the visit
    d.do(e.PauseCounter("c2"))
    assert not forecaster_has_figure(d, "kra")
    assert e.visit_wait_for(d.state, whole, d.now) == (None, WaitUnknown.paused, "kra")
    assert e.visit_wait(d.state, whole, d.now) is None
    # a citizen queuing for the KRA PIN alone hears the same: paused, not "no counter"
    assert e.wait_for(d.state, "kra", 0, d.now) == (None, WaitUnknown.paused)
    assert e.service_figures(d.state, "kra", d.now)["wait_unknown"] == WaitUnknown.paused

    # a second KRA counter opens: both the forecaster and the visit have a figure again
    d.open("c3", ("kra",))
    assert forecaster_has_figure(d, "kra")
    assert e.visit_wait_for(d.state, whole, d.now)[0] is not None
    d.do(e.CloseCounter("c3"))

    # the clerk is back: the figure returns
    d.do(e.ResumeCounter("c2"))
    assert e.visit_wait_for(d.state, whole, d.now)[0] is not None

    # closed, not paused: nobody is expected back, and the words say so
    d.do(e.CloseCounter("c2"))
    assert e.visit_wait_for(d.state, whole, d.now) == (None, WaitUnknown.no_counter, "kra")


def test_every_counter_of_the_current_step_paused():
    d = visit_day()
    d.open("c1", ("id-card",))
    d.open("c2", ("kra",))
    whole = d.issue("id-card", then=("kra",))
    d.do(e.PauseCounter("c1"))
    assert e.ticket_wait(d.state, whole, d.now) == (None, WaitUnknown.paused)
    assert e.visit_wait_for(d.state, whole, d.now) == (None, WaitUnknown.paused, "id-card")
    # after closing time nothing is "on a break": the centre has closed
    d.do(e.CloseDay())
    assert e.wait_for(d.state, "id-card", 0, d.now) == (None, WaitUnknown.closed)


def test_every_channel_says_on_a_break_not_no_counter() -> None:
    """The kiosk, the hall, SMS/USSD and the join page word ``paused`` themselves, in both languages."""
    from centre_server.channels.i18n import wait_phrase
    from counter_display.model import service_note_key
    from kiosk.i18n import wait_reason_text
    from tests.counter_display.samples import SERVICES, service_state

    for lang in ("en", "sw"):
        said = {wait_phrase(lang, None, "paused"), wait_phrase(lang, None, "paused", long=True),
                wait_reason_text("paused", lang), wait_reason_text("paused", lang, short=True)}
        no_counter = {wait_phrase(lang, None, "no_counter"), wait_phrase(lang, None, "no_counter", long=True),
                      wait_reason_text("no_counter", lang), wait_reason_text("no_counter", lang, short=True)}
        assert not said & no_counter and all(said)
        assert any(("break" if lang == "en" else "mapumziko") in s for s in said)
    hall = service_state(SERVICES[0][0], wait_s=None, wait_unknown=WaitUnknown.paused)
    assert service_note_key(hall) == "wait_paused"
