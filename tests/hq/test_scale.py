"""Headquarters' figures kept in PostgreSQL columns (hq.daily) give the board, JSON and CSV they gave before.

The oracle is the board as it was computed before (``tests/hq/board_oracle.py``,
every summary parsed in Python); the new path adds up ``day_totals`` and
``day_services`` in SQL. Same data, same answers: including a revised day, a
late lower revision, a row changed by hand, a row that is not a summary, a
registered centre that never reported, and the demo's data set.
"""

from __future__ import annotations

import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from centre_server.sim.daysim import simulate_engine_day
from hq import board, daily, demo
from hq.app import add_catalogue_versions
from hq.auth import Accounts
from hq.callcentre_store import CallCentre
from hq.catalogue import CatalogueStore
from hq.store import Store
from tests.conftest import free_port
from tests.hq import board_oracle as oracle
from tests.hq.conftest import HqProcess, pg_schema

CENTRES = [("nairobi-gpo", "Huduma Centre GPO", 40), ("mombasa", "Huduma Centre Mombasa", 30),
           ("kisumu", "Huduma Centre Kisumu", 25)]
DAYS = [(date(2026, 3, 2) + timedelta(days=i)).isoformat() for i in range(6)]


NAIROBI = ZoneInfo("Africa/Nairobi")
AFTER_LAST = (date.fromisoformat(DAYS[-1]) + timedelta(days=1)).isoformat()
BEFORE_FIRST = (date.fromisoformat(DAYS[0]) - timedelta(days=1)).isoformat()
# (centre, rating, Nairobi date, time): two inside the six days for GPO (one at 23:59:59 of the last day),
# one 30 s after that day ends and one the evening before the first day (both outside), one for Mombasa
FEEDBACK = [("nairobi-gpo", 5, DAYS[0], "09:00:00"), ("nairobi-gpo", 2, DAYS[-1], "23:59:59"),
            ("nairobi-gpo", 4, AFTER_LAST, "00:00:30"), ("nairobi-gpo", 1, BEFORE_FIRST, "23:00:00"),
            ("mombasa", 3, DAYS[2], "12:00:00")]


def nairobi(day: str, clock: str) -> float:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=NAIROBI).timestamp()


