"""The clerk terminal with the keyboard alone: Tab and Enter from the call to the completed service.

A real centre server process and headless Chromium; no mouse click after the login
form. Each step checks where the focus went and that the focus ring can be seen.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.conftest import artifacts_dir
from tests.web.conftest import context_factory, issue, login_page, web_server  # noqa: F401  (fixtures, by name)

FOCUSED = "() => { const e = document.activeElement; return e ? (e.dataset.action || e.id || e.tagName) : null; }"
IS_FOCUSED = "s => { try { return document.activeElement === document.querySelector(s); } catch (e) { return false; } }"
RING = "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"


def tab_to(page, wanted: str, limit: int = 60) -> None:
    """Press Tab until the focus is on ``wanted`` (a data-action, an id or a CSS selector): reachable by Tab."""
    for _ in range(limit):
        if page.evaluate(FOCUSED) == wanted or page.evaluate(IS_FOCUSED, wanted):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{wanted} is not reachable with Tab (focus on {page.evaluate(FOCUSED)})")


def test_a_clerk_serves_a_citizen_from_call_to_done_with_the_keyboard_only(web_server, context_factory):  # noqa: F811
    out = artifacts_dir("a11y")
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    ticket = issue(web_server, kiosk, "death-cert")
    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    expect(page.locator("#setup")).to_be_visible()
    # the counter and its service, chosen with the keyboard
    tab_to(page, "counter-select")
    page.keyboard.press("End")  # the last counter: nobody else's in these tests
    box = page.locator("#service-choices input[value='death-cert']")
    if not box.is_checked():
        tab_to(page, "#service-choices input[value='death-cert']", limit=120)
        page.keyboard.press("Space")
    expect(box).to_be_checked()
    tab_to(page, "open-counter", limit=120)
    page.keyboard.press("Enter")
    expect(page.locator("#terminal")).to_be_visible()

    # call with Tab and Enter: the focus goes to "Start service", with a visible ring
    tab_to(page, "call-next")
    page.keyboard.press("Enter")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    expect(page.locator("[data-action='start']")).to_be_focused()
    style, width = page.evaluate(RING)
    assert style != "none" and float(width.rstrip("px")) >= 3, (style, width)
    page.screenshot(path=str(out / "clerk-keyboard-called.png"))

    page.keyboard.press("Enter")  # start
    expect(page.locator("#current-label")).to_have_text("Being served")
    expect(page.locator("[data-action='complete']")).to_be_focused()
    page.keyboard.press("3")  # the documented shortcut: outcome 3, referred
    expect(page.locator("#outcome")).to_have_value("referred")
    page.screenshot(path=str(out / "clerk-keyboard-serving.png"))
    page.keyboard.press("Enter")  # complete
    expect(page.locator("#toast")).to_contain_text(f"{ticket['number']} completed")
    expect(page.locator("#btn-call")).to_be_focused()
    t = httpx.get(web_server.url + f"/api/v1/tickets/{ticket['id']}", timeout=10).json()
    assert (t["state"], t["outcome"]) == ("done", "referred")
    page.screenshot(path=str(out / "clerk-keyboard-done.png"))


def test_every_clerk_action_works_from_the_keyboard(web_server, context_factory):  # noqa: F811
    """The rest of a clerk's day without a mouse: recall, no-show, transfer (its dialog), call by number,
    re-activate a no-show, pause and resume, close the counter; the documented keys and the dialogs' fields."""
    out = artifacts_dir("a11y")
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    first, second, third = (issue(web_server, kiosk, "death-cert") for _ in range(3))

    def ticket(t: dict) -> dict:
        return httpx.get(web_server.url + f"/api/v1/tickets/{t['id']}", timeout=10).json()

    page = context_factory().new_page()
    page.on("dialog", lambda d: d.accept())  # "Close the counter?": Enter on the browser's own question
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    expect(page.locator("#setup:not([hidden]), #terminal:not([hidden])")).to_have_count(1)  # the server remembers
    if page.locator("#setup").is_visible():
        tab_to(page, "counter-select")
        page.keyboard.press("End")
        box = page.locator("#service-choices input[value='death-cert']")
        if not box.is_checked():
            tab_to(page, "#service-choices input[value='death-cert']", limit=120)
            page.keyboard.press("Space")
        tab_to(page, "open-counter", limit=120)
        page.keyboard.press("Enter")
    expect(page.locator("#terminal")).to_be_visible()
    page.locator("body").press("Escape")  # nothing typed: the shortcuts below reach the page

    page.keyboard.press("n")  # call the first
    expect(page.locator("#current-number")).to_have_text(first["number"])
    page.keyboard.press("r")  # recall
    expect(page.locator("#current-recalls")).to_have_text("1")
    page.keyboard.press("x")  # no-show
    expect(page.locator("#toast")).to_contain_text(first["number"])
    assert ticket(first)["state"] == "no_show"

    page.keyboard.press("n")  # the second, transferred through the dialog: arrows and Enter
    expect(page.locator("#current-number")).to_have_text(second["number"])
    page.keyboard.press("t")
    expect(page.locator("#transfer-dialog")).to_be_visible()
    expect(page.locator("#transfer-service")).to_be_focused()
    page.keyboard.press("ArrowDown")
    target = page.locator("#transfer-service").input_value()
    page.screenshot(path=str(out / "clerk-keyboard-transfer.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#transfer-dialog")).to_be_hidden()
    expect(page.locator("#toast")).to_contain_text(second["number"])
    assert ticket(second)["service_id"] == target != "death-cert"

    page.keyboard.press("b")  # the third by its number, typed in the dialog
    expect(page.locator("#number-input")).to_be_focused()
    page.keyboard.type(third["number"].lower())
    page.screenshot(path=str(out / "clerk-keyboard-by-number.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#current-number")).to_have_text(third["number"])
    page.keyboard.press("s")
    expect(page.locator("#current-label")).to_have_text("Being served")
    page.keyboard.press("c")
    expect(page.locator("#toast")).to_contain_text(f"{third['number']} completed")
    assert ticket(third)["state"] == "done"

    page.keyboard.press("a")  # the first came back: re-activated by its number, then called
    expect(page.locator("#reactivate-input")).to_be_focused()
    page.keyboard.type(first["number"])
    page.keyboard.press("Enter")
    expect(page.locator("#reactivate-dialog")).to_be_hidden()
    assert ticket(first)["state"] == "waiting"
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    page.keyboard.press("s")
    expect(page.locator("#current-label")).to_have_text("Being served")
    page.keyboard.press("c")
    expect(page.locator("#toast")).to_contain_text(f"{first['number']} completed")

    page.keyboard.press("p")  # pause, resume
    expect(page.locator("#btn-resume")).to_be_visible()
    page.keyboard.press("p")
    expect(page.locator("#btn-pause")).to_be_visible()
    page.keyboard.press("q")  # close, confirmed with the browser's question
    expect(page.locator("#setup")).to_be_visible()
    page.screenshot(path=str(out / "clerk-keyboard-closed.png"))
