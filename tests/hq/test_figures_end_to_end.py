"""One day, one set of figures: the board, the reports (API and page), the summary after closing, and headquarters.

A day is driven through a real ``huduma-centre serve`` process over HTTP (kiosks
issue, clerks call, recall, start, finish, transfer, mark a no-show, citizens
rate), with two services' target waits set to 2 s so the service level is
more than 100 %. The centre sends to a real ``huduma-hq serve`` on PostgreSQL.
The same figures must come back from every place that shows them.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import CentreProcess, artifacts_dir, free_port, set_upstream, wait_until

# every figure the board, the reports, the close and HQ share (counts, means, percentiles, service level)
FIGURES = ["arrived", "served", "no_shows", "transfers", "wait_mean_s", "wait_median_s", "wait_p90_s", "wait_max_s",
           "service_mean_s", "service_median_s", "service_p90_s", "service_max_s", "within_target", "measured",
           "within_target_share", "satisfaction_mean", "satisfaction_count", "served_share", "no_show_share"]
SHORT_TARGET = ("kra-pin", "kra-returns")


def pick(row: dict, keys: list[str] = FIGURES) -> dict:
    return {k: row[k] for k in keys}


def minutes(v: float | None) -> str:
    return "—" if v is None else f"{v / 60:.1f}"


def figure(cell: str) -> str:
    """The number of a service-level cell, which also says in words how it stands ("✗ below target 31%") and,
    on the reports, how many never called it counts on its own last line ("incl. 1 not called")."""
    line = next((x for x in reversed(cell.splitlines()) if x.strip() and "not called" not in x), cell)
    return line.split()[-1] if line.split() else line


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


@pytest.fixture
def centre(centre_dir, mosquitto, hq, tmp_path, monkeypatch):
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    set_upstream(centre_dir.path, hq.url, token)
    db = sqlite3.connect(centre_dir.path / "centre.db")
    with db:
        db.execute(f"UPDATE services SET target_wait_s=2 WHERE id IN {SHORT_TARGET}")
    db.close()
    monkeypatch.setenv("HUDUMA_SYNC_RETRY_MIN_S", "0.1")
    monkeypatch.setenv("HUDUMA_SYNC_POLL_S", "0.2")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server
    server.stop()


def drive_a_day(server: CentreProcess) -> dict[str, str]:
    """A small day in real time; returns the ids of a few tickets by role."""
    kiosks = [server.client(server.centre.bundle(k)["token"]) for k in ("kiosk-1", "kiosk-2")]
    # one member of staff holds one counter: three counters, three of the demo's staff
    staff = {cid: server.client(server.login(who)) for cid, who in (("c12", "clerk"), ("c13", "manager"),
                                                                    ("c05", "admin"))}
    for cid, member in staff.items():
        member.post(f"/api/v1/counters/{cid}/open").raise_for_status()
    order = ["kra-pin", "birth-cert", "kra-pin", "kra-returns", "kra-pin", "birth-cert", "kra-pin", "kra-pin",
             "birth-cert", "kra-returns", "kra-pin", "birth-cert", "kra-pin"]
    for i, sid in enumerate(order):
        body = {"service_id": sid, **({"phone": "+254722000001"} if i == 0 else {})}
        r = kiosks[i % 2].post("/api/v1/tickets", json=body)
        assert r.status_code == 201, r.text
        time.sleep(0.15)  # waits of different lengths

    def act(cid: str, what: str, **body) -> dict:
        r = staff[cid].post(f"/api/v1/counters/{cid}/{what}", **({"json": body} if body else {}))
        assert r.status_code == 200, r.text
        return r.json()

    ids: dict[str, str] = {}
    ids["served_kra"] = act("c12", "call-next")["id"]
    time.sleep(0.3)
    act("c12", "start")
    time.sleep(0.4)
    act("c12", "complete")
    ids["served_birth"] = act("c05", "call-next")["id"]
    act("c05", "start")
    time.sleep(0.7)
    act("c05", "complete")
    ids["served_unrated"] = act("c13", "call-next")["id"]
    time.sleep(0.2)
    act("c13", "complete")  # finished without pressing start: served, timed from the call
    time.sleep(1.5)  # the next calls come after the 2 s target
    act("c12", "call-next")
    act("c12", "recall")
    act("c12", "no-show")
    act("c12", "call-next")
    act("c12", "start")
    act("c12", "transfer", service_id="kra-returns")
    act("c13", "call-next")
    time.sleep(0.5)
    act("c13", "complete")
    act("c05", "call-next")
    time.sleep(0.2)
    act("c05", "complete")
    ids["called_only"] = act("c05", "call-next")["id"]  # called, never started: still there at the close
    for tid, rating in ((ids["served_kra"], "4"), (ids["served_birth"], "2")):
        r = httpx.post(f"{server.url}/t/{tid}/feedback", data={"rating": rating, "lang": "en"})
        assert r.status_code in (200, 303), r.text
    time.sleep(2.2)  # whoever still waits for kra-pin is past its target now, and still will be at the close
    return ids


def test_one_days_figures_are_the_same_on_the_board_in_the_reports_after_closing_and_at_hq(
        centre, hq, pg_url, browser) -> None:
    server = centre
    ids = drive_a_day(server)
    manager = server.client(server.login("manager"))

    # --- the open day: board, its daily figures, the reports API
    board = manager.get("/api/v1/stats/live").json()
    daily = manager.get("/api/v1/stats/daily").json()
    report = manager.get("/api/v1/reports").json()
    day = board["day"]
    before = report["total"]
    assert not report["closed"] and report["days"][0]["closed"] is False
    assert (before["arrived"], before["served"], before["no_shows"], before["transfers"]) == (13, 5, 1, 1)
    assert before["satisfaction_count"] == 2 and before["unfinished"] == 7  # 6 waiting, 1 called at c05
    assert 0 < before["within_target"] < before["measured"]  # the service level is a real fraction
    assert pick(board["total"]) == pick(daily["total"]) == pick(before)
    assert (board["issued_today"], board["served_today"], board["no_shows_today"]) == (13, 5, 1)
    assert board["satisfaction_mean"] == before["satisfaction_mean"] == 3.0
    rows = {s["service_id"]: s for s in report["services"]}
    for s in board["services"]:
        if s["id"] in rows:
            r = rows[s["id"]]
            assert (s["issued_today"], s["served_today"], s["no_shows_today"]) == (r["arrived"], r["served"],
                                                                                    r["no_shows"]), s["id"]
            assert (s["wait_mean_s"], s["wait_p90_s"], s["service_mean_s"]) == (
                r["wait_mean_s"], r["wait_p90_s"], r["service_mean_s"]), s["id"]
            assert (s["within_target"], s["measured"], s["service_level"]) == (
                r["within_target"], r["measured"], r["within_target_share"]), s["id"]

    # --- the reports page shows the same, in a browser
    out = artifacts_dir("hq")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        page.goto(server.url + "/login")
        page.fill("#username", "manager")
        page.fill("#password", server.centre.staff_password("manager"))
        page.click("#login-button")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(server.url + "/reports")
        cells = page.locator("#report-total tbody td").all_inner_texts()
        assert cells[:2] == [str(before["arrived"]), str(before["served"])]
        assert cells[5] == minutes(before["wait_mean_s"]) and figure(cells[9]) == pct(before["within_target_share"])
        assert page.locator("#report-closed").count() == 0
        page.screenshot(path=str(out / "figures-reports-open-day.png"), full_page=True)
    finally:
        page.close()

    # --- "Close the day": the summary has the same figures; nobody was made served by the close
    r = manager.post("/api/v1/day/close")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["date"] == day and closed["revision"] == 1
    summary = manager.get(f"/api/v1/day/summaries/{day}").json()
    total = summary["total"]
    assert pick(total) == pick(before)
    assert total["cancelled"] == before["cancelled"] + before["unfinished"] and total["unfinished"] == 0
    assert {s["service_id"]: pick(s) for s in summary["services"]} == {k: pick(v) for k, v in rows.items()}
    after = manager.get("/api/v1/reports").json()
    assert after["closed"] and after["days"][0]["closed"] and after["days"][0]["revision"] == 1
    assert pick(after["total"]) == pick(total)
    assert manager.get("/api/v1/stats/live").json()["served_today"] == 5
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        page.goto(server.url + "/login")
        page.fill("#username", "manager")
        page.fill("#password", server.centre.staff_password("manager"))
        page.click("#login-button")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(server.url + "/reports")
        assert page.locator("#report-closed").inner_text().strip() != ""
        cells = page.locator("#report-total tbody td").all_inner_texts()
        assert cells[:2] == [str(total["arrived"]), str(total["served"])]
        assert cells[5] == minutes(total["wait_mean_s"]) and figure(cells[9]) == pct(total["within_target_share"])
        page.screenshot(path=str(out / "figures-reports-closed-day.png"), full_page=True)
    finally:
        page.close()
    called_only = manager.get(f"/api/v1/tickets/{ids['called_only']}").json()
    assert called_only["state"] != "waiting"  # finished by the close; counted among the cancelled above

    # --- headquarters stores exactly the summary and shows it, at the centre's local time
    wait_until(lambda: hq.client().get(f"/api/v1/summaries/demo/{day}").status_code == 200, timeout=30,
               what="the summary at headquarters")
    held = hq.client().get(f"/api/v1/summaries/demo/{day}").json()
    sent = {k: v for k, v in summary.items() if k not in ("revision", "created_at")}
    assert held["summary"] == sent and held["revision"] == 1
    hq_board = hq.client().get("/api/v1/board", params={"date": day, "days": 1}).json()
    [demo] = [c for c in hq_board["centres"] if c["id"] == "demo"]
    assert pick(demo["total"]) == pick(total)
    received = datetime.fromtimestamp(held["received_at"], ZoneInfo("Africa/Nairobi"))
    assert demo["received"]["time"] == received.strftime("%H:%M") and demo["received"]["zone"] == "EAT"
    assert held["received_local"]["iso"] == received.isoformat(timespec="seconds")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    hq.log_in_browser(page.context)
    try:
        page.goto(f"{hq.url}/?date={day}&days=7&lang=en")
        row = page.locator('#centres tr[data-centre="demo"]')
        nums = row.locator("td.num").all_inner_texts()
        assert nums[:3] == [str(total["arrived"]), str(total["served"]), str(total["no_shows"])]
        assert nums[5] == f"{total['wait_p90_s'] / 60:.0f}" and figure(nums[6]) == pct(total["within_target_share"])
        assert f"received {received.strftime('%H:%M')} EAT" in row.locator("th").inner_text()
        footer = page.locator("footer").inner_text()
        assert "EAT" in footer and "UTC" not in footer
        page.screenshot(path=str(out / "figures-hq-board.png"), full_page=True)
        page.goto(f"{hq.url}/?date={day}&days=7&lang=sw")
        assert "imepokelewa" in page.locator('#centres tr[data-centre="demo"] th').inner_text()
        page.screenshot(path=str(out / "figures-hq-board-sw.png"), full_page=True)
    finally:
        page.close()

    # --- a late rating after the close: a new revision goes upstream by itself
    r = httpx.post(f"{server.url}/t/{ids['served_unrated']}/feedback", data={"rating": "1", "lang": "en"})
    assert r.status_code in (200, 303), r.text
    wait_until(lambda: hq.client().get(f"/api/v1/summaries/demo/{day}").json()["revision"] == 2, timeout=60,
               what="revision 2 at headquarters")
    held = hq.client().get(f"/api/v1/summaries/demo/{day}").json()
    assert held["summary"]["total"]["satisfaction_mean"] == 2.33  # (4 + 2 + 1) / 3
    assert manager.get("/api/v1/reports").json()["days"][0]["revision"] == 2
