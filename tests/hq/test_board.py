"""The national board, its JSON and CSV, in English and Kiswahili, seen in a real browser; the demo."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date, timedelta

import httpx
import pytest

from centre_server.contract import DEMO_HQ_TOKEN
from centre_server.sim.daysim import simulate_engine_day
from tests.conftest import artifacts_dir, free_port, wait_until
from tests.hq.conftest import HqProcess

CENTRES = [("nairobi-gpo", "Huduma Centre GPO", 60), ("mombasa", "Huduma Centre Mombasa", 45),
           ("kisumu", "Huduma Centre Kisumu", 35)]
DAYS = [(date(2026, 3, 2) + timedelta(days=i)).isoformat() for i in range(5)]


def send(hq: HqProcess, token: str, data: dict, revision: int = 1) -> httpx.Response:
    key = f"{data['centre_id']}:{data['date']}:{revision}"
    body = {"key": key, "centre_id": data["centre_id"], "centre_name": data["centre_name"], "date": data["date"],
            "revision": revision, "summary": data}
    return httpx.post(hq.url + "/api/v1/summaries", json=body,
                      headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


@pytest.fixture(scope="module")
def hq(hq_shared: HqProcess) -> HqProcess:
    """This module's tests read one HQ filled once."""
    return hq_shared


@pytest.fixture(scope="module")
def filled(hq: HqProcess) -> dict[str, dict[str, dict]]:
    """Three centres, five days each (the last day missing for Kisumu: not yet reported)."""
    sent: dict[str, dict[str, dict]] = {}
    for cid, name, citizens in CENTRES:
        token = hq.add_centre(cid, name)
        for i, day in enumerate(DAYS):
            if cid == "kisumu" and day == DAYS[-1]:
                continue
            data = simulate_engine_day(day, centre_id=cid, centre_name=name, citizens=citizens, seed=i)
            assert send(hq, token, data).status_code == 201
            sent.setdefault(cid, {})[day] = data
    hq.add_centre("garissa", "Huduma Centre Garissa")  # registered, never reported
    return sent


def test_board_figures_match_what_centres_sent(hq: HqProcess, filled) -> None:
    board = hq.client().get("/api/v1/board", params={"days": 5}).json()
    assert board["date"] == DAYS[-1] and board["dates"] == DAYS
    by_id = {c["id"]: c for c in board["centres"]}
    assert set(by_id) == {"nairobi-gpo", "mombasa", "kisumu", "garissa"}
    assert by_id["nairobi-gpo"]["total"] == filled["nairobi-gpo"][DAYS[-1]]["total"]
    assert by_id["kisumu"]["total"] is None and by_id["kisumu"]["missing"] == [DAYS[-1]]
    assert by_id["garissa"]["reported_days"] == 0
    assert by_id["mombasa"]["arrived_trend"] == [filled["mombasa"][d]["total"]["arrived"] for d in DAYS]
    for n in board["national"]:
        day_totals = [filled[c][n["date"]]["total"] for c in filled if n["date"] in filled[c]]
        assert n["arrived"] == sum(t["arrived"] for t in day_totals)
        within = sum(t["within_target"] for t in day_totals)
        measured = sum(t["measured"] for t in day_totals)
        assert n["within_target_share"] == round(within / measured, 4)
    shares = [w["within_target_share"] for w in board["worst"]]
    assert shares == sorted(shares) and all(w["measured"] >= 10 for w in board["worst"])


