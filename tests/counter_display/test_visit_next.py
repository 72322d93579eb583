"""A one-stop visit's next step on the hall board: when a visit's ticket finishes one service and joins the
next queue, the hall tells that citizen what comes next and where, in English and Kiswahili, in both
layouts, until the number is called; the calls stay on screen.

The model alone first (fast), then the real server, a real broker and the real app under Xvfb; screenshots
are saved under tests/artifacts/counter_display/.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from centre_server.contract import HallNextStep, Topics
from counter_display.legibility import min_char_height_px
from counter_display.model import DisplayModel, Layout
from tests.conftest import artifacts_dir
from tests.counter_display import samples
from tests.counter_display.test_app import _display_bundle, _ok
from tests.counter_display.test_legibility import SIZES, cap_height

T = Topics("test-centre")


def _model(layout: Layout = Layout.near) -> DisplayModel:
    m = DisplayModel(topics=T, centre_name="Huduma Centre Test", layout=layout, page_s=5.0, slide_s=5.0)
    m.link_up()
    m.handle(T.server_availability, b"online", retained=True)
    for s in samples.SERVICES:
        m.handle(T.service_state(s[0]), samples.service_state(s[0], waiting=2, open_counters=1).to_bytes(),
                 retained=True)
    return m


def _hall_with_next(steps: list[HallNextStep]) -> bytes:
    hall = samples.hall([("B042", "c07", "7", 5), ("A011", "c01", "1", 4)])
    return hall.model_copy(update={"next_steps": steps}).to_bytes()


STEPS = [
    HallNextStep(number="A012", service_id="kra-pin", name_en="KRA PIN registration", name_sw="Usajili wa PIN ya KRA",
                 counters=["12"], joined_at=samples.T0 + timedelta(minutes=20)),
    HallNextStep(number="B003", service_id="sha-registration", name_en="SHA health cover registration",
                 name_sw="Usajili wa bima ya afya ya SHA", counters=[], joined_at=samples.T0),
]


def test_the_near_board_says_the_next_step_first_on_its_information_panel_in_both_languages():
    m = _model()
    m.handle(T.hall_state, _hall_with_next(STEPS), retained=True)
    view = m.hall_view(now=0.0)
    assert view.latest is not None and view.latest.number == "B042"  # the calls stay where they were
    assert view.slide is not None and view.slide.kind == "next" and view.slide_index == 1
    assert view.slide.title == "Next step, same number  /  Hatua inayofuata, namba ileile"
    first, second = view.slide.rows
    assert (first.number, first.line_en, first.line_sw) == (
        "A012", "next: KRA PIN registration, Counter 12", "inayofuata: Usajili wa PIN ya KRA, Kaunta 12")
    assert second.line_en == "next: SHA health cover registration, no counter open for it yet"
    assert second.line_sw.endswith("bado hakuna kaunta wazi kwa huduma hii")
    # once it is called (the server drops it from the hall state), the slide goes
    m.handle(T.hall_state, _hall_with_next([]), retained=False)
    after = m.hall_view(now=0.0)
    assert after.next_steps == [] and (after.slide is None or after.slide.kind != "next")


def test_the_far_board_turns_to_a_next_step_panel_after_the_calls():
    m = _model(Layout.far)
    m.page_size = 3
    m.handle(T.hall_state, _hall_with_next(STEPS), retained=True)
    panels = [m.hall_view(now=t * 5.0 + 0.1).panel for t in range(3)]
    assert panels[:2] == ["calls", "next"]
    view = m.hall_view(now=5.1)
    assert [(r.number, r.counters) for r in view.next_steps] == [("A012", "12"), ("B003", "")]
    m.handle(T.hall_state, _hall_with_next([]), retained=False)
    assert "next" not in {m.hall_view(now=t * 5.0 + 0.1).panel for t in range(4)}


def test_a_board_that_is_not_live_says_no_next_step():
    m = _model()
    m.handle(T.hall_state, _hall_with_next(STEPS), retained=True)
    m.link_down()
    view = m.hall_view(now=0.0)
    assert view.next_steps == [] and (view.slide is None or view.slide.kind != "next")


@pytest.mark.parametrize(("layout", "orientation"), [("near", "landscape"), ("far", "landscape"), ("far", "portrait")])
def test_a_visit_moving_on_is_on_the_hall_board_until_called(layout, orientation, centre_server, centre_dir,
                                                              mosquitto, display_factory, screen_factory, tmp_path):
    """Against the real server: a ticket for a new ID then a KRA PIN, served at counter 1; the hall says
    "A0xx -> next: KRA PIN registration, Counter 12" (and in Kiswahili) until counter 12 calls it."""
    out = artifacts_dir("counter_display")
    bundle = _display_bundle(centre_dir, mosquitto, tmp_path)
    clerk = centre_server.client(centre_server.login("clerk"))
    second = centre_server.client(centre_server.login("manager"))  # one member of staff holds one counter
    size = SIZES[orientation] if layout == "far" else (1280, 800)
    screen = screen_factory(*size)
    env = {**screen.env(), "DISPLAY_TEST_PAGE_S": "3", "DISPLAY_TEST_SLIDE_S": "3"}
    hall = display_factory(bundle, f"hall-visit-{layout}-{orientation}", env=env, layout=layout)
    hall.wait_for(lambda s: s["live"], 30, "the hall board live")

    _ok(clerk.post("/api/v1/counters/c01/open"))
    _ok(second.post("/api/v1/counters/c12/open"))
    r = clerk.post("/api/v1/tickets", json={"service_id": "id-card-new", "channel": "staff", "then": ["kra-pin"]},
                   headers={"Idempotency-Key": f"visit-hall-{layout}-{orientation}"})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    assert _ok(clerk.post("/api/v1/counters/c01/call-next"))["number"] == number
    _ok(clerk.post("/api/v1/counters/c01/complete"))
    hall_state = centre_server.client().get("/api/v1/hall").json()
    assert [(n["number"], n["service_id"], n["counters"]) for n in hall_state["next_steps"]] == [
        (number, "kra-pin", ["12"])]

    if layout == "near":
        s = hall.wait_for(lambda s: s["view"]["slide"] and s["view"]["slide"]["kind"] == "next"
                          and number in s["screen"]["ids"].get("slide.body", ""), 30, "the next step on the board")
        body = s["screen"]["ids"]["slide.body"]
        assert "next: KRA PIN registration, Counter 12" in body
        assert "inayofuata: Usajili wa PIN ya KRA, Kaunta 12" in body
        assert s["screen"]["ids"]["slide.service"] == "Watch this board for your number  /  " \
                                                      "Angalia namba yako kwenye ubao huu"
        assert s["screen"]["ids"]["now_number"] == number  # the last call stays large, beside it
        assert not [t for t in s["texts"] if t["cut"]], [t for t in s["texts"] if t["cut"]]
        screen.grab(out / "hall-visit-next.png")
    else:
        s = hall.wait_for(lambda s: s["screen"]["panel"] == "next" and s["screen"]["next"], 30,
                          "the far board's next-step panel")
        assert s["screen"]["next"][0][:2] == [number, "12"]
        names = s["screen"]["next"][0][2]
        assert "KRA PIN registration" in names and "Usajili wa PIN ya KRA" in names
        need = min_char_height_px(*size)
        far = {number, "12", s["screen"]["ids"]["now_number"], s["screen"]["ids"]["now_counter_en"],
               s["screen"]["ids"]["now_counter_sw"]}
        heights = [{"text": t["text"], "font": t["font"], "cap_px": cap_height(t["font"])}
                   for t in s["texts"] if t["text"] in far]
        assert {h["text"] for h in heights} >= far, heights
        assert all(h["cap_px"] >= need for h in heights), (need, heights)
        assert not [t for t in s["texts"] if t["cut"]], [t for t in s["texts"] if t["cut"]]
        (out / f"hall-far-visit-next-{orientation}.json").write_text(
            json.dumps({"need_cap_px": need, "texts": heights}, indent=1))
        screen.grab(out / f"hall-far-{orientation}-next.png")

    # counter 12 calls it: the hall calls the number, and the "next" note leaves the board
    assert _ok(second.post("/api/v1/counters/c12/call-next"))["number"] == number
    s = hall.wait_for(lambda s: s["screen"]["ids"]["now_number"] == number and not s["view"]["next_steps"]
                      and s["screen"]["panel"] != "next", 30, "the next step gone once called")
    assert centre_server.client().get("/api/v1/hall").json()["next_steps"] == []
    clerk.post("/api/v1/counters/c01/close")
    second.post("/api/v1/counters/c12/close")
