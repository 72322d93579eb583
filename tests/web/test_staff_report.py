"""Per-counter and per-clerk figures on the reports page and in its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

import httpx
from playwright.sync_api import expect

from centre_server.web import reports
from tests.web.conftest import issue, login_page
from tests.web.test_reports import two_days  # noqa: F401  # the fixture: two days at counter c01


def test_a_range_adds_up_each_clerk_and_counter(two_days):  # noqa: F811
    rep = reports.report(two_days, date(2026, 3, 2), date(2026, 3, 3))
    [clerk] = rep["clerks"]
    # the centre's own report names its clerk (it holds the key to the pseudonym headquarters gets)
    assert clerk["clerk"] == "clerk"
    # day 1: A called 09:10, done 09:15 (300 s); B called 09:20, no-show 09:21 (60 s at the counter);
    #        c01 open 09:00 to midnight: 15 h staffed, 360 s busy
    # day 2: C called 09:30, done 09:40 (600 s); open 09:00 to now (09:40): 0.67 h staffed, 0.17 h busy
    # range: served 2, no-shows 1, mean (300 + 600) / 2 = 450 s, the highest day's p90: 600 s,
    #        staffed 15.0 + 0.67 = 15.67 h, busy 0.1 + 0.17 = 0.27 h, idle (15.67 - 0.27) / 15.67 = 0.9828
    assert (clerk["served"], clerk["no_shows"], clerk["service_mean_s"], clerk["service_p90_s"]) == (2, 1, 450, 600)
    assert (clerk["staffed_hours"], clerk["busy_hours"], clerk["idle_share"]) == (15.67, 0.27, 0.9828)
    assert clerk["outcomes"] == {"served": 2}
    [counter] = rep["counters"]
    assert (counter["counter_id"], counter["served"], counter["no_shows"]) == ("c01", 2, 1)
    rows = list(csv.DictReader(io.StringIO(reports.csv_text(rep))))
    by = {(r["scope"], r["key"]): r for r in rows}
    mine = by[("clerk", "clerk")]
    assert (mine["served"], mine["service_mean_min"], mine["service_p90_min"], mine["idle_pct"]) == (
        "2", "7.5", "10.0", "98.3")
    assert by[("counter", "c01")]["outcomes"] == "served=2"


def test_the_manager_sees_each_clerk_on_the_reports_page(web_server, context_factory, shots):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    first = issue(web_server, kiosk, "kra-pin")
    issue(web_server, kiosk, "kra-pin")
    clerk = web_server.login("clerk")
    with web_server.client(clerk) as api:
        assert api.post("/api/v1/counters/c12/open", json={"services": ["kra-pin"]}).status_code == 200
        assert api.post("/api/v1/counters/c12/call-next").json()["number"] == first["number"]
        done = api.post("/api/v1/counters/c12/complete", json={"outcome": "system_down"})
        assert done.status_code == 200, done.text
        api.post("/api/v1/counters/c12/call-next")
        api.post("/api/v1/counters/c12/no-show")
    page = context_factory().new_page()
    login_page(page, web_server, "manager", web_server.centre.staff_password("manager"))
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(web_server.url + "/reports")
    row = page.locator("#report-clerks tr[data-clerk='clerk']")
    expect(row).to_contain_text("Agency system down: 1")
    counter = page.locator("#report-counters tr[data-counter='c12']")
    expect(counter.locator("td").nth(0)).to_have_text("1")  # served
    expect(counter.locator("td").nth(1)).to_have_text("1")  # no-shows
    page.locator("#staff-report").scroll_into_view_if_needed()
    shots(page, "web-reports-per-clerk")
    # a manager's 1280-pixel screen: every column of every report table, without scrolling sideways, both languages
    # (Kiswahili cut "% within target" and every column after it)
    for lang in ("en", "sw"):
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(web_server.url + f"/reports?lang={lang}")
        widths = page.evaluate(
            "[...document.querySelectorAll('.table-scroll')].map(e => [e.scrollWidth, e.clientWidth])")
        assert widths and all(w <= c for w, c in widths), (lang, widths)
        if lang == "sw":
            shots(page, "web-reports-1280-sw")
    page.goto(web_server.url + "/reports?lang=sw")
    expect(page.locator("#report-clerks tr[data-clerk='clerk']")).to_contain_text("Mfumo wa wakala haufanyi kazi: 1")
    page.locator("#staff-report").scroll_into_view_if_needed()
    shots(page, "web-reports-per-clerk-sw")
    csv_text = page.request.get(web_server.url + "/reports.csv").text()
    rows = [r for r in csv.DictReader(io.StringIO(csv_text)) if r["scope"] == "clerk"]
    assert [(r["key"], r["outcomes"]) for r in rows] == [("clerk", "system_down=1")]
    # what headquarters gets: the day's figures (the same the close sends) carry the clerk under the centre's
    # pseudonym, never the username
    manager = web_server.login("manager")
    day = httpx.get(web_server.url + "/api/v1/stats/daily", headers={"Authorization": f"Bearer {manager}"},
                    timeout=10).json()
    assert [c["clerk"][:6] for c in day["clerks"]] == ["clerk-"] and '"clerk": "clerk"' not in str(day["clerks"])
    assert day["clerks"][0]["outcomes"] == {"system_down": 1}
