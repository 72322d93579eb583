"""The call centre's booking form in Chromium keeps the centre the agent chose: the next booking on this call,
and the next caller's, start from it (an agent booking callers into one centre chooses it once)."""

from __future__ import annotations

from hq.catalogue import CatalogueStore, seed_demo
from hq.store import Store
from tests.conftest import artifacts_dir
from tests.hq.conftest import HqProcess


def test_the_booking_form_keeps_the_centre_chosen_for_the_next_caller(hq: HqProcess, pg_url: str,
                                                                       browser) -> None:
    seed_demo(CatalogueStore(Store(pg_url)))
    hq.add_centre("demo", "Huduma Centre GPO")
    hq.add_centre("thika", "Huduma Centre Thika")  # neither centre runs: the bookings are held here
    out = artifacts_dir("hq")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    hq.log_in_browser(context, "agent")
    page = context.new_page()
    try:
        for lang, phones in (("en", ("0712345678", "0722000111")), ("sw", ("0733000222", "0744000333"))):
            page.goto(f"{hq.url}/callcentre?lang={lang}")
            page.fill("#caller-phone", phones[0])
            page.click("#new-call button[type=submit]")
            page.wait_for_url("**/callcentre/calls/*")
            # nothing chosen yet on this terminal: the first centre; then the one chosen in English stays chosen
            assert page.locator("#book_centre").input_value() == ("demo" if lang == "en" else "thika")
            page.select_option("#book_centre", "demo")
            page.select_option("#book_centre", "thika")
            page.select_option("#book_service", "kra-pin")
            page.click("#book button[type=submit]")
            page.wait_for_selector("#bookings")
            assert page.locator("#bookings").inner_text().count("Thika") == 1
            assert page.locator("#book_centre").input_value() == "thika"  # this call's next booking
            assert page.locator("#book_service").input_value() == "kra-pin"  # was the catalogue's first

            # a bad form keeps what was typed, the centre too
            page.fill("#book_phone", "12")
            page.click("#book button[type=submit]")
            assert page.locator("#book_phone-error").is_visible()
            assert page.locator("#book_centre").input_value() == "thika"

            # the second caller: a new call, the same centre already chosen
            page.goto(f"{hq.url}/callcentre?lang={lang}")
            page.fill("#caller-phone", phones[1])
            page.click("#new-call button[type=submit]")
            page.wait_for_url("**/callcentre/calls/*")
            assert page.locator("#book_centre").input_value() == "thika"
            page.screenshot(path=str(out / f"callcentre-second-caller-{lang}.png"), full_page=True)
            page.select_option("#book_service", "kra-pin")
            page.click("#book button[type=submit]")
            page.wait_for_selector("#bookings")
            assert "Thika" in page.locator("#bookings").inner_text()

        # a cookie naming a centre that is not registered (tampered, or a centre removed) chooses nothing
        context.add_cookies([{"name": "hq_cc_book_centre", "value": "nowhere", "url": hq.url + "/callcentre"}])
        page.goto(f"{hq.url}/callcentre?lang=en")
        page.click("#new-call button[type=submit]")
        page.wait_for_url("**/callcentre/calls/*")
        assert page.locator("#book_centre").input_value() == "demo"
    finally:
        context.close()
    held = hq.client("agent").get("/callcentre", params={"lang": "en"}).text
    assert held.count("Huduma Centre Thika") == 4 and "Huduma Centre GPO" not in held.split('id="held"')[1]


def test_the_look_up_keeps_its_centre_and_the_sms_language_follows_the_page(hq: HqProcess, pg_url: str,
                                                                            browser) -> None:
    """A search in one centre left the form on "All centres" (the next search asked everyone); the booking's
    SMS language said English on a Kiswahili page. Both now start from what the agent is doing."""
    seed_demo(CatalogueStore(Store(pg_url)))
    hq.add_centre("demo", "Huduma Centre GPO")
    hq.add_centre("thika", "Huduma Centre Thika")
    out = artifacts_dir("hq")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    hq.log_in_browser(context, "agent")
    page = context.new_page()
    try:
        for lang, phone, language_name in (("sw", "0755000444", "Kiswahili"), ("en", "0766000555", "English")):
            page.goto(f"{hq.url}/callcentre?lang={lang}")
            page.fill("#caller-phone", phone)
            page.click("#new-call button[type=submit]")
            page.wait_for_url("**/callcentre/calls/*")
            assert page.locator("#language").input_value() == lang  # the page's language, not always English
            assert page.locator("#language option:checked").inner_text() == language_name
            assert page.locator("#centre").input_value() == ""  # no search yet: all centres
            page.select_option("#centre", "thika")
            page.click("#find button[type=submit]")
            page.wait_for_selector("#answers-section li")
            assert page.locator("#centre").input_value() == "thika"  # kept after the search
            page.reload()
            assert page.locator("#centre").input_value() == "thika"
            page.screenshot(path=str(out / f"callcentre-lookup-kept-{lang}.png"), full_page=True)
            page.select_option("#centre", "")  # all centres again: that choice is kept too
            page.click("#find button[type=submit]")
            page.wait_for_selector("#answers-section li")
            assert page.locator("#centre").input_value() == ""
            # a booking refused for bad input keeps the SMS language the agent chose
            other = "en" if lang == "sw" else "sw"
            page.select_option("#language", other)
            page.fill("#book_phone", "12")
            page.click("#book button[type=submit]")
            assert page.locator("#book_phone-error").is_visible()
            assert page.locator("#language").input_value() == other
    finally:
        context.close()
