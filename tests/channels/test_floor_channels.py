"""USSD refusals in the session's language (or both), and /book with a day that does not exist, on the
real server (a fake Africa's Talking on loopback) and in Chromium at phone size."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.channels.conftest import ussd_ok

EN_PHONE, SW_PHONE = "this service needs a Kenyan mobile number", "huduma hii inahitaji nambari ya simu ya Kenya"
EN_BAD, SW_BAD = "this request cannot be served", "ombi hili haliwezi kuhudumiwa"


def test_ussd_refusals_speak_the_sessions_language_or_both(channel_server) -> None:
    # no language chosen yet: both
    screen = ussd_ok(channel_server.ussd("ff-1", "12345", ""))
    assert screen.startswith("END ") and EN_PHONE in screen and SW_PHONE in screen, screen
    # Kiswahili chosen on the first screen: Kiswahili only; English chosen: English only
    screen = ussd_ok(channel_server.ussd("ff-2", "12345", "2*1"))
    assert SW_PHONE in screen and EN_PHONE not in screen, screen
    screen = ussd_ok(channel_server.ussd("ff-3", "12345", "1"))
    assert EN_PHONE in screen and SW_PHONE not in screen, screen
    # a text no handset sends (too long, or an emoji): both languages, never a traceback
    for text in ("1*" * 500, "2*\U0001F600"):
        screen = ussd_ok(channel_server.ussd("ff-4", "+254712000999", text))
        assert screen.startswith("END ") and EN_BAD in screen and SW_BAD in screen, screen


def test_book_says_a_day_that_does_not_exist(channel_server, browser, shot) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    try:
        for day, words in (("2026-02-30", {"en": "2026-02-30 is not a real date",
                                           "sw": "2026-02-30 si tarehe halisi"}),
                           ("99999-01-01", {"en": "99999-01-01 is out of range",
                                            "sw": "99999-01-01 iko nje ya kipindi"})):
            for lang in ("en", "sw"):
                r = page.goto(f"{channel_server.url}/book?service=kra-pin&day={day}&lang={lang}")
                assert r is not None and r.status == 422
                expect(page.locator("#error")).to_contain_text(words[lang])
        shot(page, "book-bad-day-sw")
        r = page.goto(f"{channel_server.url}/book?service=kra-pin&lang=en")
        assert r is not None and r.status == 200 and page.locator("#error").count() == 0
    finally:
        ctx.close()
