"""Headquarters away and back, as the technician's /healthz and the manager's board say it.

A real centre server process starts pointed at a port where nothing listens (headquarters away since the
start); then a real ``huduma-hq serve`` comes up on that very port. The links' backoffs are long on purpose
(the catalogue and the day summaries would wait minutes): the live feed, which retries quickly, hears
headquarters first and wakes the others, so the board's line goes and the waiting summary is delivered at once.
"""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import expect

from centre_server.runtime.periodic import LinkStatus, unreachable_since
from tests.a11y.axe import audit
from tests.conftest import Centre, CentreProcess, Mosquitto, free_port, provision, set_upstream, wait_until
from tests.hq.conftest import HqProcess, pg_schema
from tests.web.conftest import login_page

LINKS = {"catalogue-sync", "live-feed", "national-inbox", "upstream-sender"}


def health(server: CentreProcess) -> dict:
    r = httpx.get(server.url + "/healthz", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["headquarters"]


def links(server: CentreProcess) -> dict[str, dict]:
    return {x["name"]: x for x in health(server)["links"]}


def link_in(server: CentreProcess, name: str, state: str) -> dict | None:
    """The link ``name`` once it is in ``state``, else None (for ``wait_until``)."""
    link = links(server)[name]
    return link if link["state"] == state else None


def away(server: CentreProcess) -> dict | None:
    hq = health(server)
    return None if hq["reachable"] else hq


def all_ok(server: CentreProcess) -> dict | None:
    now = links(server)
    return now if all(v["state"] == "ok" for v in now.values()) else None


def test_board_and_healthz_say_headquarters_is_away_then_back(tmp_path, monkeypatch, context_factory,
                                                               shots) -> None:
    # live figures every half second, retried within a second; everything else retries only after minutes
    monkeypatch.setenv("HUDUMA_UPSTREAM__LIVE_EVERY_S", "0.5")
    monkeypatch.setenv("HUDUMA_LIVE_RETRY_MIN_S", "0.2")
    monkeypatch.setenv("HUDUMA_LIVE_RETRY_MAX_S", "1")
    monkeypatch.setenv("HUDUMA_UPSTREAM__CATALOGUE_EVERY_S", "600")
    monkeypatch.setenv("HUDUMA_SYNC_RETRY_MIN_S", "600")
    monkeypatch.setenv("HUDUMA_SYNC_RETRY_MAX_S", "3600")
    monkeypatch.setenv("HUDUMA_UPSTREAM__INBOX_EVERY_S", "60")
    with pg_schema() as pg_url:
        hq = HqProcess(db_url=pg_url, port=free_port(), log_path=tmp_path / "hq.log", cwd=tmp_path)
        path = tmp_path / "centre"
        provision(path, "init", str(path), "--demo")
        token = hq.add_centre("demo", "Huduma Centre GPO")
        set_upstream(path, hq.url, token)  # nothing listens there yet
        centre = Centre(path=path, credentials=json.loads((path / "demo-credentials.json").read_text()))
        broker = Mosquitto(port=free_port(), workdir=tmp_path)
        broker.start()
        server = CentreProcess(centre=centre, port=free_port(), args=["--mqtt", broker.url],
                               log_path=tmp_path / "centre.log")
        try:
            server.start()
            gone = wait_until(lambda: away(server), 20, "headquarters away on /healthz")
            assert {x["name"] for x in gone["links"]} == LINKS
            assert gone["unreachable_since"] is not None
            live = wait_until(lambda: link_in(server, "live-feed", "failing"), 10, "the live feed failing")
            assert live["last_error"] and "Connect" in live["last_error"] and live["failures"] >= 1
            assert live["failing_since"] is not None and live["last_success_at"] is None
            assert live["next_try_at"] is not None

            # the day is closed by hand: its summary waits in the outbox, and the sender says it failed
            manager = server.login("manager")
            with server.client(manager) as c:
                assert c.post("/api/v1/day/close").status_code == 200
            sender = wait_until(lambda: link_in(server, "upstream-sender", "failing"), 20, "the sender failing")
            assert sender["last_error"].startswith("could not deliver demo:")
            # a pass with nothing due does not make the sender "ok" while headquarters is away
            assert links(server)["upstream-sender"]["state"] == "failing"

            since = re.search(r"T(\d\d:\d\d)", health(server)["unreachable_since"]).group(1)  # type: ignore[union-attr]
            page = context_factory(bypass_csp=True).new_page()  # axe-core is injected below
            login_page(page, server, "manager", centre.staff_password("manager"))
            page.wait_for_url("**/board")
            for lang, words in (("en", f"Headquarters not reachable since {since}; figures will be sent when it "
                                       "returns."),
                                ("sw", f"Makao makuu hayafikiwi tangu saa {since}; takwimu zitatumwa "
                                       "yatakapopatikana tena.")):
                page.goto(server.url + f"/board?lang={lang}")
                line = page.locator("#hq-line")
                line.wait_for(state="visible")
                assert line.inner_text() == words
                box = line.bounding_box()
                assert box is not None and box["height"] < 80  # one small line (two at most) on a 1440 px board
                shots(page, f"board-hq-unreachable-{lang}")
                assert audit(page, f"board-hq-unreachable-{lang}") == []  # axe-core: the line is readable too

            # the centre restarts during the outage: the board still says since when headquarters is away,
            # not since the restart
            first_since = health(server)["unreachable_since"]
            server.stop()
            server.start()
            again = wait_until(lambda: away(server), 20, "headquarters away after the restart")
            assert again["unreachable_since"] == first_since
            # the summary that failed before the restart: the sender says so (not "waiting"), with the reason
            held = wait_until(lambda: link_in(server, "upstream-sender", "failing"), 20, "the sender failing again")
            assert held["last_error"].startswith("could not deliver demo:") and "Connect" in held["last_error"]
            page.goto(server.url + "/board?lang=en")
            expect(page.locator("#hq-line")).to_have_text(
                f"Headquarters not reachable since {since}; figures will be sent when it returns.")

            # headquarters comes up on that port: the live feed hears it within a second or so and wakes the
            # others; the summary goes at once, not after its ten-minute backoff
            hq.start()
            wait_until(lambda: health(server)["reachable"], 20, "headquarters reachable again")
            back = wait_until(lambda: all_ok(server), 20, lambda: f"every link ok: {links(server)}")
            assert all(v["last_error"] is None and v["failing_since"] is None for v in back.values())
            page.goto(server.url + "/board?lang=en")
            page.wait_for_function("document.getElementById('kpi-waiting').textContent !== '—'")
            assert page.locator("#hq-line").is_hidden()
            shots(page, "board-hq-back-en")
            log = (tmp_path / "centre.log").read_text()
            assert "Traceback" not in log
            assert "headquarters answered again" in log
        finally:
            server.stop()
            hq.stop()
            broker.stop()


def _link(name: str, state: str, success: float | None = None, since: float | None = None) -> LinkStatus:
    return LinkStatus(name=name, running=state != "off", last_success_at=success, last_error=None,
                      failures=1 if state == "failing" else 0, next_try_at=None, failing_since_at=since, state=state)


def test_headquarters_is_away_only_when_no_link_gets_through() -> None:
    """One link refused (a bug, a 422) while another gets through is the technician's business, not the board's."""
    assert unreachable_since([]) is None
    assert unreachable_since([_link("catalogue-sync", "off"), _link("live-feed", "off")]) is None
    assert unreachable_since([_link("live-feed", "ok", success=100.0)]) is None
    # away since the first failure, as long as nothing got through after it
    assert unreachable_since([_link("live-feed", "failing", success=50.0, since=100.0),
                              _link("national-inbox", "failing", since=120.0),
                              _link("catalogue-sync", "ok", success=90.0)]) == 100.0
    # the inbox fails, the live feed got through after: headquarters answers
    assert unreachable_since([_link("national-inbox", "failing", since=100.0),
                              _link("live-feed", "ok", success=130.0)]) is None
