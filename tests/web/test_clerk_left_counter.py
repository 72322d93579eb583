"""Findings 11 and 15 at the clerk terminal (a real server process, Debian's Chromium): Call next over a citizen
only called calls nobody and says why, in both languages; Log out with a counter open says it closes first, and
the counter is closed (no longer counted as serving, free for the next clerk)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import issue, login_page
from tests.web.test_clerk_ticket import open_counter


def test_call_next_over_a_called_citizen_and_logging_out(web_server, context_factory, shots):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    first, second = issue(web_server, kiosk, "marriage"), issue(web_server, kiosk, "marriage")
    manager = web_server.client(web_server.login("manager"))
    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    open_counter(page, "c04", ["marriage"])

    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    page.keyboard.press(" ")  # the impatient second tap: nobody finished, nobody else called, and why
    expect(page.locator("#toast")).to_have_text(
        "Called, not started yet: press Start service, Recall or No-show first.")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    shots(page, "web-clerk-call-over-called")
    assert manager.get(f"/api/v1/tickets/{first['id']}").json()["state"] == "called"
    assert manager.get(f"/api/v1/tickets/{second['id']}").json()["state"] == "waiting"
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    page.keyboard.press(" ")
    expect(page.locator("#toast")).to_have_text(
        "Ameitwa, bado hajaanza kuhudumiwa: bonyeza Anza huduma, Mwite tena au Hakufika kwanza.")
    shots(page, "web-clerk-call-over-called-sw")

    # Log out: the terminal says first that the counter closes (here in Kiswahili); dismissed, nothing happens
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#logout")
    expect(page.locator("#terminal")).to_be_visible()
    assert asked == ["Ukitoka, Kaunta 4 itafungwa. Mwananchi aliyeitwa lakini hajaanza kuhudumiwa atahesabiwa "
                     "hakufika. Utoke?"], asked
    assert manager.get("/api/v1/counters/c04").json()["state"] == "open"
    page.click("a[data-lang-link='en']")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("#logout")
    page.wait_for_url("**/login**")
    assert asked[-1] == ("Logging out closes Counter 4. A citizen called but not started becomes a no-show. "
                         "Log out?"), asked
    counter = manager.get("/api/v1/counters/c04").json()
    assert counter["state"] == "closed" and counter["serving"] is None
    assert manager.get(f"/api/v1/tickets/{first['id']}").json()["state"] == "no_show"
    assert manager.get(f"/api/v1/tickets/{second['id']}").json()["state"] == "waiting"
