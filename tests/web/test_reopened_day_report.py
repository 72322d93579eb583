"""Close, reopen, more tickets, close again: on a real server, headquarters gets one new revision, and the
reports page in a real browser says "reopened" (never "closed") while the day takes tickets again."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.conftest import day_with_minutes_left
from tests.web.conftest import issue, login_page

SETTLE_S = 0.2  # the closer's quiet time after a change to a closed day (2 s in production)


@pytest.fixture(autouse=True)
def quick_closer(monkeypatch) -> None:
    """Set before the server starts: a change the closer would act on is acted on within a second."""
    monkeypatch.setenv("HUDUMA_RESUMMARY_SETTLE_S", str(SETTLE_S))


def test_a_reopened_day_reports_reopened_and_sends_one_revision_when_closed_again(
        centre_server, centre_dir, context_factory, shots):
    day_with_minutes_left(2)  # the day must not roll over in the middle
    kiosk = centre_dir.bundle("kiosk-1")["token"]
    manager = centre_server.client(centre_server.login("manager"))
    for sid in ["kra-pin", "birth-cert"]:
        issue(centre_server, kiosk, sid)
    closed = manager.post("/api/v1/day/close")
    assert closed.status_code == 200, closed.text
    today = closed.json()["date"]
    assert (closed.json()["revision"], closed.json()["new_revision"]) == (1, True)
    assert manager.post("/api/v1/day/reopen").status_code == 200

    for sid in ["kra-pin"] * 4 + ["good-conduct"] * 2:
        issue(centre_server, kiosk, sid)
    time.sleep(SETTLE_S + 2)  # many times the closer's settle time: a revision per ticket would be here by now
    assert manager.get("/api/v1/day/summaries").json() == [{"date": today, "revision": 1, "revisions": 1}]
    status = manager.get("/api/v1/sync/status").json()
    keys = [r["key"] for r in status["pending"] + status["recently_sent"]]
    assert keys == [f"demo:{today}:1"], keys

    page = context_factory().new_page()
    login_page(page, centre_server, "manager", centre_dir.staff_password("manager"))
    page.wait_for_url("**/board")
    page.goto(centre_server.url + "/reports?lang=en")
    expect(page.locator("#report-reopened")).to_have_text("reopened")
    expect(page.locator("#report-closed")).to_have_count(0)
    expect(page.locator("#reopened-note")).to_contain_text("revision 1")
    expect(page.locator("#report-total tbody td").first).to_have_text("8")  # live: 2 before the close, 6 after
    assert "closed" not in page.locator("h2").first.inner_text()
    shots(page, "web-reports-reopened-en", full_page=True)
    page.goto(centre_server.url + "/reports?lang=sw")
    expect(page.locator("#report-reopened")).to_have_text("imefunguliwa tena")
    expect(page.locator("#report-closed")).to_have_count(0)
    expect(page.locator("#reopened-note")).to_contain_text("toleo 1")
    shots(page, "web-reports-reopened-sw", full_page=True)

    again = manager.post("/api/v1/day/close")  # closed again: exactly one new revision, with the new tickets
    assert again.status_code == 200, again.text
    assert (again.json()["revision"], again.json()["new_revision"], again.json()["total"]["arrived"]) == (2, True, 8)
    time.sleep(SETTLE_S + 1)
    assert manager.get("/api/v1/day/summaries").json() == [{"date": today, "revision": 2, "revisions": 2}]
    page.goto(centre_server.url + "/reports?lang=en")
    expect(page.locator("#report-closed")).to_have_text("closed")
    expect(page.locator("#report-reopened")).to_have_count(0)
    expect(page.locator("#reopened-note")).to_have_count(0)
    shots(page, "web-reports-closed-again-en", full_page=True)
