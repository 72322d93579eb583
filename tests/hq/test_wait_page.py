"""The public wait page in Chromium at 360 px (both languages, a shared position), its JSON, and the same
question by SMS and USSD through a fake Africa's Talking; a real HQ on PostgreSQL with live snapshots."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from tests.channels.conftest import API_KEY, FakeAggregator, ussd_ok
from tests.conftest import BIN, artifacts_dir, free_port
from tests.hq.conftest import HqProcess, pg_schema
from tests.web.conftest import context_factory  # noqa: F401  (fixture, by name)

GATEWAY_KEY = "hq-gateway-key-for-tests"
RUIRU = (-1.1460, 36.9610)  # between Nairobi and Thika: GPO about 22 km, Thika about 16 km, Nakuru 120 km
# id, name, county, town, lat, lon, kra-pin: (waiting, estimate min) or "suspended"
CENTRES = [
    ("gpo", "Huduma Centre GPO", "Nairobi", "Nairobi", -1.2864, 36.8172, (12, 40)),
    ("thika", "Huduma Centre Thika", "Kiambu", "Thika", -1.0333, 37.0693, (3, 10)),
    ("nakuru", "Huduma Centre Nakuru", "Nakuru", "Nakuru", -0.2833, 36.0667, (1, 5)),
    ("city-square", "Huduma Centre City Square", "Nairobi", "Nairobi", -1.2833, 36.8219, "suspended"),
    ("kibra", "Huduma Centre Kibra", "Nairobi", "Kibra", -1.3133, 36.7892, (2, 8)),  # its figures are hours old
]


def snapshot(cid: str, kra) -> dict:
    services = []
    for sid, prefix in (("kra-pin", "K"), ("birth-cert", "B")):
        waiting, est = (0, 0) if kra == "suspended" or sid != "kra-pin" else kra
        services.append({"service_id": sid, "prefix": prefix, "offered": True,
                         "suspended": kra == "suspended" and sid == "kra-pin",
                         "reason": {"en": "KRA system down", "sw": "Mfumo wa KRA haufanyi kazi"}
                         if kra == "suspended" and sid == "kra-pin" else None,
                         "accepting": not (kra == "suspended" and sid == "kra-pin"), "waiting": waiting,
                         "estimated_wait_s": est * 60, "open_counters": 2, "service_level": 0.8, "measured": 10,
                         "issued_today": 20})
    now = datetime.now().astimezone()
    from zoneinfo import ZoneInfo

    day = datetime.now(ZoneInfo("Africa/Nairobi")).date().isoformat()
    return {"centre_id": cid, "taken_at": now.isoformat(), "day": day, "timezone": "Africa/Nairobi",
            "catalogue_version": 1, "hours": {"open_today": True, "opens": "08:00", "closes": "17:00"},
            "services": services}


@pytest.fixture(scope="module")
def aggregator():
    agg = FakeAggregator()
    yield agg
    agg.close()


@pytest.fixture(scope="module")
def wait_hq(tmp_path_factory, aggregator):
    """A real HQ on PostgreSQL with a published catalogue, five placed centres and their live snapshots."""
    from hq.catalogue import CatalogueStore, seed_demo
    from hq.store import Store

    tmp = tmp_path_factory.mktemp("hq-wait")
    env = {"HUDUMA_HQ_GATEWAY_KEY": GATEWAY_KEY, "HUDUMA_HQ_AT_API_KEY": API_KEY,
           "HUDUMA_HQ_AT_BASE_URL": aggregator.url, "HUDUMA_HQ_AT_USERNAME": "huduma-hq-test",
           "HUDUMA_HQ_WAIT_PER_PHONE": "4"}
    with pg_schema() as url:
        server = HqProcess(db_url=url, port=free_port(), log_path=tmp / "hq.log", cwd=tmp)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            server.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        seed_demo(CatalogueStore(Store(url)))
        for cid, name, county, town, lat, lon, kra in CENTRES:
            token = server.add_centre(cid, name)
            out = subprocess.run([str(BIN / "huduma-hq"), "place-centre", cid, "--county", county, "--town", town,
                                  f"--location={lat},{lon}", "--db", url], capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            r = httpx.post(server.url + "/api/v1/live", json=snapshot(cid, kra),
                           headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.text
        with psycopg.connect(url) as conn:  # Kibra's link has been down for two hours
            conn.execute("UPDATE live_centres SET received_at = received_at - 7200 WHERE centre_id='kibra'")
        server.pg_url = url  # type: ignore[attr-defined]
        yield server
        server.stop()


def test_place_centre_refuses_what_it_cannot_use(wait_hq) -> None:
    for args in (["nowhere", "--county", "X"], ["gpo", "--county", "Nairobi", "--location=1,2,3"],
                 ["gpo", "--county", "Nairobi", "--location=95,36"]):
        out = subprocess.run([str(BIN / "huduma-hq"), "place-centre", *args, "--db", wait_hq.pg_url],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "Traceback" not in out.stderr and out.stderr.strip(), out.stderr


def test_by_county_the_shortest_open_wait_comes_first(wait_hq) -> None:
    r = httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "K", "county": "nairobi"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["service"]["id"] == "kra-pin" and d["best"] == "gpo"
    by_id = {c["id"]: c for c in d["centres"]}
    assert [c["id"] for c in d["centres"]][0] == "gpo" and set(by_id) == {"gpo", "city-square", "kibra"}
    assert by_id["city-square"]["status"] == "suspended" and by_id["city-square"]["reason"] == "KRA system down"
    assert by_id["kibra"]["status"] == "stale" and by_id["kibra"]["stale"] is True
    assert by_id["gpo"]["estimated_wait_s"] == 40 * 60 and by_id["gpo"]["hours"]["closes"] == "17:00"
    # a town finds its centre too; Kiswahili reasons
    d = httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "kra-pin", "county": "Kibra", "lang": "sw"}).json()
    assert [c["id"] for c in d["centres"]] == ["kibra"]
    d = httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "K", "county": "Nairobi", "lang": "sw"}).json()
    assert {c["id"]: c for c in d["centres"]}["city-square"]["reason"] == "Mfumo wa KRA haufanyi kazi"


def test_by_position_the_nearer_shorter_centre_is_best_and_far_ones_are_left_out(wait_hq) -> None:
    d = httpx.get(wait_hq.url + "/api/v1/wait",
                  params={"service": "K", "lat": RUIRU[0], "lon": RUIRU[1]}).json()
    ids = [c["id"] for c in d["centres"]]
    assert d["best"] == "thika" and ids[:2] == ["thika", "gpo"] and "nakuru" not in ids  # 120 km away
    # far from every centre: the nearest three, said so
    d = httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "K", "lat": -4.05, "lon": 39.67}).json()
    assert d["widened"] is True and len(d["centres"]) == 3


@pytest.mark.parametrize("params,code", [
    ({"service": "nothing"}, 404), ({"service": "K", "lat": "north", "lon": "1"}, 422),
    ({"service": "K", "lat": "95", "lon": "1"}, 422), ({"service": "K", "lat": "nan", "lon": "1"}, 422),
    ({"service": "K", "lat": "1"}, 422), ({"service": "K\u0000", "county": "x"}, 404),
])
def test_bad_questions_get_a_json_error(wait_hq, params, code) -> None:
    r = httpx.get(wait_hq.url + "/api/v1/wait", params=params)
    assert r.status_code == code, r.text
    assert r.json()["error"]["code"] in ("unknown_service", "bad_position")


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_the_page_on_a_360px_phone_with_its_position_shared(wait_hq, context_factory, lang) -> None:  # noqa: F811
    shots = artifacts_dir("hq")
    ctx = context_factory(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                          has_touch=True, geolocation={"latitude": RUIRU[0], "longitude": RUIRU[1]},
                          permissions=["geolocation"])
    page = ctx.new_page()
    page.goto(f"{wait_hq.url}/wait?lang={lang}")
    page.select_option("#service", "kra-pin")
    page.screenshot(path=str(shots / f"wait-form-{lang}.png"), full_page=True)
    page.click("#locate")
    page.wait_for_url(re.compile(r".*lat=.*"))
    best = page.locator("li.centre.best")
    expect(best).to_have_count(1)
    expect(best).to_have_attribute("data-centre", "thika")
    expect(page.locator("li.centre").first).to_have_attribute("data-centre", "thika")
    assert page.locator("li.centre[data-centre=nakuru]").count() == 0
    words = {"en": ("Shortest wait", "About 10 min wait", "km away"),
             "sw": ("Foleni fupi zaidi", "Kusubiri takriban dakika 10", "kutoka hapa")}[lang]
    for w in words:
        expect(best).to_contain_text(w)
    suspended = page.locator("li.centre[data-centre=city-square]")
    expect(suspended).to_contain_text({"en": "KRA system down", "sw": "Mfumo wa KRA haufanyi kazi"}[lang])
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(shots / f"wait-near-{lang}.png"), full_page=True)

    # by county, no position: the county's centres, the stale one said so
    page.goto(f"{wait_hq.url}/wait?lang={lang}")
    page.select_option("#service", "kra-pin")
    page.select_option("#county", "Nairobi")
    page.click("button[type=submit]")
    expect(page.locator("li.centre").first).to_have_attribute("data-centre", "gpo")
    expect(page.locator("li.centre[data-centre=kibra] .fresh.stale")).to_contain_text(
        {"en": "2 h ago", "sw": "saa 2 zilizopita"}[lang])
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(shots / f"wait-county-{lang}.png"), full_page=True)


def test_without_location_permission_the_page_says_to_choose_a_county(wait_hq, context_factory) -> None:  # noqa: F811
    ctx = context_factory(viewport={"width": 360, "height": 740})  # no geolocation permission granted
    page = ctx.new_page()
    page.goto(f"{wait_hq.url}/wait?lang=en")
    page.select_option("#service", "kra-pin")
    page.click("#locate")
    expect(page.locator("#locate-status")).to_contain_text("choose a county instead")


def test_wait_by_sms_in_both_languages(wait_hq, aggregator) -> None:
    def sms(phone: str, text: str, key: str | None = GATEWAY_KEY) -> httpx.Response:
        return httpx.post(wait_hq.url + "/sms/wait", params={"key": key} if key else None,
                          data={"from": phone, "to": "22555", "text": text, "date": "2026-03-02", "id": "1"})

    assert sms("+254712000001", "WAIT K NAIROBI").text == "ok"
    text = aggregator.wait_for("+254712000001", "Wait for K in NAIROBI")
    assert text.index("GPO") < text.index("City Square") and "~40 min, 12 waiting" in text, text
    assert len(text) <= 306
    sms("+254712000002", "subiri k thika")
    text = aggregator.wait_for("+254712000002", "Foleni ya K THIKA")
    assert "Thika: ~dak 10, 3 wanasubiri" in text, text
    sms("+254712000003", "WAIT Z NAKURU")
    aggregator.wait_for("+254712000003", "No service Z")
    sms("+254712000004", "hello")
    aggregator.wait_for("+254712000004", "Send WAIT, the service letter")
    # the gateway key, a form, and the per-phone limit
    assert sms("+254712000005", "WAIT K NAIROBI", key=None).status_code == 403
    assert sms("+254712000005", "WAIT K NAIROBI", key="wrong").status_code == 403
    assert httpx.post(wait_hq.url + "/sms/wait", params={"key": GATEWAY_KEY}, content=b"\xff\x00",
                      headers={"Content-Type": "application/json"}).status_code == 400
    for _ in range(6):
        sms("+254712000006", "WAIT K NAIROBI")
    import time

    time.sleep(1.0)
    assert len(aggregator.messages_to("+254712000006")) == 4  # HUDUMA_HQ_WAIT_PER_PHONE=4 per 10 minutes


def test_wait_by_ussd(wait_hq) -> None:
    def ussd(text: str, phone: str = "+254712000010") -> str:
        r = httpx.post(wait_hq.url + "/ussd/wait", params={"key": GATEWAY_KEY},
                       data={"sessionId": "s-1", "serviceCode": "*384*22#", "phoneNumber": phone, "text": text})
        return ussd_ok(r)

    assert ussd("").startswith("CON ") and "2. Kiswahili" in ussd("")
    assert "service letter" in ussd("1")
    assert "county or town" in ussd("1*K")
    end = ussd("1*K*Kiambu")
    assert end.startswith("END Wait for K in KIAMBU: 1) Thika: ~10 min, 3 waiting"), end
    end = ussd("2*K*nairobi")
    assert end.startswith("END Foleni ya K NAIROBI: 1) GPO"), end
    assert ussd("1*XX").startswith("END No service XX")
    assert ussd("1*K*Turkana").startswith("END Wait for K in TURKANA: no Huduma Centre there")
    assert httpx.post(wait_hq.url + "/ussd/wait", data={"text": ""}).status_code == 403


# Mombasa: one centre with no figure and nobody serving, one with a queue and no counter open, one with a
# real estimate; only the last may be called the shortest wait (far from Ruiru: the tests above keep theirs)
COAST = [("mvita", "Huduma Centre Mvita", -4.0435, 39.6682, 0, None, 0),
         ("likoni", "Huduma Centre Likoni", -4.0800, 39.6600, 6, None, 0),
         ("nyali", "Huduma Centre Nyali", -4.0200, 39.7100, 9, 35, 1)]


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_the_shortest_wait_badge_needs_a_real_figure(wait_hq, context_factory, lang) -> None:  # noqa: F811
    if not httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "K", "county": "Mombasa"}).json()["centres"]:
        for cid, name, lat, lon, waiting, est_min, counters in COAST:
            token = wait_hq.add_centre(cid, name)
            out = subprocess.run([str(BIN / "huduma-hq"), "place-centre", cid, "--county", "Mombasa", "--town",
                                  name.rsplit(" ", 1)[1], f"--location={lat},{lon}", "--db", wait_hq.pg_url],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            snap = snapshot(cid, (waiting, 0))
            snap["services"][0].update(estimated_wait_s=None if est_min is None else est_min * 60,
                                       open_counters=counters)
            r = httpx.post(wait_hq.url + "/api/v1/live", json=snap, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.text
    d = httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "K", "county": "Mombasa"}).json()
    assert d["best"] == "nyali" and d["centres"][0]["id"] == "nyali", d
    # no figure at all: no badge anywhere
    only_none = httpx.get(wait_hq.url + "/api/v1/wait", params={"service": "K", "county": "Mvita"}).json()
    assert only_none["best"] is None and [c["id"] for c in only_none["centres"]] == ["mvita"]

    page = context_factory(viewport={"width": 360, "height": 740}).new_page()
    page.goto(f"{wait_hq.url}/wait?lang={lang}&service=kra-pin&county=Mombasa")
    best = page.locator("li.centre.best")
    expect(best).to_have_count(1)
    expect(best).to_have_attribute("data-centre", "nyali")
    no_counter = {"en": "no counter serving this now", "sw": "hakuna kaunta inayohudumia huduma hii sasa"}[lang]
    expect(page.locator("li.centre[data-centre=likoni] .wait")).to_contain_text(no_counter)
    expect(page.locator("li.centre[data-centre=mvita] .wait")).to_contain_text(no_counter)
    for cid in ("likoni", "mvita"):
        expect(page.locator(f"li.centre[data-centre={cid}] .wait")).not_to_contain_text(
            {"en": "no estimate yet", "sw": "bado hakuna makadirio"}[lang])
    page.screenshot(path=str(artifacts_dir("hq") / f"wait-no-figure-{lang}.png"), full_page=True)
    page.goto(f"{wait_hq.url}/wait?lang={lang}&service=kra-pin&county=Mvita")
    expect(page.locator("li.centre[data-centre=mvita]")).to_be_visible()
    assert page.locator("li.centre.best").count() == 0


def test_one_address_asking_in_a_loop_is_slowed_down(wait_hq) -> None:
    """Last in this module: it spends this address's minute (240 questions) on the public page and its JSON."""
    with httpx.Client(base_url=wait_hq.url) as c:
        codes = [c.get("/api/v1/wait", params={"service": "K", "county": "Nairobi"}).status_code for _ in range(250)]
        assert codes.count(200) <= 240 and codes[-1] == 429
        r = c.get("/api/v1/wait", params={"service": "K", "county": "Nairobi"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
        assert r.headers["Retry-After"] == "60"
        assert c.get("/wait").status_code == 429