def put(store: Store, data: dict, revision: int = 1) -> str:
    key = f"{data['centre_id']}:{data['date']}:{revision}"
    return store.put_summary(data["centre_id"], key, data["date"], revision, data).outcome


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Three centres over six days (gaps: Kisumu misses the last two), one revised day, a bad row, a silent centre."""
    with pg_schema() as url:
        store = Store(url)
        store.migrate()
        sent: dict[tuple[str, str], dict] = {}
        for cid, name, citizens in CENTRES:
            store.add_centre(cid, name)
            for i, day in enumerate(DAYS):
                if cid == "kisumu" and i >= 4:
                    continue
                data = simulate_engine_day(day, centre_id=cid, centre_name=name, citizens=citizens, seed=i)
                assert put(store, data) == "stored"
                sent[(cid, day)] = data
        store.add_centre("garissa", "Huduma Centre Garissa")  # registered, never reported
        accounts = Accounts(store)
        accounts.migrate()
        calls = CallCentre(store, accounts)
        calls.migrate()
        for cid, rating, day, clock in FEEDBACK:  # callers' ratings taken by the call centre
            calls.add_feedback("agent-1", None, cid, rating, "", now=nairobi(day, clock))
        yield store, url, sent, tmp_path_factory.mktemp("hq-scale")


@pytest.fixture(scope="module")
def served(filled):
    """A real ``huduma-hq serve`` over the filled schema."""
    _, url, _, tmp = filled
    hq = HqProcess(db_url=url, port=free_port(), log_path=tmp / "hq.log", cwd=tmp)
    hq.start()
    yield hq
    hq.stop()


def service_figures(store: Store, cid: str, day: str) -> list[tuple]:
    with store.tx() as cur:
        cur.execute("SELECT service_id, arrived, within_target, measured, wait_sum, wait_n FROM day_services "
                    "WHERE centre_id=? AND date=? ORDER BY position", [cid, day])
        return [tuple(r) for r in cur.fetchall()]


def expected_services(data: dict) -> list[tuple]:
    out = []
    for s in data["services"]:
        n = daily.wait_weight(s) if s["wait_mean_s"] is not None else 0
        out.append((s["service_id"], s["arrived"], s["within_target"], s["measured"], (s["wait_mean_s"] or 0.0) * n, n))
    return out


def test_a_revised_day_replaces_its_figures_and_a_late_lower_revision_changes_nothing(filled) -> None:
    store, _, sent, _ = filled
    cid, day = "mombasa", DAYS[2]
    assert service_figures(store, cid, day) == expected_services(sent[(cid, day)])
    revised = simulate_engine_day(day, centre_id=cid, centre_name="Huduma Centre Mombasa", citizens=55, seed=99)
    assert put(store, revised, revision=3) == "stored"
    sent[(cid, day)] = revised
    assert service_figures(store, cid, day) == expected_services(revised)  # no rows of revision 1 remain
    late = simulate_engine_day(day, centre_id=cid, centre_name="Huduma Centre Mombasa", citizens=10, seed=7)
    assert put(store, late, revision=2) == "superseded"  # revision 2 arrives after 3: changes nothing
    assert put(store, revised, revision=3) == "duplicate"
    assert service_figures(store, cid, day) == expected_services(revised)
    with store.tx() as cur:
        cur.execute("SELECT revision, arrived, within_target, measured FROM day_totals WHERE centre_id=? AND date=?",
                    [cid, day])
        t = revised["total"]
        assert tuple(cur.fetchone()) == (3, t["arrived"], t["within_target"], t["measured"])
        cur.execute("SELECT SUM(arrived) FROM day_totals WHERE date=? AND problem IS NULL", [day])
        assert cur.fetchone()[0] == sum(d["total"]["arrived"] for (c, d_), d in sent.items() if d_ == day)


def test_the_sql_board_equals_the_python_board_for_every_period(filled) -> None:
    store, _, _, _ = filled
    for day, days in [(None, 14), (DAYS[-1], 1), (DAYS[-1], 6), (DAYS[3], 3), (DAYS[-1], 92), ("2026-01-01", 7)]:
        new = board.board_data(store, day, days)
        old = oracle.board_data(store, day, days)
        assert new == old, (day, days)
    assert board.board_data(store, DAYS[-1], 6)["worst"], "the data set has services to rank"


def test_rows_stored_behind_headquarters_back_are_refreshed_or_skipped(filled) -> None:
    store, _, sent, _ = filled
    edited = simulate_engine_day(DAYS[1], centre_id="kisumu", centre_name="Huduma Centre Kisumu", citizens=70, seed=5)
    with store.tx() as cur:  # an operator fixes a row by hand, and another row is not a summary at all
        cur.execute("UPDATE summaries SET data=?, received_at=received_at+1 WHERE centre_id='kisumu' AND date=?",
                    [json.dumps(edited), DAYS[1]])
        cur.execute("INSERT INTO summaries (centre_id, date, revision, key, data, received_at) "
                    "VALUES ('garissa', ?, 1, 'garissa:x:1', '{\"total\": {\"arrived\": \"x\"}}', 0)", [DAYS[-1]])
    new = board.board_data(store, DAYS[-1], 6)
    assert new == oracle.board_data(store, DAYS[-1], 6)
    kisumu = next(c for c in new["centres"] if c["id"] == "kisumu")
    assert kisumu["arrived_trend"][1] == edited["total"]["arrived"]
    assert [(k["centre_id"], k["date"]) for k in new["skipped"]] == [("garissa", DAYS[-1])]
    assert daily.refresh(store) == 0  # everything is filled now
    sent[("kisumu", DAYS[1])] = edited


def test_the_demo_data_set_gives_the_same_board_json_and_csv_through_a_real_server(tmp_path: Path) -> None:
    with pg_schema() as url:
        store = Store(url)
        demo.prepare(store)
        today = date(2026, 3, 21)
        assert demo.seed_neighbours(store, days=10, today=today) == 4 * 10  # up to yesterday, 03-20, never today
        assert not [r for r in store.summaries_between("2026-03-21", "2026-03-21")]
        catalogues = CatalogueStore(store)
        hq = HqProcess(db_url=url, port=free_port(), log_path=tmp_path / "hq.log", cwd=tmp_path)
        hq.start()
        try:
            viewer = hq.client("viewer")
            for params in [{}, {"days": 3}, {"days": 92}, {"date": "2026-03-15", "days": 5}]:
                got = viewer.get("/api/v1/board", params=params)
                assert got.status_code == 200, got.text
                want = add_catalogue_versions(oracle.board_data(store, params.get("date"), params.get("days", 14)),
                                              catalogues)
                board = got.json()
                # when each centre last called in is read live on each request (hq/upstream_health.py), not from
                # the summaries the oracle adds up: checked by tests/hq/test_upstream_health.py
                assert board.pop("centres_silent") == 0
                for c in board["centres"]:
                    c.pop("upstream")
                assert board == json.loads(json.dumps(want)), params
            for level in ("total", "services", "hours"):
                got = viewer.get("/export.csv", params={"from": "2026-03-11", "to": "2026-03-20", "level": level})
                assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
                assert got.text == oracle.export_csv(store, "2026-03-11", "2026-03-20", level)
                assert len(list(csv.DictReader(io.StringIO(got.text)))) >= 40
            page = viewer.get("/", params={"days": 10})
            assert page.status_code == 200 and "Huduma Centre Nakuru" in page.text
        finally:
            hq.stop()


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/v1/board", {"days": "0"}, 422),
    ("/api/v1/board", {"days": "93"}, 422),
    ("/api/v1/board", {"days": "-5"}, 422),
    ("/api/v1/board", {"days": "1e9"}, 422),
    ("/api/v1/board", {"days": "7; DROP TABLE summaries"}, 422),
    ("/api/v1/board", {"date": "2026-02-30"}, 422),
    ("/api/v1/board", {"date": "'; DROP TABLE day_totals; --"}, 422),
    ("/api/v1/board", {"date": "9" * 5000}, 422),
    ("/api/v1/board", {"date": "2026-03-07\x00"}, 422),
    ("/", {"days": "100000"}, 422),
    ("/", {"date": "yesterday"}, 422),
    ("/export.csv", {"from": "2026-03-07", "to": "2026-03-01"}, 422),
    ("/export.csv", {"from": "2026-13-01"}, 422),
    ("/export.csv", {"to": "2026-03-07' OR '1'='1"}, 422),
    ("/export.csv", {"level": "services;--"}, 422),
    ("/export.csv", {"level": "../../etc/passwd"}, 422),
])
def test_hostile_query_parameters_are_refused_with_json(served: HqProcess, path: str, params: dict,
                                                       status: int) -> None:
    hq = served
    r = hq.client("viewer").get(path, params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] in ("invalid_request", "bad_date", "bad_range")


def test_the_board_and_its_exports_need_a_login(served: HqProcess) -> None:
    for path in ("/api/v1/board?days=92", "/export.csv?level=services", "/?days=92"):
        r = httpx.get(served.url + path, timeout=30, follow_redirects=False)
        assert r.status_code in (401, 303), (path, r.status_code)
        assert "within_target" not in r.text


def test_callers_feedback_per_centre_is_on_the_national_board_for_its_period(filled, served: HqProcess) -> None:
    """The call centre's ratings of each centre, counted and averaged by SQL over the board's days (Nairobi)."""
    store, _, _, _ = filled
    callers = {c["id"]: c["callers"] for c in board.board_data(store, DAYS[-1], 6)["centres"]}
    assert callers["nairobi-gpo"] == {"count": 2, "mean": 3.5, "unhappy": 1}  # not the one after, nor before
    assert callers["mombasa"] == {"count": 1, "mean": 3.0, "unhappy": 0}
    assert callers["garissa"] == {"count": 0, "mean": None, "unhappy": 0}
    one_day = {c["id"]: c["callers"] for c in board.board_data(store, AFTER_LAST, 1)["centres"]}
    assert one_day["nairobi-gpo"] == {"count": 1, "mean": 4.0, "unhappy": 0}
    viewer = served.client("viewer")
    api = viewer.get("/api/v1/board", params={"date": DAYS[-1], "days": 6}).json()
    assert {c["id"]: c["callers"]["count"] for c in api["centres"]} == {
        "nairobi-gpo": 2, "mombasa": 1, "kisumu": 0, "garissa": 0}
    for lang, heading, n, none in [("en", "Callers&#39; rating", "2 callers", "no ratings"),
                                   ("sw", "Alama za wapigaji", "wapigaji 2", "hakuna alama")]:
        page = viewer.get("/", params={"date": DAYS[-1], "days": 6, "lang": lang})
        assert page.status_code == 200
        assert heading in page.text, lang
        gpo = page.text.split('data-centre="nairobi-gpo"')[1].split("</tr>")[0]
        assert f"3.5 <small>({n})</small>" in gpo, (lang, gpo[-300:])
        garissa = page.text.split('data-centre="garissa"')[1].split("</tr>")[0]
        assert none in garissa, lang


def test_an_answer_kept_by_the_board_is_never_served_after_what_it_shows_has_changed(filled) -> None:
    """The board keeps its answers per generation: a summary, a new centre or a caller's rating each move it."""
    store, _, sent, _ = filled
    first = board.board_data(store, DAYS[-1], 6)
    assert board.board_data(store, DAYS[-1], 6) == first  # served again, unchanged
    revised = simulate_engine_day(DAYS[-1], centre_id="mombasa", centre_name="Huduma Centre Mombasa",
                                  citizens=12, seed=42)
    assert put(store, revised, revision=7) == "stored"
    sent[("mombasa", DAYS[-1])] = revised
    after_summary = board.board_data(store, DAYS[-1], 6)
    mombasa = next(c for c in after_summary["centres"] if c["id"] == "mombasa")
    assert mombasa["total"] == revised["total"] and mombasa["revision"] == 7
    store.add_centre("lamu", "Huduma Centre Lamu")
    assert "lamu" in {c["id"] for c in board.board_data(store, DAYS[-1], 6)["centres"]}
    accounts = Accounts(store)
    CallCentre(store, accounts).add_feedback("agent-1", None, "lamu", 1, "", now=nairobi(DAYS[-1], "10:00:00"))
    now = board.board_data(store, DAYS[-1], 6)
    assert next(c for c in now["centres"] if c["id"] == "lamu")["callers"] == {"count": 1, "mean": 1.0, "unhappy": 1}
    assert now == oracle.board_data(store, DAYS[-1], 6)


