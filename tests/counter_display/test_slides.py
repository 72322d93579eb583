"""The hall's "Did you bring…? / Umeleta…?" slides (issue 19): the real display on a bare X screen of each
orientation, fed retained state and ``state/catalogue`` on a real broker; a suspended service's notice."""

from __future__ import annotations

import pytest

from centre_server.contract import Topics
from centre_server.contract.catalogue import Text
from tests.conftest import artifacts_dir
from tests.counter_display import samples
from tests.counter_display.test_screens import SIZES, _nothing_cut_off

REASON = Text(en="The SHA system is down since this morning. Please come back tomorrow.",
              sw="Mfumo wa SHA haufanyi kazi tangu asubuhi. Tafadhali rudi kesho.")


def _slide(s: dict) -> tuple[str, str, str]:
    ids = s["screen"]["ids"]
    return ids.get("slide.title", ""), ids.get("slide.service", ""), ids.get("slide.fee", "")


def _apart(a: list[int], b: list[int]) -> bool:
    """Two boxes (x, y, w, h) do not overlap."""
    return a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_did_you_bring_slides_rotate_beside_the_calls(orientation, screen_factory, display_factory,
                                                      display_bundle, publisher):
    out = artifacts_dir("counter_display")
    screen = screen_factory(*SIZES[orientation])
    topics = Topics("test-centre")
    d = display_factory(display_bundle, f"hall-slides-{orientation}",
                        env={**screen.env(), "DISPLAY_TEST_SLIDE_S": "2.5"})
    samples.publish_centre(publisher, topics)
    s = d.wait_for(lambda s: s["live"] and s["screen"]["ids"]["now_number"] == "B042", 60, "the centre on screen")
    assert s["view"]["slide"] is None and s["boxes"]["slide"][3] == 0  # no catalogue yet: no panel
    before = _service_fonts(s)

    publisher.publish(topics.catalogue_state, samples.catalogue({"sha": REASON}).model_dump_json())
    # the longest queues: sha 21 (suspended: a notice instead), business-name 19, passport 17, kra-pin 14
    suspended = ("Suspended now: no tickets  /  Imesitishwa sasa: hakuna tiketi", "SHA registration  /  Usajili wa SHA")
    expected = {suspended,
                ("Did you bring\u2026?", "Business name search"), ("Umeleta\u2026?", "Utafutaji wa jina la biashara"),
                ("Did you bring\u2026?", "Passport application"), ("Umeleta\u2026?", "Maombi ya pasipoti"),
                ("Did you bring\u2026?", "KRA PIN registration"), ("Umeleta\u2026?", "Usajili wa PIN ya KRA")}
    seen: list[tuple[str, str]] = []
    shots: set[str] = set()

    def rotated(s: dict) -> bool:
        title, service, fee = _slide(s)
        if not title:
            return False
        if not seen or seen[-1] != (title, service):
            seen.append((title, service))
            # the slide's document list wraps and may shrink a little (to 60 %, 24 px at least);
            # everything else keeps the board's rule
            _nothing_cut_off({"texts": [t for t in s["texts"] if not t.get("para")]}, smallest=14)
            para = [t for t in s["texts"] if t.get("para")]
            assert para and all(not t["cut"] and t["font"] >= max(24, 0.6 * t["max_font"]) for t in para), para
            now, slide = s["boxes"]["now_panel"], s["boxes"]["slide"]
            assert slide[3] > 0 and _apart(now, slide), (now, slide)  # never over "now calling"
            assert s["screen"]["ids"]["now_number"] == "B042"
            name = {"Business name search": "bring-en", "Maombi ya pasipoti": "bring-long-sw",
                    "SHA registration  /  Usajili wa SHA": "suspended"}.get(service)
            if name and name not in shots:
                screen.grab(out / f"hall-slide-{name}-{orientation}.png")
                shots.add(name)
            if service == "SHA registration  /  Usajili wa SHA":
                body = s["screen"]["ids"]["slide.body"]
                assert REASON.en in body and REASON.sw in body and fee == ""
            if service == "Business name search":
                assert fee == "Fee: KSh 1,050" and "Original national ID card" in s["screen"]["ids"]["slide.body"]
            if service == "Maombi ya pasipoti":  # eight long documents: what fits large, and how many more
                assert fee == "Ada: KSh 12,050 kwa eCitizen, leta risiti"  # paid when applying (finding 2)
                assert "na 6 zaidi" in s["screen"]["ids"]["slide.body"]
        return expected <= set(seen)

    d.wait_for(rotated, 60, "every slide in turn")
    assert len(shots) == 3
    # the slides follow each other in a fixed order, each a few seconds
    firsts = [seen.index(x) for x in sorted(expected, key=seen.index)]
    assert firsts == sorted(firsts) and len(set(seen)) == 7

    # the catalogue withdrawn: the panel goes and the service lines take their room back at full size
    publisher.publish(topics.catalogue_state, b"")
    s = d.wait_for(lambda s: s["boxes"]["slide"][3] == 0 and _service_fonts(s), 30, "the panel gone")
    s = d.wait_for(lambda s: _service_fonts(s) == before, 10, f"service lines as large as before ({before})")
    _nothing_cut_off(s)


def _service_fonts(s: dict) -> dict[str, float]:
    """The font of each service name on screen (English names of the sample services)."""
    names = {en for _, _, en, _ in samples.SERVICES}
    return {t["text"]: t["font"] for t in s["texts"] if t["text"] in names}
