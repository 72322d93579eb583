"""The national board says when each centre last called in (live snapshot, night summary) and marks a centre
silent for more than five minutes while it is open, in both languages. Real HQ on PostgreSQL, real requests;
"ten minutes ago" is made by moving the arrival back in the database, as the clock would have."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import psycopg

from centre_server.sim.daysim import simulate_engine_day
from tests.conftest import artifacts_dir
from tests.hq.conftest import HqProcess
from tests.hq.test_board import send

NAIROBI = ZoneInfo("Africa/Nairobi")


def snapshot(centre_id: str, *, open_today: bool = True, opens: str | None = "00:00",
             closes: str | None = None) -> dict:
    now = datetime.now(NAIROBI)
    return {"centre_id": centre_id, "taken_at": now.isoformat(), "day": now.date().isoformat(),
            "timezone": "Africa/Nairobi", "catalogue_version": 0,
            "hours": {"open_today": open_today, "opens": opens, "closes": closes}, "services": []}


def post_snapshot(hq: HqProcess, token: str, body: dict) -> None:
    r = httpx.post(hq.url + "/api/v1/live", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text


def heard_back(pg_url: str, centre_id: str, seconds: float) -> None:
    """The snapshot arrived ``seconds`` ago (nothing since): what a cut link leaves behind."""
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE live_centres SET received_at = %s WHERE centre_id = %s",
                     [time.time() - seconds, centre_id])


def test_the_board_marks_a_centre_silent_while_open_and_says_when_each_last_called_in(
        hq: HqProcess, pg_url: str, browser) -> None:
    tokens = {cid: hq.add_centre(cid, name) for cid, name in (
        ("gpo", "Huduma Centre GPO"), ("thika", "Huduma Centre Thika"), ("nyeri", "Huduma Centre Nyeri"),
        ("garissa", "Huduma Centre Garissa"))}
    post_snapshot(hq, tokens["gpo"], snapshot("gpo"))  # open all day, heard just now
    post_snapshot(hq, tokens["thika"], snapshot("thika"))  # open all day, heard 12 minutes ago
    heard_back(pg_url, "thika", 12 * 60)
    post_snapshot(hq, tokens["nyeri"], snapshot("nyeri", open_today=False, opens=None))  # closed today
    heard_back(pg_url, "nyeri", 3 * 3600)
    # garissa never called in
    day = simulate_engine_day("2026-03-02", centre_id="gpo", centre_name="Huduma Centre GPO", citizens=20, seed=1)
    assert send(hq, tokens["gpo"], day).status_code == 201

    board = hq.client().get("/api/v1/board", params={"date": "2026-03-02", "days": 7}).json()
    up = {c["id"]: c["upstream"] for c in board["centres"]}
    assert board["centres_silent"] == 1
    assert (up["gpo"]["silent"], up["gpo"]["open_now"]) == (False, True) and up["gpo"]["snapshot"]["age_s"] < 120
    assert up["gpo"]["summary"]["day"] == "2026-03-02" and up["gpo"]["summary"]["zone"] == "EAT"
    assert up["thika"]["silent"] is True and 12 * 60 <= up["thika"]["silent_s"] < 14 * 60
    assert up["thika"]["summary"] is None
    assert (up["nyeri"]["silent"], up["nyeri"]["open_now"]) == (False, False)  # silent, but closed today
    assert up["garissa"] == {"snapshot": None, "summary": None, "inbox": None, "open_now": None, "silent": False,
                             "silent_s": None, "timezone": None}

    # an inbox poll is word from the centre too: a centre polling its inbox is not silent
    r = httpx.post(hq.url + "/api/v1/inbox", json={}, headers={"Authorization": f"Bearer {tokens['thika']}"})
    assert r.status_code == 200, r.text
    again = hq.client().get("/api/v1/board", params={"date": "2026-03-02", "days": 7}).json()
    assert again["centres_silent"] == 0
    assert [c["upstream"]["inbox"] is not None for c in again["centres"] if c["id"] == "thika"] == [True]
    heard_back(pg_url, "thika", 12 * 60)
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE hq_centre_polls SET last_poll_at = %s WHERE centre_id = 'thika'", [time.time() - 700])

    out = artifacts_dir("hq")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    context = page.context
    hq.log_in_browser(context, "viewer")
    try:
        for lang, silent, live_now, never, banner in (
                ("en", "Silent for 11 min while open", "Live figures: just now", "Live figures: never",
                 "Centres silent while open (nothing heard for over 5 minutes): 1."),
                ("sw", "Kimya kwa dakika 11 kikiwa wazi", "Takwimu za sasa: sasa hivi", "Takwimu za sasa: bado",
                 "Vituo vilivyo kimya vikiwa wazi (hakuna taarifa kwa zaidi ya dakika 5): 1.")):
            page.goto(f"{hq.url}/?date=2026-03-02&days=7&lang={lang}")
            # the lines wrap in the centre's column; the board fits a 1366 px laptop in both languages
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1366, f"the board scrolls sideways at 1366 px: {width}px"
            inside = page.evaluate("(() => { const t = document.querySelector('#centres').getBoundingClientRect(); "
                                   "const s = document.querySelector('#centres').closest('section')"
                                   ".getBoundingClientRect(); return t.right <= s.right; })()")
            assert inside, "the centres' table pokes out of its section"
            thika, gpo, garissa = (page.locator(f'#centres tr[data-centre="{cid}"]') for cid in ("thika", "gpo",
                                                                                                  "garissa"))
            assert thika.locator(".heard.silent").count() == 1
            assert silent in thika.locator(".heard").inner_text()
            assert gpo.locator(".heard.silent").count() == 0 and live_now in gpo.locator(".heard").inner_text()
            assert "2026-03-02" in gpo.locator(".heard").inner_text()
            assert never in garissa.locator(".heard").inner_text()
            assert page.locator("#silent-centres").inner_text().startswith(banner)
            page.screenshot(path=str(out / f"board-silent-{lang}.png"), full_page=True)
    finally:
        page.close()
