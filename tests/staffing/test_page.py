"""The manager's "Tomorrow" page in headless Chromium, on a centre with a simulated history behind it.

The history is written by ``huduma-centre simulate-history`` (the real engine, the centre's own
database), the plan by ``huduma-centre plan``, and the page by a real server process.
"""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from centre_server.config import load_settings
from centre_server.queue import engine
from centre_server.runtime.centre import Centre, new_ticket_id
from centre_server.staffing.simulate import WEEKDAY
from tests.conftest import BIN, CentreProcess, artifacts_dir, free_port
from tests.web.conftest import context_factory, login_page  # noqa: F401  (a fixture, by name)


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([str(BIN / "huduma-centre"), *args], capture_output=True, text=True, timeout=300)
    assert (out.returncode == 0) == ok, out.stdout + out.stderr
    return out


@pytest.fixture
def planned_centre(centre_dir, mosquitto, tmp_path):
    """A demo centre with three weeks of simulated history, served."""
    out = run("simulate-history", str(centre_dir.path), "--days", "21", "--citizens", "160")
    assert "simulated 21 days" in out.stdout
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server
    server.stop()


def test_tomorrow_page_plan_csv_print_and_after_the_day(planned_centre, centre_dir, context_factory):  # noqa: F811
    shots = artifacts_dir("staffing")
    server = planned_centre
    # beside the running server the history cannot be written again
    refused = run("simulate-history", str(centre_dir.path), "--days", "5", ok=False)
    assert "a centre server is running" in refused.stderr
    # the command line gives the same plan the page shows
    cli = run("plan", str(centre_dir.path), "--date", "tomorrow", "--csv", str(centre_dir.path / "plan.csv"))
    assert "citizens expected, from 21 days of history" in cli.stdout and "expected within target: plan" in cli.stdout
    assert (centre_dir.path / "plan.csv").read_text().startswith("date,group,services,half_hour")

    page = context_factory().new_page()
    page.set_default_timeout(240_000)  # the first plan replays many days through the engine
    login_page(page, server, "manager", centre_dir.staff_password("manager"))
    page.wait_for_url("**/board")
    page.click("#tomorrow-link")
    page.wait_for_url("**/tomorrow")
    # a plan that takes more than 3 s (tens of seconds on a loaded machine): the page answers, says so, and
    # shows the plan by itself; a quicker one is shown at once
    expect(page.locator("#plan-preparing, #plan-table").first).to_be_visible()
    if page.locator("#plan-preparing").count():
        expect(page.locator("#plan-preparing")).to_contain_text("Preparing the plan for")
        page.screenshot(path=str(shots / "tomorrow-preparing-en.png"), full_page=True)
    expect(page.locator("#plan-title")).to_contain_text("Tomorrow · Counters for", timeout=240_000)
    expect(page.locator("#plan-table tbody tr[data-group]")).to_have_count(13)
    expected = int(page.locator("#kpi-expected").inner_text())
    # the history's own crowd for tomorrow's weekday: 160 on a Tuesday, 56 on a Sunday (a Saturday's page)
    tomorrow = datetime.now(ZoneInfo("Africa/Nairobi")).date() + timedelta(days=1)
    usual = 160 * WEEKDAY[tomorrow.weekday()]
    assert usual / 2 < expected < usual * 2.5, (tomorrow, usual, expected)
    plan_level = int(page.locator("#kpi-level-plan").inner_text().rstrip("%"))
    assert plan_level >= 80
    assert page.locator("#kpi-level-roster").inner_text().endswith("%")
    assert page.locator("#row-plan-total td.slot-n").count() == 17  # 08:00 to 16:00, as the history came
    assert int(page.locator("#row-plan-total td.slot-n").first.inner_text()) >= 13  # every group keeps a counter
    page.screenshot(path=str(shots / "tomorrow-en.png"), full_page=True)

    # Kiswahili, the same plan
    page.click("[data-lang-link='sw']")
    expect(page.locator("#plan-title")).to_contain_text("Kesho · Kaunta za")
    expect(page.locator("#kpi-expected")).to_have_text(str(expected))
    page.screenshot(path=str(shots / "tomorrow-sw.png"), full_page=True)

    # the printout: no navigation, no form, the table whole
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#plan-form")).to_be_hidden()
    page.screenshot(path=str(shots / "tomorrow-print.png"), full_page=True)
    page.emulate_media(media="screen")

    # the CSV, as the page's link downloads it
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    r = httpx.get(server.url + "/tomorrow.csv?date=tomorrow", cookies=cookies, timeout=240)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len({row["group"] for row in rows}) == 13 and all(int(row["planned_counters"]) >= 1 for row in rows)

    # after the day: yesterday's plan against what happened
    page.goto(server.url + "/tomorrow?date=yesterday&lang=en")
    expect(page.locator("#after-the-day")).to_be_visible()
    expect(page.locator("#row-arrived")).to_be_visible()
    expect(page.locator("#review-level")).to_contain_text("%")
    page.screenshot(path=str(shots / "tomorrow-after-the-day.png"), full_page=True)

    # hostile and mistaken input: a clear message, never a traceback
    page.goto(server.url + "/tomorrow?date=2026-13-45")
    expect(page.locator("#plan-error")).to_contain_text("Choose a day")
    bad = httpx.get(server.url + "/tomorrow.csv?date=' OR 1=1", cookies=cookies, timeout=30)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_day"
    far = httpx.get(server.url + "/tomorrow.csv?date=2020-01-01", cookies=cookies, timeout=30)
    assert far.status_code == 422
    # a clerk may not see it; nobody logged out may either
    clerk = context_factory().new_page()
    login_page(clerk, server, "clerk", centre_dir.staff_password("clerk"))
    clerk.wait_for_url("**/clerk")
    assert clerk.goto(server.url + "/tomorrow").status == 403
    assert httpx.get(server.url + "/tomorrow.csv", follow_redirects=False).status_code == 303


def test_a_new_centre_says_it_has_no_history_yet(centre_server, centre_dir, context_factory):  # noqa: F811
    page = context_factory().new_page()
    login_page(page, centre_server, "manager", centre_dir.staff_password("manager"))
    page.wait_for_url("**/board")
    first = page.goto(centre_server.url + "/tomorrow?lang=sw").text()  # the first answer is the true one
    assert 'id="plan-no-history"' in first and 'id="plan-preparing"' not in first
    expect(page.locator("#plan-no-history")).to_contain_text("Historia haitoshi kupanga")
    expect(page.locator("#plan-no-history")).to_contain_text("hakuna siku ya kazi bado, na utabiri unahitaji 10")
    page.screenshot(path=str(artifacts_dir("staffing") / "tomorrow-no-history-sw.png"), full_page=True)


def test_simulated_history_is_refused_over_real_tickets(centre_dir):
    centre = Centre(load_settings(centre_dir.path))
    try:
        centre.execute(engine.IssueTicket(ticket_id=new_ticket_id(), service_id="kra-pin"))
    finally:
        centre.close()
    out = run("simulate-history", str(centre_dir.path), "--days", "3", ok=False)
    assert "holds 1 real ticket:" in out.stderr
