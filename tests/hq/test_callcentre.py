"""The Huduma Call Centre: an agent at headquarters finds, books and logs for a caller at a real centre.

Real parts: headquarters (``huduma-hq serve`` over PostgreSQL), a demo centre
(``huduma-centre serve``, its own Mosquitto) that reaches headquarters only
outbound, and a fake Africa's Talking on loopback that records every SMS. The
centre is offline when the agent books; the booking waits at headquarters and
is made, and the caller's SMS sent, once the centre is started.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from hq.auth import Accounts
from hq.callcentre_store import CallCentre
from hq.catalogue import CatalogueStore, seed_demo
from hq.store import Store
from tests.channels.conftest import API_KEY, CHANNELS_TOML, ChannelCentre, FakeAggregator, kiosk_ticket
from tests.conftest import Centre, Mosquitto, artifacts_dir, free_port, need_tool, provision, set_upstream, wait_until
from tests.hq.conftest import HqProcess

NAIROBI = ZoneInfo("Africa/Nairobi")
PHONE = "+254712345678"


@contextmanager
def centre_for(hq: HqProcess, tmp: Path, centre_id: str = "demo") -> Iterator[ChannelCentre]:
    """A demo centre registered at ``hq`` (its token in ``[upstream]``), SMS to a fake aggregator; not started."""
    need_tool("mosquitto")
    path = tmp / "centre"
    provision(path, "init", str(path), "--demo")
    token = hq.add_centre(centre_id, "Huduma Centre GPO (demo)")
    set_upstream(path, hq.url, token)
    agg = FakeAggregator()
    toml = (path / "centre.toml").read_text()
    (path / "centre.toml").write_text(toml + CHANNELS_TOML.format(url=agg.url, key=API_KEY))
    broker = Mosquitto(port=free_port(), workdir=tmp)
    broker.start()
    creds = json.loads((path / "demo-credentials.json").read_text())
    server = ChannelCentre(centre=Centre(path=path, credentials=creds), port=free_port(),
                           args=["--mqtt", broker.url], log_path=tmp / "centre.log")
    server.aggregator = agg
    try:
        yield server
    finally:
        server.stop()
        broker.stop()
        agg.close()


def csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def new_call(agent: httpx.Client, phone: str | None) -> str:
    r = agent.post("/callcentre/calls", data={"csrf": csrf(agent, "/callcentre"), "phone": phone or ""})
    assert r.status_code == 303, r.text[:500]
    return r.headers["location"].rsplit("/", 1)[1]


def answers(agent: httpx.Client, call_id: str, lang: str = "en") -> str:
    return agent.get(f"/callcentre/calls/{call_id}/answers", params={"lang": lang}).text


@pytest.fixture
def published(hq: HqProcess, pg_url: str) -> None:
    seed_demo(CatalogueStore(Store(pg_url)))


def test_an_agent_books_at_an_offline_centre_and_the_caller_gets_the_sms_when_it_returns(
        hq: HqProcess, pg_url: str, published: None, tmp_path: Path, browser) -> None:
    agent = hq.client("agent")
    # the next day the centre takes bookings (Monday to Friday, its default): on a Friday, not Saturday
    tomorrow = next(d for d in (datetime.now(NAIROBI).date() + timedelta(days=n) for n in range(1, 8))
                    if d.weekday() < 5).isoformat()
    with centre_for(hq, tmp_path) as centre:
        # the centre is not running: it has never called in
        call_id = new_call(agent, "0712 345 678")
        page = f"/callcentre/calls/{call_id}"
        r = agent.post(page + "/book", data={"csrf": csrf(agent, page), "book_centre": "demo",
                                             "book_service": "passport", "day": tomorrow, "earliest": "10:00",
                                             "book_phone": "", "language": "sw"})
        assert r.status_code == 303, r.text[:500]
        held = answers(agent, call_id)
        assert "held here: the centre has not taken it yet" in held and "has never called in" in held
        assert "the centre has not taken it yet" in agent.get("/callcentre").text  # on the console's held list
        # a look-up asked now waits for the centre too
        r = agent.post(page + "/lookup", data={"csrf": csrf(agent, page), "phone": "0712345678", "code": "",
                                               "centre": ""})
        assert r.status_code == 303
        assert "Still asking 1 centre" in answers(agent, call_id)

        centre.start()  # the centre comes back: it asks for its inbox, books, and sends the caller the SMS
        wait_until(lambda: "booked for" in answers(agent, call_id), timeout=30,
                   what=lambda: answers(agent, call_id)[-800:])
        sms = centre.aggregator.wait_for(PHONE, "", timeout=20)
        code = re.search(r"\b(\d{8})\b", sms).group(1)  # type: ignore[union-attr]
        # in the language asked for, with the slot the centre chose (the first free one from 10:00)
        booked = answers(agent, call_id)
        when = re.search(r"booked for (\d\d/\d\d \d\d:\d\d)", booked).group(1)  # type: ignore[union-attr]
        assert when.endswith("10:00") and when in sms, (when, sms)
        # the agent reads the caller the booking's code, the one the SMS carries, in either language
        assert f"Booking code {code}: read it to the caller" in booked
        assert f"Nambari ya miadi {code}" in answers(agent, call_id, "sw")
        with psycopg.connect(pg_url) as db:
            row = db.execute("SELECT state, phone, handed FROM hq_inbox WHERE kind='book'").fetchone()
        assert row == ("booked", None, 1)  # the number is gone from the request once the centre has it

        # the answer lost on the way: the centre is asked again and answers the same, never booking twice
        with psycopg.connect(pg_url) as db:
            db.execute("UPDATE hq_inbox SET state='handed', handed_at=0, answer=NULL WHERE kind='book'")
        wait_until(lambda: "booked for" in answers(agent, call_id), timeout=30)
        with sqlite3.connect(centre.centre.path / "centre.db") as db:
            appts = db.execute("SELECT state, phone, service_id, language FROM appointments").fetchall()
        assert appts == [("booked", PHONE, "passport", "sw")]
        assert len(centre.aggregator.messages_to(PHONE)) == 1

        # a ticket at the kiosk with the same phone: the look-up by phone shows it, with people ahead and a wait
        kiosk_ticket(centre, "passport")
        mine_t = kiosk_ticket(centre, "passport", PHONE)
        r = agent.post(page + "/lookup", data={"csrf": csrf(agent, page), "phone": PHONE, "code": "",
                                               "centre": "demo"})
        wait_until(lambda: mine_t["number"] in answers(agent, call_id), timeout=30,
                   what=lambda: answers(agent, call_id)[-800:])
        row = re.search(rf"<td>{mine_t['number']}</td>\s*<td>waiting</td>\s*<td class=\"num\">(\d+)</td>",
                        answers(agent, call_id))
        assert row and int(row.group(1)) == 1, answers(agent, call_id)[-1500:]
        # and by the booking's code (from the SMS), at one centre
        r = agent.post(page + "/lookup", data={"csrf": csrf(agent, page), "phone": "", "code": code,
                                               "centre": "demo"})
        assert r.status_code == 303
        wait_until(lambda: answers(agent, call_id).count("<td>booking</td>") >= 2, timeout=30)
        # and a ticket joined from a phone's browser, by its 6-digit check-in code: not yet at the centre
        r = httpx.post(centre.url + "/join", data={"service_id": "passport", "phone": "0712000111", "lang": "en"})
        assert r.status_code == 303, r.text[:300]
        with sqlite3.connect(centre.centre.path / "centre.db") as db:
            ticket_code, = db.execute("SELECT code FROM remote_codes WHERE phone='+254712000111'").fetchone()
        r = agent.post(page + "/lookup", data={"csrf": csrf(agent, page), "phone": "", "code": ticket_code,
                                               "centre": "demo"})
        assert r.status_code == 303
        wait_until(lambda: "not yet at the centre" in answers(agent, call_id), timeout=30,
                   what=lambda: answers(agent, call_id)[:1500])

        # in the browser: the console in both languages, answers appearing without a reload
        out = artifacts_dir("hq")
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        hq.log_in_browser(ctx, "agent")
        tab = ctx.new_page()
        try:
            tab.goto(f"{hq.url}{page}?lang=en")
            tab.fill("#lookup_phone", "0712345678")
            tab.select_option("#centre", "demo")
            tab.click("#find button[type=submit]")
            # the newest look-up comes first; its answer appears without a reload (the page's script)
            tab.locator("#answers table.search").first.locator("tr.found").first.wait_for(timeout=30000)
            tab.select_option("#service", "passport")
            tab.click("#needs button[type=submit]")
            assert "Documents to bring" in tab.locator("#service-info").inner_text()
            tab.screenshot(path=str(out / "callcentre-call-en.png"), full_page=True)
            tab.goto(f"{hq.url}{page}?lang=sw&service=passport")
            assert "Nyaraka za kuleta" in tab.locator("#service-info").inner_text()
            tab.screenshot(path=str(out / "callcentre-call-sw.png"), full_page=True)
            tab.goto(f"{hq.url}/callcentre?lang=en")
            tab.screenshot(path=str(out / "callcentre-console-en.png"), full_page=True)
        finally:
            ctx.close()
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        hq.log_in_browser(ctx, "admin")
        tab = ctx.new_page()
        try:
            for lang in ("en", "sw"):
                tab.goto(f"{hq.url}/admin/staff?lang={lang}")
                assert tab.locator("#staff-log").is_visible()
                tab.screenshot(path=str(out / f"admin-staff-{lang}.png"), full_page=True)
        finally:
            ctx.close()

    r = agent.post(page + "/feedback", data={"csrf": csrf(agent, page), "fb_centre": "demo", "rating": "2",
                                             "comment": "Waited  long  at the counter"})
    assert r.status_code == 303 and "done=feedback" in r.headers["location"]
    r = agent.post(page + "/close", data={"csrf": csrf(agent, page), "outcome": "booked", "note": "passport"})
    assert r.status_code == 303
    assert agent.post(page + "/close", data={"csrf": csrf(agent, page), "outcome": "booked"}).status_code == 409
    figures = hq.client("viewer").get("/api/v1/feedback").json()["centres"]
    assert figures["demo"] == {"count": 1, "mean": 2.0, "unhappy": 1}
    console = agent.get("/callcentre").text
    assert "…678" in console and "booked" in console and "0712345678" not in console

    # every step is in the audit, by the agent
    log = Accounts(Store(pg_url)).audit_log()
    assert {e["action"] for e in log if e["actor"] == "test-agent"} >= {
        "call_started", "booking_asked", "lookup_asked", "feedback_recorded", "call_logged"}

    # tomorrow the numbers are gone from headquarters; the last three digits stay for the call log
    calls = CallCentre(Store(pg_url), Accounts(Store(pg_url)))
    assert calls.erase_phones(now=time.time() + 86400) >= 2
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT phone, phone_tail FROM hq_calls").fetchall() == [(None, "…678")]
        asks = [r[0] for r in db.execute("SELECT ask FROM hq_inbox").fetchall()]
        assert db.execute("SELECT COUNT(*) FROM hq_inbox WHERE phone IS NOT NULL").fetchone()[0] == 0
    assert not any("+254712345678" in a for a in asks), asks
    assert f"Booking code {code}" not in answers(agent, call_id)  # the booking's code too: it was for that call


def test_bad_input_is_said_on_the_form_never_a_500(hq: HqProcess, published: None) -> None:
    hq.add_centre("nakuru", "Huduma Centre Nakuru")
    agent = hq.client("agent")
    r = agent.post("/callcentre/calls", data={"csrf": csrf(agent, "/callcentre"), "phone": "12345"})
    assert r.status_code == 422 and "Not a Kenyan mobile number" in r.text
    call_id = new_call(agent, None)
    page = f"/callcentre/calls/{call_id}"
    cases = [("/lookup", {"phone": "", "code": ""}, "Type the caller"),
             ("/lookup", {"phone": "", "code": "12ab"}, "A code has 6 digits"),
             ("/lookup", {"phone": "0712345678", "centre": "<script>"}, "Choose a centre"),
             ("/book", {"book_centre": "nakuru", "book_service": "passport", "day": "2020-01-01",
                        "book_phone": "0712345678"}, "That day has passed"),
             ("/book", {"book_centre": "nakuru", "book_service": "nope", "day": "2099-01-01",
                        "book_phone": "0712345678"}, "Choose a service"),
             ("/book", {"book_centre": "nakuru", "book_service": "passport", "day": "2099-01-01",
                        "earliest": "25:99", "book_phone": "0712345678"}, "Give the time as HH:MM"),
             ("/feedback", {"fb_centre": "nakuru", "rating": "9"}, "Choose how the caller rated"),
             ("/close", {"outcome": "maybe"}, "Choose how the call ended")]
    for path, data, said in cases:
        r = agent.post(page + path, data={"csrf": csrf(agent, page), **data})
        assert r.status_code == 422 and said in r.text, (path, data, r.status_code, r.text[:300])
    # a form without its CSRF token changes nothing
    r = agent.post(page + "/feedback", data={"fb_centre": "nakuru", "rating": "5"})
    assert r.status_code == 403
    assert hq.client("viewer").get("/api/v1/feedback").json()["centres"] == {}
    # in Kiswahili too
    r = agent.post(page + "/close?lang=sw", data={"csrf": csrf(agent, page), "outcome": "maybe"})
    assert r.status_code == 422 and "Chagua jinsi simu ilivyoisha" in r.text
    # a centre's token reaches only its own requests
    token = hq.add_centre("embu", "Huduma Centre Embu")
    # a look-up at every centre: one answers it has nothing, one has never called in
    r = agent.post(page + "/lookup", data={"csrf": csrf(agent, page), "phone": "0712345678", "code": ""})
    assert r.status_code == 303
    assert re.search(r"Still asking 2 centres:\s*Huduma Centre Embu", answers(agent, call_id))
    [req] = httpx.post(hq.url + "/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}).json()["requests"]
    assert req["kind"] == "lookup" and req["lookup"]["phone"] == "+254712345678"
    r = httpx.post(hq.url + f"/api/v1/inbox/{req['id']}/answer", json={"ok": True, "found": []},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["state"] == "answered"
    shown = answers(agent, call_id, "sw")
    assert "Hakuna chochote kwa mpigaji huyu katika kituo 1: Huduma Centre Embu" in shown
    assert re.search(r"Bado inauliza kituo 1:\s*Huduma Centre Nakuru", shown), shown
    r = httpx.post(hq.url + "/api/v1/inbox/abcdefgh12345/answer", json={"ok": True},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_request"
    r = httpx.post(hq.url + "/api/v1/inbox/abcdefgh12345/answer", json={"ok": "yes", "found": 3},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and "error" in r.json()


def test_an_admin_adds_an_agent_who_logs_in_and_a_disabled_one_is_out_at_once(hq: HqProcess) -> None:
    admin = hq.client("admin")
    r = admin.post("/admin/staff", data={"csrf": csrf(admin, "/admin/staff"), "username": "akinyi",
                                         "role": "agent"})
    assert r.status_code == 200
    password = re.search(r'id="new-password">.*?<code>([^<]+)</code>', r.text, re.S).group(1)  # type: ignore[union-attr]
    from tests.hq.conftest import login_client

    akinyi = login_client(hq.url, "akinyi", password)
    assert akinyi.get("/callcentre").status_code == 200
    assert akinyi.get("/admin/staff", headers={"Accept": "application/json"}).status_code == 403
    r = admin.post("/admin/staff/akinyi", data={"csrf": csrf(admin, "/admin/staff"), "action": "disable"})
    assert r.status_code == 303
    assert akinyi.get("/callcentre", headers={"Accept": "text/html"}).status_code == 303  # to the login form
    # an admin cannot lock headquarters out of its own administration
    r = admin.post("/admin/staff/test-admin", data={"csrf": csrf(admin, "/admin/staff"), "action": "disable"})
    assert r.status_code == 409 and "cannot disable your own account" in r.text
    staff_page = admin.get("/admin/staff").text
    assert "account added" in staff_page and "account disabled" in staff_page
