"""A kiosk every citizen can use (issue 23): modes, pictograms, speech, keys only, the idle warning.

The real app under Xvfb against a real centre server and Mosquitto; speech is real espeak-ng output
written to WAV files (``speech_wav_dir``), whose length the tests measure.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.kiosk.conftest import kiosk_config
from tests.kiosk.test_kiosk_app import tickets_in_db

pytestmark = pytest.mark.timeout(600)


def wav_seconds(path: str) -> float:
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.parametrize("size", [(1280, 800), (1080, 1920)], ids=["landscape-1280x800", "portrait-1080x1920"])
def test_every_mode_fits_in_both_languages(size, centre_server, mosquitto, tmp_path, run_kiosk, screen_of):
    """Large text, high contrast, the low layout and all three at once: nothing cut off or drawn over a button or
    other text on any screen of the journey (to the ticket, through "Anything else today?", and the fee's M-Pesa
    screens) in either language;
    in the low layout no control above the lower part; reset for the next."""
    width, height = size
    tag = "portrait" if height > width else "landscape"
    display = screen_of(width, height)
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          fullscreen=True, offer_visits=True)
    run = run_kiosk(config, "a11y_modes", env={"DISPLAY": display, "KIOSK_TAG": tag, "KIOSK_DRIVER_TIMEOUT": "500"})
    data = run.result(timeout=540)["data"]
    assert len(data["overflows"]) >= 5 * (1 + 2 * 12) - 5  # welcome once per language pass, 12 screens each
    # the whole journey and the fee's screens, every mode, both languages
    for page in ("more", "priority", "phone", "confirm", "ticket", "pay_choice", "pay_phone", "paying", "pay_failed"):
        assert len([n for n in data["overflows"] if n.endswith(f"-{page}")]) == 5 * 2, page
    assert {n for n in data["overlaps"] if n.endswith(("-closed", "-out_of_service"))} == {
        f"a11y-{tag}-all-closed", f"a11y-{tag}-all-out_of_service"}  # with all three modes on
    bad = {name: over for name, over in data["overflows"].items() if over}
    assert bad == {}, bad
    # text drawn over a button or over other text (a summary over the title, a fee line under "Print my ticket")
    over = {name: o for name, o in data["overlaps"].items() if o}
    assert over == {}, over
    # "Anything else today?": a whole row of choices in view, whatever the modes (not a 50 px strip)
    squeezed = {key: room for key, room in data["more_room"].items() if room[0] + 1 < room[1]}
    assert len(data["more_room"]) == 5 * 2 and squeezed == {}, squeezed
    # all three modes took a second service: the confirmation says what comes after the first
    assert "Then: [b]" in data["summaries"]["all-en"] and "Kisha: [b]" in data["summaries"]["all-sw"], \
        data["summaries"]
    above = {name: texts for name, texts in data["above"].items() if texts}
    assert above == {}, above
    assert data["above"], "the low layout was never measured"
    # a list cut by the screen's edge says more lies below (the view starts at the top)
    silent = {name: h for name, h in data["more_hints"].items() if h[0] and "\u2193" not in h[1]}
    assert len(data["more_hints"]) == 5 * 2 * 3 and not silent, silent  # categories, services, "Anything else?"
    for key, modes in data["modes_after_reset"].items():
        if key.endswith("-journey"):
            assert all(modes), f"{key}: a mode was lost during the journey"
        else:
            assert modes == [False, False, False], f"{key}: modes left for the next citizen"


KEYS_CITIZENS = {"en-large": ("en", "large_text"), "sw-contrast-low": ("sw", "high_contrast,low_layout"),
                 "sw-all": ("sw", "large_text,high_contrast,low_layout")}
SAID = {"en": ("Press 1 for", "Press 0 to go back.", "You typed: "),
        "sw": ("Bonyeza 1 kwa", "Bonyeza 0 kurudi nyuma.", "Umeandika: ")}


@pytest.mark.parametrize("citizen", list(KEYS_CITIZENS))
def test_a_whole_ticket_by_help_key_and_number_keys(citizen, centre_server, mosquitto, tmp_path, run_kiosk):
    """No touch at all: each screen read aloud (espeak-ng, English and Kiswahili), the modes and every
    choice made by its number, 0 for back; the phone typed on the keypad said back digit by digit; the
    ticket number read back character by character; modes reset afterwards."""
    need_tool("espeak-ng")
    lang, modes = KEYS_CITIZENS[citizen]
    speech = tmp_path / "speech"
    speech.mkdir()
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          speech_wav_dir=str(speech), ticket_screen_s=4)
    data = run_kiosk(config, "a11y_keys", env={"KIOSK_LANG": lang, "KIOSK_MODES": modes}).result(timeout=300)["data"]
    rows = tickets_in_db(centre_server)
    assert len(rows) == 1 and rows[0]["number"] == data["number"] and rows[0]["priority"] == "elderly"
    spoken = data["spoken"]
    languages = {lang for lang, _text, _wav in spoken}
    assert languages == {"en", "sw"}, languages  # welcome in both
    for lang, text, wav in spoken:
        assert Path(wav).exists(), wav
        assert wav_seconds(wav) > 0.5, (lang, text)
    said = " ".join(text for _l, text, _w in spoken)
    assert "Press 1 for" in said and "Bonyeza 1 kwa" in said  # welcome, in both
    after_welcome = [text for lang_, text, _w in spoken[2:]]
    assert all(lang_ == lang for lang_, _t, _w in spoken[2:]), [x[:2] for x in spoken]  # then the chosen one
    option, back, typed = SAID[lang]
    assert option in " ".join(after_welcome) and back in " ".join(after_welcome)
    assert ", ".join(data["number"]) in said  # "A, 0, 4, 2": character by character
    assert data["digits_said"] == list("0712345678")  # each key touched on the keypad, said back
    assert f"{typed}0, 7, 1, 2, 3, 4, 5, 6, 7, 8." in data["phone_read"], data["phone_read"]
    assert rows[0]["phone"] == "+254712345678"
    assert all(data["modes_on_ticket"]), data["modes_on_ticket"]
    assert data["modes_after"] == [False, False, False, False]


def test_are_you_still_there_then_reset(centre_server, mosquitto, tmp_path, run_kiosk):
    """The warning is shown and said aloud in the citizen's language; "Yes" or any key keeps the place,
    the help key also reads the screen again; nobody answering brings the next citizen."""
    need_tool("espeak-ng")
    speech = tmp_path / "speech"
    speech.mkdir()
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          idle_timeout_s=15, idle_warning_s=5, speech_wav_dir=str(speech))
    data = run_kiosk(config, "a11y_idle").result(timeout=200)["data"]
    assert "Bado upo?" in data["title"] and "Are you still there?" in data["title"]
    assert "sekunde" in data["countdown"]  # the citizen chose Kiswahili: the countdown is in Kiswahili
    said = data["warning_said"]
    assert [lang for lang, _t in said] == ["sw"], said  # the chosen language only
    assert "Bado upo?" in said[0][1] and "Tunaanza upya baada ya sekunde" in said[0][1], said
    assert data["after_yes"] == [False, "categories", True]
    assert data["after_help"][:3] == [False, "categories", "sw"], data["after_help"]
    assert "Bonyeza 1 kwa" in data["after_help"][3]
    assert data["after_reset"] == [False, False, "en"]


def test_a_voice_is_given_words_not_drawn_signs():
    """"More below ↓" was read as "More below down arrow" (in English, inside a Kiswahili reading); the dot
    between a count and a wait as "middle dot"."""
    from kiosk.access import plain

    assert plain("[b]Zaidi chini[/b] \u2193") == "Zaidi chini"
    assert plain("huduma 7 \u00b7 Hakuna anayesubiri") == "huduma 7, Hakuna anayesubiri"
    assert plain("[size=20sp]Watu 3 wanasubiri[/size]\n\u2191 \u2192") == "Watu 3 wanasubiri"