def test_answers_asked_at_once_are_computed_once(filled) -> None:
    """The warmer and viewers asking for the same period after a change: one adds it up, the others wait for it."""
    store, _, _, _ = filled
    answers = board.Answers()
    with store.tx() as cur:
        gen = daily.generation(cur)
    dates = board.date_range(DAYS[-1], 6)
    computed = []

    def compute() -> dict:
        computed.append(1)
        time.sleep(0.3)  # long enough for every asker to arrive while it is under way
        return board.compute_board(store, DAYS[-1], dates, store.dates(), 10)

    key = (store.url, DAYS[-1], 6, 10)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: answers.once(key, gen, compute), range(4)))
    assert len(computed) == 1
    assert all(g == got[0] for g in got) and got[0]["centres"]
    assert answers.get(key, gen) == got[0]


def test_the_warmer_computes_the_common_periods_when_a_summary_arrives(filled) -> None:
    """A revised summary moves the figures; the warmer computes the newest periods before any viewer asks,
    each once and with the revision counted once (the Python oracle parses the summaries held)."""
    store, _, sent, _ = filled
    warmer = board.Warmer(store, (6, 1), every=0.05, quiet=0.2)
    warmer.start()
    try:
        revised = simulate_engine_day(DAYS[-1], centre_id="nairobi-gpo", centre_name="Huduma Centre GPO",
                                      citizens=33, seed=77)
        assert put(store, revised, revision=9) == "stored"
        sent[("nairobi-gpo", DAYS[-1])] = revised
        with store.tx() as cur:
            gen = daily.generation(cur)
        deadline = time.monotonic() + 20
        while warmer.warmed != gen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert warmer.warmed == gen
    finally:
        warmer.stop()
    newest = store.dates()[-1]
    for days in (6, 1):
        kept = board.ANSWERS.get((store.url, newest, days, 10), gen)
        assert kept is not None, days
        assert kept == oracle.board_data(store, newest, days)
    gpo = next(c for c in kept["centres"] if c["id"] == "nairobi-gpo")
    assert gpo["total"] == revised["total"] and gpo["revision"] == 9


