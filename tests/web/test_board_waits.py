"""The board tells the truth about waits and the day (issue 15): a reason instead of an invented
number, "Last ticket issued" when a newcomer would not be called before the last call, and a banner
once the day is closed. A real server process (with a closing time 40 minutes ahead) and Chromium.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from centre_server.contract import day_words
from tests.conftest import CentreProcess, closing_ahead, free_port
from tests.web.conftest import issue, login_page

NAIROBI = ZoneInfo("Africa/Nairobi")


def set_day(config, **keys: str) -> None:
    """Rewrite keys of centre.toml's [day] table."""
    text = config.read_text()
    for key, value in keys.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f'{key} = "{value}"', text)
        assert n == 1, key
    config.write_text(text)


@pytest.fixture
def closing_soon(centre_dir, mosquitto, tmp_path):
    """A real centre server whose day closes 90 minutes from now (opening at midnight): far enough that a
    service nobody serves still issues (within ``unserved_minutes``, 60, of the close it would refuse)."""
    now, closing = closing_ahead(90)
    # late in the evening the close is 23:59, nearer: the hour before it is cut so that now stays outside it
    left = (now.replace(hour=23, minute=59) - now).total_seconds() // 60
    set_day(centre_dir.path / "centre.toml", opening_time="00:00", closing_time=closing)
    toml = centre_dir.path / "centre.toml"
    toml.write_text(re.sub(r"(?m)^unserved_minutes = \d+", f"unserved_minutes = {int(max(0, min(60, left - 20)))}",
                           toml.read_text()))
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server
    server.stop()


def estimate_cells(page) -> dict[str, str]:
    """The board's estimated-wait column, per service shown."""
    return page.locator("#service-rows tr[data-service]").evaluate_all(
        "rows => Object.fromEntries(rows.map(r => [r.dataset.service, r.children[3].textContent]))")


def test_board_says_why_there_is_no_wait_and_when_the_day_is_closed(closing_soon, context_factory, shots):
    server = closing_soon
    kiosk = server.centre.bundle("kiosk-1")["token"]
    clerk = server.client(server.login("clerk"))
    second = server.client(server.login("admin"))  # one member of staff holds one counter
    # nobody serves pensions today: their citizens wait with no estimate
    pension = [issue(server, kiosk, "pension") for _ in range(2)]
    # one counter shared by two services and busy: the newcomer's estimate stays a real number
    opened = clerk.post("/api/v1/counters/c07/open", json={"services": ["driving-licence", "smart-dl"]})
    assert opened.status_code == 200
    issue(server, kiosk, "driving-licence")
    issue(server, kiosk, "driving-licence")
    assert clerk.post("/api/v1/counters/c07/call-next").status_code == 200
    # good conduct fills up until a newcomer would not be called before closing
    assert second.post("/api/v1/counters/c10/open", json={"services": ["good-conduct"]}).status_code == 200
    for _ in range(40):
        r = clerk.post("/api/v1/tickets", json={"service_id": "good-conduct", "channel": "staff"})
        if r.status_code != 201:
            break
    assert r.json()["error"]["code"] == "after_last_call", r.text

    page = context_factory().new_page()
    login_page(page, server, "manager", server.centre.staff_password("manager"))
    page.wait_for_url("**/board")
    row = "#service-rows tr[data-service='{}']"
    expect(page.locator(row.format("pension") + " td.wait-unknown")).to_have_text("No counter open")
    expect(page.locator(row.format("pension") + " td.num.big")).to_have_text(str(len(pension)))
    expect(page.locator(row.format("good-conduct") + " .tag")).to_have_text("Last ticket issued")
    expect(page.locator(row.format("driving-licence") + " .tag")).to_have_count(0)
    expect(page.locator("#day-banner")).to_be_hidden()
    for sid, text in estimate_cells(page).items():
        # each estimate is a reason in words or whole minutes within the day, never 3,095,468 min
        assert text in ("No counter open", "—") or (text.isdigit() and int(text) < 24 * 60), (sid, text)
    assert estimate_cells(page)["smart-dl"].isdigit()
    shots(page, "web-board-waits", full_page=True)

    page.click("a[data-lang-link='sw']")
    expect(page.locator(row.format("pension") + " td.wait-unknown")).to_have_text("Hakuna kaunta wazi")
    expect(page.locator(row.format("good-conduct") + " .tag")).to_have_text("Tiketi ya mwisho imetolewa")
    shots(page, "web-board-waits-sw", full_page=True)
    page.click("a[data-lang-link='en']")
    expect(page.locator(row.format("pension") + " td.wait-unknown")).to_have_text("No counter open")

    # the manager closes the day: a banner says so, with when it opens again, and no wait is shown
    page.once("dialog", lambda d: d.accept())
    page.click("#close-day")
    expect(page.locator("#day-banner")).to_be_visible()
    tomorrow = datetime.now(NAIROBI).date() + timedelta(days=1)
    expect(page.locator("#day-banner")).to_contain_text("The centre is closed for today: no tickets are issued.")
    expect(page.locator("#day-banner-opens")).to_have_text(
        f"It opens again on {day_words(tomorrow, 'en')} at 00:00.")
    expect(page.locator(row.format("pension") + " td.wait-unknown")).to_have_text("Closed for today")
    assert set(estimate_cells(page).values()) == {"Closed for today"}
    expect(page.locator("#service-rows .tag")).to_have_count(0)  # closed, not "last ticket issued"
    page.evaluate("window.scrollTo(0, 0)")
    shots(page, "web-board-closed")
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#day-banner")).to_contain_text("Kituo kimefungwa kwa leo: hakuna tiketi zinazotolewa.")
    expect(page.locator(row.format("pension") + " td.wait-unknown")).to_have_text("Imefungwa kwa leo")
    shots(page, "web-board-closed-sw")
