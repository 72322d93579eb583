"""The citizen's page behind the ticket's QR code, on a phone-sized browser."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import httpx
from playwright.sync_api import expect

from tests.web.conftest import issue


def page_url(server, ticket: dict) -> str:
    """The ticket's status_url, pointed at the test server (the QR code carries the centre's public URL)."""
    return server.url + urlparse(ticket["status_url"]).path


def test_citizen_follows_their_ticket_in_both_languages(web_server, context_factory, shots):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    first = issue(web_server, kiosk, "kra-pin")
    mine = issue(web_server, kiosk, "kra-pin", language="sw")
    assert urlparse(mine["status_url"]).path == f"/t/{mine['id']}"
    clerk = web_server.client(web_server.login("clerk"))
    assert clerk.post("/api/v1/counters/c12/open").status_code == 200  # a counter serves KRA PIN: a real estimate

    phone = context_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(page_url(web_server, mine))
    # the ticket's own language first (Kiswahili here)
    expect(page.locator("#ticket-number")).to_have_text(mine["number"])
    expect(page.locator("#ticket-status")).to_have_text("Tafadhali subiri: tutaita namba yako.")
    expect(page.locator("#ticket-ahead")).to_have_text("1")
    shots(page, "web-citizen-waiting-sw")
    page.click("a[data-lang-link='en']")
    expect(page.locator("#ticket-status")).to_have_text("Please wait: we will call your number.")
    expect(page.locator("#ticket-service")).to_have_text("KRA PIN registration")
    expect(page.locator("#ticket-wait")).to_contain_text("min")
    shots(page, "web-citizen-waiting")
    # nothing of the other ticket is on the page
    html = page.content()
    assert first["number"] not in html and first["id"] not in html

    assert clerk.post("/api/v1/counters/c12/call-next").json()["id"] == first["id"]
    expect(page.locator("#ticket-ahead")).to_have_text("0")  # updated by polling, no reload
    assert clerk.post("/api/v1/counters/c12/start").status_code == 200  # the first came (finding 11)
    assert clerk.post("/api/v1/counters/c12/call-next").json()["id"] == mine["id"]
    expect(page.locator("#ticket-status")).to_have_text("It is your turn! Go to Counter 12.")
    expect(page.locator("#ticket-figures")).to_be_hidden()
    shots(page, "web-citizen-called")
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#ticket-status")).to_have_text("Ni zamu yako! Nenda Kaunta 12.")
    expect(page.locator("#ticket-feedback")).to_be_hidden()
    # served: the page invites a rating, and the link leads to the feedback form
    assert clerk.post("/api/v1/counters/c12/complete").status_code == 200
    expect(page.locator("#ticket-feedback")).to_be_visible(timeout=15000)
    expect(page.locator("#ticket-feedback a")).to_have_text("Tulikuhudumiaje? Tupe alama")
    page.click("#ticket-feedback a")
    assert page.url.split("?")[0].endswith(f"/t/{mine['id']}/feedback")


def test_citizen_page_reveals_no_other_ticket(web_server, context_factory):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    a = issue(web_server, kiosk, "id-card-new")
    b = issue(web_server, kiosk, "id-card-new")
    assert len(a["id"]) >= 16 and a["id"] != b["id"]
    mine = httpx.get(page_url(web_server, a))
    assert mine.status_code == 200 and a["number"] in mine.text
    assert b["id"] not in mine.text and b["number"] not in mine.text
    assert mine.headers["referrer-policy"] == "no-referrer"
    # the ticket number, a guess, or a neighbour's id with one character changed: nothing
    neighbour = b["id"][:-1] + ("A" if b["id"][-1] != "A" else "B")
    guesses = [a["number"], "A002", "0000000000000000", neighbour, "x" * 200]
    if a["id"].swapcase() != a["id"]:
        guesses.append(a["id"].swapcase())  # ids are case-sensitive
    for guess in guesses:
        r = httpx.get(web_server.url + "/t/" + guess)
        assert r.status_code == 404, guess
        assert b["number"] not in r.text and a["number"] not in r.text
    page = context_factory().new_page()
    page.goto(web_server.url + "/t/" + a["number"])
    expect(page.locator("h1")).to_have_text("Not found")


def test_citizen_page_says_when_no_counter_serves_the_service(web_server, context_factory, shots):
    """A ticket nobody can serve today showed "about N min" (or "very soon"): it must say why instead."""
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    mine = issue(web_server, kiosk, "inua-jamii", language="sw")
    assert mine["estimated_wait_s"] is None and mine["wait_unknown"] == "no_counter"

    phone = context_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(page_url(web_server, mine))
    expect(page.locator("#ticket-wait")).to_have_text("Hakuna kaunta inayohudumia huduma hii sasa")
    expect(page.locator("#ticket-status")).to_have_text("Tafadhali subiri: tutaita namba yako.")
    shots(page, "web-citizen-no-counter-sw")
    page.click("a[data-lang-link='en']")
    expect(page.locator("#ticket-wait")).to_have_text("No counter is serving this service right now")
    assert not any(ch.isdigit() for ch in page.locator("#ticket-wait").inner_text())
    shots(page, "web-citizen-no-counter")

    # a counter opens for it: the page, polling, shows an estimate again
    clerk = web_server.client(web_server.login("clerk"))
    assert clerk.post("/api/v1/counters/c21/open", json={"services": ["inua-jamii"]}).status_code == 200
    expect(page.locator("#ticket-wait")).to_have_text(re.compile(r"^(about \d+ min|very soon)$"))
    assert clerk.post("/api/v1/counters/c21/close").status_code == 200
