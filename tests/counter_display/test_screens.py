"""Both displays fill a bare X screen (no window manager) in landscape and in portrait, with nothing cut off.

The issue: started as the README says on a signage PC's bare X server, the hall
display opened an 800x600 window in the middle of a 1920x1080 screen, drawn for
the whole screen ("Welcome / Kar" cut off). Each scenario runs the real app with
no ``--window`` on an Xvfb screen of that size, grabs the whole X screen (what
the hall sees, not the app's own drawing) and checks every text on screen fits.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from centre_server.contract import CounterState, IssueRefusal, Topics, WaitUnknown
from tests.conftest import artifacts_dir
from tests.counter_display import samples

SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
EAT = timezone(timedelta(hours=3))


def _fills_the_screen(d, screen, s: dict, png) -> None:
    assert s["window"] == [screen.width, screen.height, 0, 0], s["window"]
    image = Image.open(png).convert("RGB")
    w, h = image.size
    for x, y in [(2, 2), (w - 3, 2), (2, h - 3), (w - 3, h - 3), (w // 2, h // 2)]:
        assert image.getpixel((x, y)) != (0, 0, 0), f"bare X screen (black) at {x},{y}: the window does not fill it"


def _nothing_cut_off(s: dict, smallest: float = 14) -> None:
    """No text cut off or outside the window, none shrunk below 60 % of its size or ``smallest`` px."""
    cut = [t for t in s["texts"] if t["cut"]]
    assert not cut, cut
    tiny = [t for t in s["texts"] if t["font"] < smallest or t["font"] < 0.6 * t["max_font"]]
    assert not tiny, tiny


def _busy_centre(publisher, topics: Topics) -> None:
    samples.publish_centre(publisher, topics)
    # what the server says when it has no estimate, or takes no more tickets: never a number
    publisher.publish(topics.service_state("id-card"), samples.service_state(
        "id-card", waiting=6, wait_s=None, wait_unknown=WaitUnknown.no_counter).to_bytes())
    publisher.publish(topics.service_state("sha"), samples.service_state(
        "sha", waiting=4, open_counters=1, wait_s=1500, accepting=False,
        refusal=IssueRefusal.after_last_call).to_bytes())
    # its only counter is paused (a clerk on a break): no figure, and not "no counter open" either
    publisher.publish(topics.service_state("helb"), samples.service_state(
        "helb", waiting=3, wait_s=None, wait_unknown=WaitUnknown.paused).to_bytes())


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_the_hall_display_fills_a_bare_x_screen(orientation, screen_factory, display_factory, display_bundle,
                                                publisher):
    out = artifacts_dir("counter_display")
    screen = screen_factory(*SIZES[orientation])
    topics = Topics("test-centre")
    d = display_factory(display_bundle, f"hall-{orientation}", page_size=10, env=screen.env())  # every name on one page
    _busy_centre(publisher, topics)
    s = d.wait_for(lambda s: s["live"] and s["screen"]["ids"]["now_number"] == "B042"
                   and len(s["screen"]["services"]) == 10
                   and "Karibu. Kuwa" in s["screen"]["ids"]["notice.line"], 60, "the busy centre on screen")
    png = screen.grab(out / f"hall-{orientation}.png")
    _fills_the_screen(d, screen, s, png)
    _nothing_cut_off(s)
    rows = {r[0]: r for r in s["screen"]["services"]}
    assert len(rows) == 10 and s["view"]["pages"] == 1
    assert rows["A"][3] == "No counter open" and rows["D"][3] == "No more tickets today"
    assert rows["B"][3] == "8 min"
    assert rows["J"][3] == "Counter on a break"

    # the centre closes: it says so in both languages, with when it opens
    publisher.publish(topics.day_state, samples.day_state(
        False, datetime(2026, 11, 24, 8, 0, tzinfo=EAT), "closing_time").to_bytes())
    s = d.wait_for(lambda s: s["screen"]["ids"].get("day.day_en", ""), 20, "the closed day on screen")
    assert s["screen"]["ids"]["day.day_en"] == (
        "The centre is closed for today. It opens again on Tuesday 24 November at 08:00.")
    assert s["screen"]["ids"]["day.day_sw"] == (
        "Kituo kimefungwa kwa leo. Kitafunguliwa tena Jumanne 24 Novemba saa 2 asubuhi (08:00).")
    _nothing_cut_off(s)
    screen.grab(out / f"hall-closed-{orientation}.png")


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_the_counter_display_fills_a_bare_x_screen(orientation, screen_factory, display_factory, display_bundle,
                                                   publisher):
    out = artifacts_dir("counter_display")
    screen = screen_factory(*SIZES[orientation])
    topics = Topics("test-centre")
    d = display_factory(display_bundle, f"counter-{orientation}", mode="counter", counter="c07", env=screen.env())
    samples.publish_centre(publisher, topics)
    s = d.wait_for(lambda s: s["live"] and s["screen"]["ids"]["number"] == "B042", 60, "the counter's call")
    png = screen.grab(out / f"counter-{orientation}.png")
    _fills_the_screen(d, screen, s, png)
    _nothing_cut_off(s)
    assert s["screen"]["ids"]["state_sw"] == "Cheti cha kuzaliwa"

    publisher.publish(topics.counter_state("c07"), samples.counter_state(
        "c07", "7", None, state=CounterState.closed).to_bytes())
    s = d.wait_for(lambda s: s["screen"]["ids"]["state_sw"] == "Tafadhali nenda kaunta nyingine", 20,
                   "the closed counter")
    _nothing_cut_off(s)
    screen.grab(out / f"counter-closed-{orientation}.png")
