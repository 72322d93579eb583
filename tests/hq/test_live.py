"""Live figures upstream: two real centre processes and a real HQ on PostgreSQL, a link we cut and restore,
hostile snapshots, and the wait question by SMS and USSD."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from hq.catalogue import CatalogueStore, seed_demo
from hq.store import Store
from tests.conftest import Centre, CentreProcess, Mosquitto, free_port, provision, set_upstream, wait_until
from tests.hq.conftest import Proxy

THIKA = ("--county", "Kiambu", "--town", "Thika", "--location=-1.0333,37.0693")


def publish_catalogue(pg_url: str) -> None:
    seed_demo(CatalogueStore(Store(pg_url)))


def held(pg_url: str, centre_id: str) -> tuple[float, float] | None:
    """(taken_at, received_at) of the snapshot HQ holds for a centre."""
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT taken_at, received_at FROM live_centres WHERE centre_id=%s", [centre_id]).fetchone()
    return None if row is None else (row[0], row[1])


def waiting_at_hq(hq, centre_id: str, service_id: str) -> int | None:
    """What HQ's live board (a viewer's JSON) says waits for a service at a centre."""
    for c in hq.client("viewer").get("/api/v1/live/centres").json()["centres"]:
        if c["id"] == centre_id:
            return next((s["waiting"] for s in c["services"] if s["service_id"] == service_id), None)
    return None


def issue(server: CentreProcess, service_id: str, n: int, tag: str) -> None:
    with server.client(server.centre.bundle("kiosk-1")["token"]) as c:
        for i in range(n):
            r = c.post("/api/v1/tickets", json={"service_id": service_id}, headers={"Idempotency-Key": f"{tag}-{i}"})
            assert r.status_code == 201, r.text


def second_centre(tmp_path: Path, centre_id: str = "thika", name: str = "Huduma Centre Thika") -> Path:
    """A second demo centre with its own id, name, county and coordinates (``huduma-provision init``)."""
    path = tmp_path / centre_id
    provision(path, "init", str(path), "--demo", "--centre-id", centre_id, "--name", name, *THIKA,
              "--public-url", "http://127.0.0.1:8001", "--mqtt-port", "1884")
    return path


def test_provision_writes_the_second_centres_place_and_refuses_a_bad_one(tmp_path) -> None:
    path = second_centre(tmp_path)
    toml = (path / "centre.toml").read_text()
    assert 'centre_id = "thika"' in toml and 'county = "Kiambu"' in toml and "latitude = -1.0333" in toml
    assert "embedded_port = 1884" in toml
    for bad in (["--location=north"], ["--location=-100,36"], ["--county", 'Ki"ambu'], ["--location=-1,36"]):
        with pytest.raises(RuntimeError) as err:
            provision(tmp_path / "bad", "init", str(tmp_path / "bad"), *bad)
        assert "Traceback" not in str(err.value)


def test_two_centres_send_live_figures_and_a_cut_link_resumes_with_the_latest(
        centre_dir, hq, pg_url, tmp_path, monkeypatch) -> None:
    """Two centre processes and HQ; one centre's link is cut for a while, its queue moves meanwhile;
    when the link returns, HQ gets the latest figures, and only a snapshot or two: no backlog."""
    publish_catalogue(pg_url)
    gpo_token = hq.add_centre("demo", "Huduma Centre GPO")
    thika_token = hq.add_centre("thika", "Huduma Centre Thika")
    proxy = Proxy(hq.port)
    thika_dir = second_centre(tmp_path)
    set_upstream(centre_dir.path, hq.url, gpo_token)
    set_upstream(thika_dir, proxy.url, thika_token)
    monkeypatch.setenv("HUDUMA_UPSTREAM__LIVE_EVERY_S", "0.5")
    monkeypatch.setenv("HUDUMA_LIVE_RETRY_MIN_S", "0.2")
    monkeypatch.setenv("HUDUMA_LIVE_RETRY_MAX_S", "1")
    brokers = [Mosquitto(port=free_port(), workdir=tmp_path) for _ in (1, 2)]
    for b in brokers:
        b.start()
    thika = Centre(path=thika_dir, credentials=json.loads((thika_dir / "demo-credentials.json").read_text()))
    servers = [CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", brokers[0].url],
                             log_path=tmp_path / "gpo.log"),
               CentreProcess(centre=thika, port=free_port(), args=["--mqtt", brokers[1].url],
                             log_path=tmp_path / "thika.log")]
    try:
        for s in servers:
            s.start()
        gpo, th = servers
        issue(gpo, "kra-pin", 2, "gpo")
        issue(th, "kra-pin", 1, "th")
        wait_until(lambda: waiting_at_hq(hq, "demo", "kra-pin") == 2, 20, "the GPO's live figures at HQ")
        wait_until(lambda: waiting_at_hq(hq, "thika", "kra-pin") == 1, 20, "Thika's live figures at HQ")
        live = {c["id"]: c for c in hq.client("viewer").get("/api/v1/live/centres").json()["centres"]}
        # the live board is for staff: no session, no figures
        assert httpx.get(hq.url + "/api/v1/live/centres").status_code == 401
        assert live["thika"]["county"] == "Kiambu" and live["thika"]["latitude"] == pytest.approx(-1.0333)
        assert live["demo"]["stale"] is False and live["demo"]["hours"]["opens"] == "08:00"
        assert len(live["demo"]["services"]) >= 30  # every service of the menu, each one row

        # the link is cut: Thika's figures at HQ stop moving while its queue grows
        proxy.mode = "down"
        time.sleep(1.0)
        before_cut = held(pg_url, "thika")
        issue(th, "kra-pin", 4, "th-cut")
        time.sleep(4.0)  # several minutes' worth of snapshots at 0.5 s, none of them queued
        assert held(pg_url, "thika") == before_cut
        assert waiting_at_hq(hq, "thika", "kra-pin") == 1
        assert waiting_at_hq(hq, "demo", "kra-pin") == 2  # the other centre is unaffected
        tried_while_down = proxy.connections

        # restored: the latest figures arrive; the next seconds carry one snapshot at a time, no flood
        proxy.mode = "up"
        restored_at = time.time()
        wait_until(lambda: waiting_at_hq(hq, "thika", "kra-pin") == 5, 20, "Thika's latest figures after the cut")
        taken, received = held(pg_url, "thika")
        assert taken >= restored_at - 1.5  # taken when the link came back, not during the cut
        time.sleep(1.0)
        sent_after = proxy.connections - tried_while_down
        # at 0.5 s per snapshot, about 2 + (time to arrive) / 0.5 requests: a backlog would be the ~10 missed ones
        assert sent_after <= 2 + (time.time() - restored_at) / 0.5 + 1, sent_after
        # a citizen joins the GPO's queue from the web and is not in the hall yet: HQ's staff board counts the
        # hall as the centre's own board does, with "+1 on the way"; the citizens' figure (ahead of a newcomer)
        # counts them all
        with gpo.client() as http:
            r = http.post("/join", data={"service_id": "kra-pin", "phone": "0712000111", "lang": "en"})
            assert r.status_code == 303, r.text[:300]

        def gpo_kra() -> dict | None:
            for c in hq.client("viewer").get("/api/v1/live/centres").json()["centres"]:
                if c["id"] == "demo":
                    s = next(s for s in c["services"] if s["service_id"] == "kra-pin")
                    return s if s["waiting"] == 3 else None
            return None

        kra = wait_until(gpo_kra, 20, "the GPO's web ticket at HQ")
        assert (kra["in_hall"], kra["on_the_way"]) == (2, 1), kra
        for lang, words in (("en", "+1 on the way"), ("sw", "+1 njiani")):
            board = hq.client("viewer").get("/live", params={"lang": lang}).text
            row = next(r for r in board.split("<tr>") if "K · " in r and "Huduma Centre GPO" not in r
                       and words in r)
            assert "<td>2<br>" in row, row

        # a manager suspends a service at the GPO: HQ's public answer says so, with the reason, within seconds
        manager = gpo.login("manager")
        with gpo.client(manager) as c:
            r = c.post("/api/v1/catalogue/kra-pin/offering", json={
                "status": "suspended", "reason": {"en": "KRA system down", "sw": "Mfumo wa KRA haufanyi kazi"}})
            assert r.status_code == 200, r.text

        def gpo_answer() -> dict | None:
            d = httpx.get(hq.url + "/api/v1/wait", params={"service": "K", "county": "Nairobi"}).json()
            return next((c for c in d["centres"] if c["id"] == "demo" and c["status"] == "suspended"), None)

        got = wait_until(gpo_answer, 20, "the GPO's suspension at HQ")
        assert got["reason"] == "KRA system down"
        for log in ("gpo.log", "thika.log"):
            assert "Traceback" not in (tmp_path / log).read_text()
    finally:
        for s in servers:
            s.stop()
        for b in brokers:
            b.stop()
        proxy.close()


def _snapshot(centre_id: str = "nakuru", **over) -> dict:
    base = {"centre_id": centre_id, "taken_at": datetime.now().astimezone().isoformat(), "day": "2026-03-02",
            "timezone": "Africa/Nairobi", "catalogue_version": 1,
            "hours": {"open_today": True, "opens": "08:00", "closes": "17:00"},
            "services": [{"service_id": "kra-pin", "prefix": "K", "offered": True, "suspended": False,
                          "reason": None, "accepting": True, "waiting": 4, "estimated_wait_s": 600,
                          "open_counters": 2, "service_level": 0.9, "measured": 10, "issued_today": 14}]}
    base.update(over)
    return base


def _service(**over) -> list[dict]:
    return [{**_snapshot()["services"][0], **over}]


HOSTILE = [
    ("not json", b"{\"centre_id\":"),
    ("a list", b"[]"),
    ("nul in id", _snapshot(centre_id="nak\u0000uru")),
    ("waiting as text", _snapshot(services=_service(waiting="4"))),
    ("waiting as true", _snapshot(services=_service(waiting=True))),
    ("negative waiting", _snapshot(services=_service(waiting=-1))),
    ("a billion waiting", _snapshot(services=_service(waiting=10**9))),
    ("service level over 1", _snapshot(services=_service(service_level=1.5))),
    ("NaN", None),
    ("taken_at as a number", _snapshot(taken_at=1700000000)),
    ("taken_at without zone", _snapshot(taken_at="2026-03-02T10:00:00")),
    ("unknown key", _snapshot(extra=1)),
    ("unknown service key", _snapshot(services=_service(admin=True))),
    ("bad hours", _snapshot(hours={"open_today": True, "opens": "25:00", "closes": None})),
    ("script in prefix", _snapshot(services=_service(prefix="<s>"))),
    ("service twice", _snapshot(services=_service() * 2)),
    ("501 services", _snapshot(services=[{**_service()[0], "service_id": f"s{i}"} for i in range(501)])),
    ("a suspension without both languages", _snapshot(services=_service(suspended=True, reason={"en": "x"}))),
    ("place out of range", _snapshot(place={"county": "Nakuru", "town": "", "latitude": 91, "longitude": 36})),
]


@pytest.mark.parametrize("what,body", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_snapshots_are_refused_with_a_json_error(hq_shared, what, body) -> None:
    token = _token(hq_shared)
    if body is None:
        raw = json.dumps(_snapshot()).replace('"service_level": 0.9', '"service_level": NaN').encode()
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body).encode()
    r = httpx.post(hq_shared.url + "/api/v1/live", content=raw,
                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code == 422, (what, r.status_code, r.text)
    assert r.json()["error"]["code"] in ("bad_snapshot", "invalid_request"), r.text


_tokens: dict[str, str] = {}


def _token(hq_shared) -> str:
    if hq_shared.url not in _tokens:
        _tokens[hq_shared.url] = hq_shared.add_centre("nakuru", "Huduma Centre Nakuru")
    return _tokens[hq_shared.url]


def test_who_may_send_and_what_a_late_retry_does(hq_shared) -> None:
    token = _token(hq_shared)
    url = hq_shared.url + "/api/v1/live"
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(url, json=_snapshot()).status_code == 401
    assert httpx.post(url, json=_snapshot(), headers={"Authorization": "Bearer nope"}).status_code == 401
    r = httpx.post(url, json=_snapshot(centre_id="mombasa"), headers=auth)
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_centre"
    r = httpx.post(url, content=b"{" + b" " * 300_000 + b"}", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    now = datetime.now().astimezone()
    newer = _snapshot(taken_at=now.isoformat(), services=_service(waiting=7))
    older = _snapshot(taken_at=(now - timedelta(minutes=5)).isoformat(), services=_service(waiting=1))
    r = httpx.post(url, json=newer, headers=auth)
    assert r.status_code == 201 and r.json()["outcome"] == "stored", r.text
    r = httpx.post(url, json=older, headers=auth)  # a retry from before arrives late: it changes nothing
    assert r.status_code == 200 and r.json()["outcome"] == "stale"
    assert waiting_at_hq(hq_shared, "nakuru", "kra-pin") == 7
