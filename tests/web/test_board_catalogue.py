"""The board's catalogue panel (issue 19): which national version runs, and a manager suspends a service with a
reason in both languages, sees it refused to newcomers, and offers it again. A real server process and Chromium."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import CentreProcess, free_port
from tests.web.conftest import issue, login_page


@pytest.fixture
def server(centre_dir, mosquitto, tmp_path):
    """A real centre server whose headquarters is out of reach (a closed port: never a neighbour's demo HQ)."""
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('hq_url = ""', f'hq_url = "http://127.0.0.1:{free_port()}"'))
    proc = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                         log_path=tmp_path / "centre.log")
    proc.start()
    yield proc
    proc.stop()


def test_a_manager_suspends_a_service_on_the_board_and_offers_it_again(server, context_factory, shots):
    kiosk = server.centre.bundle("kiosk-1")["token"]
    issue(server, kiosk, "kra-pin")  # a citizen already waits: the row shows, and they keep their place
    page = context_factory().new_page()
    login_page(page, server, "manager", server.centre.staff_password("manager"))
    page.wait_for_url("**/board")
    expect(page.locator("#catalogue-version")).to_contain_text("Version 0")
    expect(page.locator("#catalogue-exceptions")).to_contain_text("Every service in the menu is offered")

    page.select_option("#offering-service", "kra-pin")
    page.select_option("#offering-status", "suspended")
    page.fill("#offering-reason-en", "KRA's iTax system is down")
    page.click("#offering-save")  # no Kiswahili reason: refused on the page, nothing sent
    expect(page.locator("#offering-error")).to_contain_text("English and in Kiswahili")
    page.fill("#offering-reason-sw", "Mfumo wa iTax wa KRA haufanyi kazi")
    page.click("#offering-save")
    row = page.locator("#catalogue-exceptions li[data-service='kra-pin']")
    expect(row).to_contain_text("suspended since")
    expect(row).to_contain_text("KRA's iTax system is down")
    expect(page.locator("#service-rows tr[data-service='kra-pin'] [data-refusal='service_suspended']")).to_be_visible()
    expect(page.locator("#catalogue-sync")).to_contain_text("Headquarters not reached since")
    assert "Error" not in page.locator("#catalogue-sync").inner_text()  # the technical detail stays in the log
    page.locator("#catalogue-card").scroll_into_view_if_needed()
    shots(page, "web-board-catalogue")

    refused = httpx.post(server.url + "/api/v1/tickets", json={"service_id": "kra-pin"},
                         headers={"Authorization": f"Bearer {kiosk}"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "service_suspended"

    page.click("a[data-lang-link='sw']")
    sw_row = page.locator("#catalogue-exceptions li[data-service='kra-pin']")
    expect(sw_row).to_contain_text("imesitishwa tangu")
    expect(sw_row).to_contain_text("Mfumo wa iTax wa KRA haufanyi kazi")
    page.locator("#catalogue-card").scroll_into_view_if_needed()
    shots(page, "web-board-catalogue-sw")

    sw_row.locator("button").click()  # "Toa tena": offered again
    expect(page.locator("#catalogue-exceptions li.ok")).to_be_visible()
    assert issue(server, kiosk, "kra-pin")["number"] == "K002"

    # "Ask headquarters now": HQ is out of reach, so the board says so and the centre keeps its version
    page.click("#catalogue-sync-now")
    expect(page.locator("#toast")).to_contain_text("Makao makuu hayajafikiwa tangu")
    expect(page.locator("#toast")).to_contain_text("toleo 0")
    expect(page.locator("#catalogue-sync")).to_be_visible()
    expect(page.locator("#catalogue-sync-now")).to_be_enabled()