def test_the_board_tables_are_vacuumed_after_a_nights_rows(filled) -> None:
    """The board reads covering indexes; a page not vacuumed since a night's rows sends reads to the wide rows."""
    store, _, _, _ = filled
    with store.tx() as cur:
        cur.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN "
                    "('day_services', 'week_services', 'day_totals', 'summaries') AND relkind = 'r'")
        options = {name: set(opts or []) for name, opts in cur.fetchall()}
    assert "autovacuum_vacuum_insert_scale_factor=0.001" in options["day_services"]
    assert all(any(o.startswith("autovacuum_vacuum_insert_threshold=") for o in opts) for opts in options.values())
    assert set(options) == {"day_services", "week_services", "day_totals", "summaries"}


def test_a_running_headquarters_computes_the_common_periods_when_the_figures_change(filled, served) -> None:
    """``huduma-hq serve`` runs the warmer: a change (a centre registered) is followed by its round in the log."""
    store, _, _, _ = filled
    store.add_centre("wajir", "Huduma Centre Wajir")
    with store.tx() as cur:
        gen = daily.generation(cur)
    deadline = time.monotonic() + 30
    line = f"for generation {gen} in"
    while time.monotonic() < deadline and line not in served.log_path.read_text():
        time.sleep(0.2)
    assert line in served.log_path.read_text()


def test_the_boards_queries_keep_a_plan_for_their_own_dates_on_a_pooled_connection(filled) -> None:
    """psycopg prepares a statement run 5 times; PostgreSQL then tried a plan for any dates, which walked every
    row for the stale check each board request runs. HQ's connections plan each statement for its own values."""
    store, _, _, _ = filled
    with store.tx() as cur:
        for _ in range(12):
            daily.stale(cur, DAYS[0], DAYS[-1])
        cur.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE '%LEFT JOIN day_totals t%'")
        plans = cur.fetchall()
    assert plans, "the stale check was not prepared: this test no longer sees what it guards"
    assert all(generic == 0 and custom >= 5 for generic, custom in plans), plans
