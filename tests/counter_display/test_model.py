"""The display model alone: what it holds, what it shows, what it announces."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from centre_server.contract import CounterState, Topics
from counter_display.model import DisplayModel, Link, Mode
from tests.counter_display import samples

T = Topics("test-centre")


def live_model(**kw) -> DisplayModel:
    m = DisplayModel(topics=T, centre_name="Huduma Centre Test", **kw)
    m.link_up()
    m.handle(T.server_availability, b"online", retained=True)
    return m


def test_it_is_not_live_until_connected_and_the_server_is_online():
    m = DisplayModel(topics=T, centre_name="X")
    assert m.link == Link.connecting and not m.live
    assert m.hall_view().status_en.startswith("Connecting")
    m.link_up()
    assert m.status_key() == "status_waiting_server"
    m.handle(T.server_availability, b"online", retained=True)
    assert m.live and m.hall_view().status_en == ""


def test_server_offline_and_broker_loss_are_said_on_screen():
    m = live_model()
    m.handle(T.hall_state, samples.hall([("B042", "c07", "7", 5)]).to_bytes(), retained=True)
    m.handle(T.server_availability, b"offline")
    view = m.hall_view()
    assert not view.live and "offline" in view.status_en and "Seva" in view.status_sw
    assert not view.blinking
    m.handle(T.server_availability, b"online")
    m.link_down()
    view = m.hall_view()
    assert not view.live and "No connection" in view.status_en and "Hakuna mawasiliano" in view.status_sw
    assert view.latest is not None and view.latest.number == "B042"  # kept, but marked not live


def test_a_reconnect_forgets_old_state_and_takes_the_retained_state_afresh():
    m = live_model()
    m.handle(T.service_state("sha"), samples.service_state("sha", waiting=9).to_bytes(), retained=True)
    m.handle(T.counter_state("c07"), samples.counter_state("c07", "7", "B042").to_bytes(), retained=True)
    m.link_down()
    m.link_up()
    assert m.services == {} and m.counters == {} and m.hall is None and m.server is None
    m.handle(T.server_availability, b"online", retained=True)
    m.handle(T.service_state("sha"), samples.service_state("sha", waiting=3).to_bytes(), retained=True)
    assert m.live and m.services["sha"].waiting == 3


def test_hall_view_lists_calls_newest_first_and_blinks_only_for_a_fresh_call():
    m = live_model(blink_s=5)
    calls = [(f"A{i:03d}", "c01", "1", i) for i in range(12, 0, -1)]
    m.handle(T.hall_state, samples.hall(calls).to_bytes(), retained=True, now=100)
    view = m.hall_view(now=100)
    assert view.latest.number == "A012" and not view.blinking  # retained: an old call, no blink
    assert [r.number for r in view.recent] == [f"A{i:03d}" for i in range(11, 2, -1)]  # last 10 in all
    m.handle(T.hall_state, samples.hall([("B001", "c07", "7", 13)] + calls).to_bytes(), now=200)
    assert m.hall_view(now=201).blinking and m.hall_view(now=201).latest.counter_sw == "Kaunta 7"
    assert not m.hall_view(now=206).blinking


def test_services_shown_are_those_with_people_waiting_or_counters_open_paged():
    m = live_model(page_size=3, page_s=10)
    for i, (sid, *_rest) in enumerate(samples.SERVICES):
        waiting = 0 if i % 2 else i + 1
        m.handle(T.service_state(sid), samples.service_state(sid, waiting=waiting, open_counters=0,
                                                             wait_s=120 * (i + 1)).to_bytes(), retained=True)
    shown = [r.service_id for r in m.service_rows()]
    assert shown == [s[0] for i, s in enumerate(samples.SERVICES) if i % 2 == 0]
    first, second = m.hall_view(now=0), m.hall_view(now=10)
    assert (first.page, first.pages, second.page) == (1, 2, 2)
    assert [r.service_id for r in first.services + second.services] == shown
    assert first.services[0].wait_en == "2 min" and first.services[0].wait_sw == "dakika 2"
    assert first.people_waiting == sum(i + 1 for i in range(0, 10, 2))


def test_calls_are_announced_from_events_once_and_recalls_again():
    m = live_model()
    e1 = samples.call_event(21, "B042", "c07", "7").to_bytes()
    assert [c.number for c in m.handle(T.event("ticket_called"), e1)] == ["B042"]
    assert m.handle(T.event("ticket_called"), e1) == []  # a QoS 1 duplicate
    again = m.handle(T.event("ticket_recalled"), samples.call_event(22, "B042", "c07", "7", recall=True).to_bytes())
    assert [(c.number, c.recall, c.counter_name) for c in again] == [("B042", True, "7")]


def test_an_event_ahead_of_the_hall_state_is_shown_at_once():
    m = live_model()
    m.handle(T.hall_state, samples.hall([("A001", "c01", "1", 4)]).to_bytes(), retained=True)
    m.handle(T.event("ticket_called"), samples.call_event(5, "B042", "c07", "7").to_bytes())
    assert [c.number for c in m.calls()] == ["B042", "A001"]
    m.handle(T.hall_state, samples.hall([("B042", "c07", "7", 5), ("A001", "c01", "1", 4)]).to_bytes())
    assert [c.number for c in m.calls()] == ["B042", "A001"]


def test_counter_mode_shows_its_counter_and_announces_only_its_calls():
    m = live_model(mode=Mode.counter, counter_id="c07")
    m.handle(T.service_state("birth-certificate"), samples.service_state("birth-certificate", 3).to_bytes(),
             retained=True)
    m.handle(T.counter_state("c07"), samples.counter_state("c07", "7", "B042", service_id="birth-certificate")
             .to_bytes(), retained=True, now=10)
    view = m.counter_view(now=10)
    assert (view.number, view.counter_en, view.counter_sw) == ("B042", "Counter 7", "Kaunta 7")
    assert view.service_sw == "Cheti cha kuzaliwa" and not view.blinking
    assert m.handle(T.event("ticket_called"), samples.call_event(3, "A001", "c01", "1").to_bytes()) == []
    assert len(m.handle(T.event("ticket_called"), samples.call_event(4, "B043", "c07", "7").to_bytes(), now=20)) == 1
    m.handle(T.counter_state("c07"), samples.counter_state("c07", "7", "B043").to_bytes(), now=20)
    assert m.counter_view(now=21).blinking and m.counter_view(now=21).number == "B043"
    m.handle(T.counter_state("c07"), samples.counter_state("c07", "7", None, state=CounterState.closed).to_bytes())
    view = m.counter_view(now=40)
    assert view.number == "" and view.state_en == "Closed" and view.state_sw == "Imefungwa"
    assert view.hint_sw == "Tafadhali nenda kaunta nyingine"


def test_an_unknown_counter_says_so_once_the_server_has_published_its_state():
    m = live_model(mode=Mode.counter, counter_id="c99")
    m.handle(T.hall_state, samples.hall([]).to_bytes(), retained=True)  # published after every counter's
    view = m.counter_view()
    assert not view.known and view.state_en == "Counter c99 is not known"
    assert view.state_sw == "Kaunta c99 haijulikani"


def test_no_false_not_known_while_the_retained_state_is_on_its_way():
    """The issue: a red "Counter c12 is not known" for seconds while the server was up."""
    m = DisplayModel(topics=T, centre_name="X", mode=Mode.counter, counter_id="c12")
    view = m.counter_view(now=100)
    assert (view.state_en, view.state_sw) == ("Connecting...", "Inaunganisha...")
    m.link_up()
    view = m.counter_view(now=100)  # connected, the server not heard of yet
    assert (view.state_en, view.state_sw) == ("Waiting for the server", "Inasubiri seva")
    m.handle(T.server_availability, b"offline", retained=True, now=100)
    assert m.counter_view(now=200).state_en == "Waiting for the server"  # an offline server publishes nothing
    m.handle(T.server_availability, b"online", now=300)  # the server starts: its state follows
    assert m.counter_view(now=301).state_en == "Waiting for the server"
    m.handle(T.counter_state("c12"), samples.counter_state("c12", "12", "C005").to_bytes(), now=301)
    assert m.counter_view(now=301).number == "C005"


def test_not_known_after_the_hall_state_or_a_fair_wait():
    from counter_display.model import SETTLE_S

    m = DisplayModel(topics=T, centre_name="X", mode=Mode.counter, counter_id="c12")
    m.link_up()
    m.handle(T.hall_state, samples.hall([]).to_bytes(), retained=True, now=10)  # stale, before the server
    m.handle(T.server_availability, b"online", now=20)
    assert m.counter_view(now=20 + SETTLE_S - 0.1).state_en == "Waiting for the server"
    assert m.counter_view(now=20 + SETTLE_S).state_en == "Counter c12 is not known"
    m.link_up()  # a reconnect: not settled again until the server's state came anew
    m.handle(T.server_availability, b"online", retained=True, now=50)
    assert m.counter_view(now=50).state_en == "Waiting for the server"
    m.handle(T.hall_state, samples.hall([]).to_bytes(), retained=True, now=50)
    assert m.counter_view(now=50).state_sw == "Kaunta c12 haijulikani"


def test_a_null_estimate_is_never_a_number_and_says_why_in_both_languages():
    """The issue: the hall repeated absurd waits, and showed a wait with no counter open."""
    from centre_server.contract import IssueRefusal, WaitUnknown

    m = live_model(page_size=10)
    for sid, kw in [
        ("id-card", dict(waiting=4, wait_s=None, wait_unknown=WaitUnknown.no_counter)),
        ("birth-certificate", dict(waiting=2, open_counters=1, wait_s=None, wait_unknown=WaitUnknown.closed)),
        ("kra-pin", dict(waiting=3, open_counters=1, wait_s=600)),
        ("sha", dict(waiting=5, open_counters=1, wait_s=900, accepting=False, refusal=IssueRefusal.after_last_call)),
        ("nssf", dict(waiting=1, open_counters=1, wait_s=None, wait_unknown=WaitUnknown.closed,
                      accepting=False, refusal=IssueRefusal.day_closed)),
        ("helb", dict(waiting=1, wait_s=None)),
    ]:
        m.handle(T.service_state(sid), samples.service_state(sid, **kw).to_bytes(), retained=True)
    rows = {r.service_id: r for r in m.hall_view().services}
    said = {sid: (r.wait_en, r.wait_sw, r.unknown) for sid, r in rows.items()}
    assert said == {
        "id-card": ("No counter open", "Hakuna kaunta wazi", True),
        "birth-certificate": ("Closed for today", "Imefungwa kwa leo", True),
        "kra-pin": ("10 min", "dakika 10", False),
        "sha": ("No more tickets today", "Tiketi zimekwisha leo", True),
        "nssf": ("Closed for today", "Imefungwa kwa leo", True),
        "helb": ("No estimate", "Hakuna makadirio", True),
    }


def test_the_hall_says_when_the_day_is_closed_and_when_it_opens():
    from datetime import datetime, timedelta, timezone

    m = live_model()
    m.handle(T.day_state, samples.day_state().to_bytes(), retained=True)
    view = m.hall_view()
    assert not view.day_closed and view.day_en == ""
    eat = timezone(timedelta(hours=3))
    m.handle(T.day_state, samples.day_state(False, datetime(2026, 11, 24, 8, 0, tzinfo=eat), "closing_time")
             .to_bytes(), retained=True)
    view = m.hall_view()
    assert view.day_closed
    assert view.day_en == "The centre is closed for today. It opens again on Tuesday 24 November at 08:00."
    assert view.day_sw == "Kituo kimefungwa kwa leo. Kitafunguliwa tena Jumanne 24 Novemba saa 2 asubuhi (08:00)."
    m.handle(T.day_state, samples.day_state(False, None, "closed_by_manager").to_bytes(), retained=True)
    assert (m.hall_view().day_en, m.hall_view().day_sw) == ("The centre is closed for today",
                                                            "Kituo kimefungwa kwa leo")
    m.handle(T.day_state, b"", retained=True)
    assert not m.hall_view().day_closed
    m.handle(T.day_state, samples.day_state(False).to_bytes())
    m.link_up()  # a reconnect forgets it until the retained state says it again
    assert not m.hall_view().day_closed


def test_after_the_close_the_last_call_leaves_the_hall_unless_someone_is_still_served():
    """At closing time the waiting are still called (the calls stay); once nobody waits and no counter
    serves, "Now calling K002 -> Counter 12" under the closed band would send nobody anywhere."""
    m = live_model()
    m.handle(T.hall_state, samples.hall([("C002", "c12", "12", 2), ("C001", "c12", "12", 1)]).to_bytes(), retained=True)
    m.handle(T.service_state("kra-pin"), samples.service_state("kra-pin", waiting=2, open_counters=1).to_bytes(),
             retained=True)
    m.handle(T.counter_state("c12"), samples.counter_state("c12", "12", "C002", service_id="kra-pin").to_bytes(),
             retained=True)
    m.handle(T.day_state, samples.day_state(False, None, "closing_time").to_bytes(), retained=True)
    assert m.hall_view().day_closed and m.hall_view().latest.number == "C002"  # still serving those who came
    m.handle(T.service_state("kra-pin"), samples.service_state("kra-pin", waiting=0, open_counters=1).to_bytes())
    assert m.hall_view().latest.number == "C002"  # C002 is at the counter
    m.handle(T.counter_state("c12"), samples.counter_state("c12", "12", None, CounterState.closed).to_bytes())
    view = m.hall_view()
    assert view.day_closed and view.latest is None and view.recent == []


def test_bad_payloads_are_counted_not_raised():
    m = live_model()
    assert m.handle(T.service_state("sha"), b"{not json") == []
    assert m.handle(T.counter_state("c01"), b'{"counter_id": "c01"}') == []
    assert m.handle(T.event("ticket_called"),
                    b'{"type": "ticket_called", "seq": 1, "at": "2026-01-01T00:00:00Z"}') == []
    assert m.handle(T.server_availability, b"maybe") == []
    assert m.handle(T.server_availability, b"\xff\xfe") == []
    assert m.handle("huduma/other-centre/state/hall", b"{}") == []
    assert m.rejected == 5 and m.live


def test_a_cleared_retained_topic_removes_what_it_held():
    m = live_model()
    m.handle(T.service_state("sha"), samples.service_state("sha", waiting=2).to_bytes(), retained=True)
    m.handle(T.service_state("sha"), b"")
    assert "sha" not in m.services


def test_observers_hear_every_change_and_a_broken_one_does_not_stop_the_rest():
    m = live_model()
    seen: list[int] = []
    m.observers.append(lambda _m: 1 / 0)
    m.observers.append(lambda model: seen.append(len(model.services)))
    m.handle(T.service_state("sha"), samples.service_state("sha", waiting=2).to_bytes())
    assert seen == [1]


messages = st.lists(st.tuples(
    st.sampled_from(["called", "recalled", "dup", "hall", "offline", "online"]),
    st.sampled_from(["c01", "c07", "c12"]),
), max_size=40)


@settings(max_examples=60, deadline=None)
@given(messages)
def test_announcements_follow_the_order_of_the_calls_and_never_repeat_a_seq(steps):
    m = live_model()
    seq, sent, announced = 0, [], []
    for kind, counter in steps:
        if kind in ("called", "recalled"):
            seq += 1
            sent.append((seq, kind == "recalled"))
            payload = samples.call_event(seq, f"A{seq:03d}", counter, counter[1:], recall=kind == "recalled")
            announced += m.handle(T.event(f"ticket_{kind}"), payload.to_bytes())
        elif kind == "dup" and seq:
            announced += m.handle(T.event("ticket_called"), samples.call_event(seq, "X", "c01", "1").to_bytes())
        elif kind == "hall":
            m.handle(T.hall_state, samples.hall([(f"A{seq:03d}", counter, "1", seq)]).to_bytes())
        else:
            m.handle(T.server_availability, kind.encode())
    assert [(c.seq, c.recall) for c in announced] == sent


def test_a_recalled_ticket_is_listed_once_at_its_latest_call():
    m = live_model()
    m.handle(T.hall_state, samples.hall([("B001", "c07", "7", 3), ("K001", "c12", "12", 2),
                                         ("B001", "c07", "7", 1)]).to_bytes())
    view = m.hall_view()
    assert view.latest.number == "B001" and [r.number for r in view.recent] == ["K001"]


def test_a_broker_that_cannot_be_reached_at_start_is_said_on_screen():
    m = DisplayModel(topics=T, centre_name="X")
    m.link_down()
    assert m.status_key() == "status_broker_down"
    assert m.counter_view().status_sw == "Hakuna mawasiliano na kituo: namba si za sasa"


def test_pages_share_the_services_evenly():
    m = live_model(page_size=8, page_s=10)
    for sid, *_rest in samples.SERVICES:
        m.handle(T.service_state(sid), samples.service_state(sid, waiting=1).to_bytes(), retained=True)
    assert [len(m.hall_view(now=t).services) for t in (0, 10, 20)] == [5, 5, 5]
    assert m.hall_view(now=0).pages == 2


def test_the_hall_does_not_say_no_calls_before_the_server_had_its_say():
    m = DisplayModel(topics=T, centre_name="X")
    m.link_up()
    m.handle(T.server_availability, b"online", now=10)
    assert m.hall_view(now=10).live and not m.hall_view(now=10).settled
    m.handle(T.hall_state, samples.hall([]).to_bytes(), now=10)
    assert m.hall_view(now=10).settled


def test_did_you_bring_slides_follow_the_longest_queues_and_suspensions_come_first():
    from centre_server.contract.catalogue import Text

    m = live_model(slide_s=5)
    waiting = {"id-card": 2, "birth-certificate": 9, "kra-pin": 30, "sha": 12, "nssf": 0, "passport": 4}
    for sid, n in waiting.items():
        m.handle(T.service_state(sid), samples.service_state(sid, waiting=n, open_counters=1).to_bytes(),
                 retained=True)
    assert m.hall_view().slide is None and m.hall_view().page_size == 8  # no catalogue: no panel
    reason = Text(en="The KRA system is down.", sw="Mfumo wa KRA haufanyi kazi.")
    m.handle(T.catalogue_state, samples.catalogue({"kra-pin": reason}).model_dump_json().encode(), retained=True)
    slides = m.slides()
    # kra-pin has the longest queue but is suspended: its notice first, in both languages; then sha (12),
    # birth-certificate (9) and passport (4), each in English then Kiswahili; id-card (2) is the fourth
    assert [(s.kind, s.service_id, s.language) for s in slides] == [
        ("suspended", "kra-pin", "both"),
        ("bring", "sha", "en"), ("bring", "sha", "sw"), ("bring", "birth-certificate", "en"),
        ("bring", "birth-certificate", "sw"), ("bring", "passport", "en"), ("bring", "passport", "sw")]
    assert slides[0].lines == (reason.en, reason.sw) and slides[0].fee == ""
    row = next(r for r in m.service_rows() if r.service_id == "kra-pin")  # its row says so too
    assert (row.wait_en, row.wait_sw, row.unknown) == ("Suspended now", "Imesitishwa sasa", True)
    assert slides[1].title == "Did you bring\u2026?" and slides[2].title == "Umeleta\u2026?"
    assert slides[1].fee == "Fee: KSh 1,050" and slides[2].fee == "Ada: KSh 1,050"
    assert slides[5].lines[-1] == "and 6 more: ask at the information desk"  # eight long documents
    # one slide at a time, in turn, a few seconds each; the list makes room (half a page)
    assert [m.hall_view(now=t).slide.service_id for t in (0, 5, 10, 15)] == ["kra-pin", "sha", "sha",
                                                                             "birth-certificate"]
    view = m.hall_view(now=0)
    assert view.slides == 7 and view.slide_index == 1 and view.page_size == 4
    # a reconnect forgets the catalogue until the broker hands it again
    m.link_down()
    m.link_up()
    assert m.catalogue is None and m.slides() == []


def test_no_slides_when_nobody_waits_and_a_service_not_offered_is_never_asked_about():
    from centre_server.contract.catalogue import Offering, OfferingStatus

    m = live_model()
    m.handle(T.service_state("sha"), samples.service_state("sha", waiting=0, open_counters=1).to_bytes())
    cat = samples.catalogue()
    m.handle(T.catalogue_state, cat.model_dump_json().encode())
    assert m.slides() == []
    m.handle(T.service_state("sha"), samples.service_state("sha", waiting=5).to_bytes())
    infos = [i.model_copy(update={"offering": Offering(service_id="sha", status=OfferingStatus.not_offered)})
             if i.service.id == "sha" else i for i in cat.services]
    m.handle(T.catalogue_state, cat.model_copy(update={"services": infos}).model_dump_json().encode())
    assert m.slides() == []
    m.handle(T.catalogue_state, b"not json")  # a bad payload is refused, the last good one kept
    assert m.rejected == 1 and m.catalogue is not None