def test_csv_export_has_a_row_per_centre_and_day_and_per_service(hq: HqProcess, filled) -> None:
    r = hq.client().get("/export.csv", params={"from": DAYS[0], "to": DAYS[-1]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == sum(len(v) for v in filled.values())
    for row in rows:
        assert int(row["arrived"]) == filled[row["centre_id"]][row["date"]]["total"]["arrived"]
    r = hq.client().get("/export.csv", params={"from": DAYS[0], "to": DAYS[-1], "level": "services"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == sum(len(d["services"]) for v in filled.values() for d in v.values())
    r = hq.client().get("/export.csv", params={"from": DAYS[-1], "to": DAYS[0]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_range"


def test_board_page_in_english_and_kiswahili_in_a_browser(hq: HqProcess, filled, browser) -> None:
    out = artifacts_dir("hq")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    hq.log_in_browser(page.context)
    try:
        page.goto(hq.url + "/?days=5")
        assert page.locator("h1").inner_text() == "Huduma Centres: national board"
        rows = page.locator("#centres tbody tr")
        assert rows.count() == 4
        gpo = page.locator('#centres tr[data-centre="nairobi-gpo"] td.num').first.inner_text()
        assert int(gpo) == filled["nairobi-gpo"][DAYS[-1]]["total"]["arrived"]
        assert "no report" in page.locator('#centres tr[data-centre="kisumu"]').inner_text()
        assert page.locator("svg.trend rect.bar").count() == 5
        assert page.locator("#worst tbody tr").count() >= 1
        assert "Satisfaction (1 Poor – 4 Excellent)" in page.locator("#centres thead").inner_text()
        page.screenshot(path=str(out / "board-en.png"), full_page=True)
        page.click("a.lang")
        assert page.locator("h1").inner_text() == "Vituo vya Huduma: ubao wa kitaifa"
        assert "hakuna ripoti" in page.locator('#centres tr[data-centre="kisumu"]').inner_text()
        assert page.locator("h2").first.inner_text().startswith("Vituo bega kwa bega")
        assert "Kuridhika (1 Mbaya – 4 Bora sana)" in " ".join(page.locator("#centres thead").inner_text().split())
        page.screenshot(path=str(out / "board-sw.png"), full_page=True)
        page.goto(hq.url + "/")  # the language is remembered
        assert page.locator("h1").inner_text() == "Vituo vya Huduma: ubao wa kitaifa"
    finally:
        page.close()


def test_demo_headquarters_registers_the_demo_centre_and_simulates_neighbours(tmp_path) -> None:
    demo = HqProcess(db_url="", port=free_port(), log_path=tmp_path / "hq-demo.log", cwd=tmp_path, demo=True)
    demo.start()
    try:
        ids = {c["id"] for c in demo.client().get("/api/v1/centres").json()}
        assert {"demo", "city-square", "mombasa", "kisumu", "nakuru"} <= ids
        # the second demo centre too (issue 22), and where each is for the public wait page
        assert "demo-thika" in ids
        near = httpx.get(demo.url + "/api/v1/wait", params={"service": "K", "lat": -1.15, "lon": 36.96}).json()
        assert {"demo", "demo-thika"} <= {c["id"] for c in near["centres"]}
        assert (tmp_path / "demo-hq" / "hq.db").is_file()
        wait_until(lambda: demo.client().get("/healthz").json()["summaries"] >= 3, timeout=60,
                   interval=0.5, what="simulated neighbour days")
        data = simulate_engine_day(date.today().isoformat(), centre_id="demo", centre_name="Huduma Centre GPO (demo)",
                                   citizens=20)
        r = send(demo, DEMO_HQ_TOKEN, data)
        assert r.status_code == 201, r.text
        page = demo.client().get("/")
        assert "Huduma Centre GPO (demo)" in page.text and "Demo headquarters" in page.text
    finally:
        demo.stop()


def test_command_line_errors_are_one_line(tmp_path) -> None:
    from tests.conftest import BIN

    out = subprocess.run([str(BIN / "huduma-hq"), "serve"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 1 and "no database" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([str(BIN / "huduma-hq"), "add-centre", "Bad Id", "--name", "x", "--db", "sqlite:///x.db"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 1 and "centre id" in out.stderr
    out = subprocess.run([str(BIN / "huduma-hq"), "list-centres", "--db", "postgresql://nobody@127.0.0.1:1/none"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 1 and "cannot open PostgreSQL" in out.stderr and "Traceback" not in out.stderr
