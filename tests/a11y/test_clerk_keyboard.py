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
