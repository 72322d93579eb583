"""The HTTP API in-process (TestClient runs the real app and lifespan on a real SQLite file)."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from centre_server.http.app import create_app


@pytest.fixture
def api(centre_dir):
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as client:
        client.centre = centre_dir
        yield client


def kiosk(api) -> dict:
    return {"Authorization": f"Bearer {api.centre.bundle('kiosk-1')['token']}"}


def staff(api, username: str = "clerk") -> dict:
    r = api.post("/api/v1/auth/login", json={"username": username, "password": api.centre.staff_password(username)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def issue(api, service="id-card-new", key=None, **body) -> dict:
    headers = kiosk(api) | ({"Idempotency-Key": key} if key else {})
    r = api.post("/api/v1/tickets", json={"service_id": service, **body}, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_services_menu(api):
    r = api.get("/api/v1/services")
    services = r.json()
    assert r.status_code == 200 and len(services) >= 35
    first = services[0]
    assert {"id", "prefix", "name_en", "name_sw", "waiting", "estimated_wait_s", "open_counters"} <= set(first)
    assert len({s["prefix"] for s in services}) == len(services)


def test_issue_is_idempotent_and_numbers_advance(api):
    t1 = issue(api, key="abc")
    t2 = issue(api, key="abc")
    t3 = issue(api)
    assert t1["id"] == t2["id"] and t1["number"] == "A001" and t3["number"] == "A002"
    assert t1["status_url"].endswith(f"/t/{t1['id']}") and t3["position"] == 1
    # no counter serves it yet and no plan says one will open: no number is invented
    assert t3["estimated_wait_s"] is None and t3["wait_unknown"] == "no_counter"
    conflict = api.post("/api/v1/tickets", json={"service_id": "birth-cert"},
                        headers=kiosk(api) | {"Idempotency-Key": "abc"})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"


@pytest.mark.parametrize("body,content", [
    ('{"service_id":"no-such-service"}', None), ('{"service_id":', None), ("{}", None), ("[1,2,3]", None),
    ('{"service_id":"id-card-new","priority":"vip"}', None), ('{"service_id":"id-card-new","phone":"12345"}', None),
    ('{"service_id":"id-card-new","extra":1}', None), ("not json at all", "text/plain"),
    ('{"service_id":"' + "x" * 5000 + '"}', None), ('{"service_id":null}', None),
])
def test_bad_ticket_requests_get_json_4xx(api, body, content):
    headers = kiosk(api) | {"content-type": content or "application/json"}
    r = api.post("/api/v1/tickets", content=body, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] and err["message"]


def test_phone_is_normalised_and_never_published(api):
    t = issue(api, phone="0712345678", language="sw")
    assert t["language"] == "sw"
    db = sqlite3.connect(api.centre.path / "centre.db")
    assert db.execute("SELECT phone FROM tickets WHERE id=?", [t["id"]]).fetchone()[0] == "+254712345678"
    data = db.execute("SELECT data FROM events WHERE type='ticket_issued'").fetchone()[0]
    assert "+254712345678" in data  # kept in the log for the SMS issue, never in MQTT payloads


def test_roles_are_enforced(api):
    k = kiosk(api)
    assert api.post("/api/v1/tickets", json={"service_id": "id-card-new"}).status_code == 401
    assert api.post("/api/v1/tickets", json={"service_id": "id-card-new"},
                    headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.post("/api/v1/counters/c01/call-next", headers=k).status_code == 403
    assert api.get("/api/v1/stats/live", headers=k).status_code == 403
    clerk = staff(api, "clerk")
    assert api.get("/api/v1/stats/live", headers=clerk).status_code == 403
    assert api.get("/api/v1/stats/live", headers=staff(api, "manager")).status_code == 200
    display = {"Authorization": f"Bearer {api.centre.bundle('display-1')['token']}"}
    assert api.post("/api/v1/tickets", json={"service_id": "id-card-new"}, headers=display).status_code == 403


def test_login_failures_lock_out(api):
    for _ in range(5):
        r = api.post("/api/v1/auth/login", json={"username": "clerk", "password": "wrong"})
        assert r.status_code == 401
    r = api.post("/api/v1/auth/login", json={"username": "clerk", "password": api.centre.staff_password("clerk")})
    assert r.status_code == 429 and r.json()["error"]["code"] == "locked_out"


def test_logout_ends_the_session(api):
    h = staff(api)
    assert api.get("/api/v1/counters", headers=h).status_code == 200
    assert api.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert api.get("/api/v1/counters", headers=h).status_code == 401


def test_a_clerks_day(api):
    h = staff(api)
    a = issue(api, "id-card-new")
    b = issue(api, "birth-cert")
    p = issue(api, "id-card-new", priority="elderly")
    assert api.post("/api/v1/counters/c01/call-next", headers=h).json()["error"]["code"] == "counter_closed"
    r = api.post("/api/v1/counters/c01/open", json={"services": ["id-card-new", "birth-cert"]}, headers=h)
    assert r.status_code == 200 and r.json()["state"] == "open" and r.json()["clerk"] == "clerk"
    called = api.post("/api/v1/counters/c01/call-next", headers=h).json()
    assert called["number"] == p["number"] and called["state"] == "called" and called["counter_name"] == "1"
    assert api.post("/api/v1/counters/c01/recall", headers=h).json()["recalls"] == 1
    assert api.post("/api/v1/counters/c01/start", headers=h).json()["state"] == "serving"
    t = api.post("/api/v1/counters/c01/transfer", json={"service_id": "birth-cert"}, headers=h).json()
    assert t["state"] == "waiting" and t["service_id"] == "birth-cert" and t["number"] == p["number"]
    nxt = api.post("/api/v1/counters/c01/call-next", headers=h).json()
    assert nxt["number"] == p["number"]  # still priority, still its original issue time
    # free text is no outcome: the service's codes are (docs/design.md §5.5)
    bad = api.post("/api/v1/counters/c01/complete", json={"outcome": "certificate issued"}, headers=h)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "unknown_outcome")
    done = api.post("/api/v1/counters/c01/complete", json={"outcome": "referred"}, headers=h).json()
    assert done["state"] == "done" and done["outcome"] == "referred"
    assert api.post("/api/v1/counters/c01/call-next", headers=h).json()["number"] == a["number"]
    assert api.post("/api/v1/counters/c01/no-show", headers=h).json()["state"] == "no_show"
    assert api.post(f"/api/v1/tickets/{a['id']}/reactivate", headers=h).json()["state"] == "waiting"
    counters = api.get("/api/v1/counters", headers=h).json()
    c1 = next(c for c in counters if c["id"] == "c01")
    assert c1["serving"] is None and c1["state"] == "open"
    assert api.post("/api/v1/counters/c01/pause", headers=h).json()["state"] == "paused"
    assert api.post("/api/v1/counters/c01/resume", headers=h).json()["state"] == "open"
    assert api.post("/api/v1/counters/c01/call-next", headers=h).json()["number"] == a["number"]
    # a second Call next while `a` is only called calls nobody (finding 11): a double tap finishes no one
    twice = api.post("/api/v1/counters/c01/call-next", headers=h)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "ticket_called")
    assert api.post("/api/v1/counters/c01/start", headers=h).json()["state"] == "serving"
    assert api.post("/api/v1/counters/c01/call-next", headers=h).json()["number"] == b["number"]
    assert api.post("/api/v1/counters/c01/start", headers=h).json()["state"] == "serving"
    r = api.post("/api/v1/counters/c01/call-next", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "nothing_waiting"
    assert api.post("/api/v1/counters/c01/close", headers=h).json()["state"] == "closed"
    assert api.post("/api/v1/counters/nope/open", headers=h).status_code == 404
    live = api.get("/api/v1/stats/live", headers=staff(api, "manager")).json()
    assert live["served_today"] == 3 and live["issued_today"] == 3
    daily = api.get("/api/v1/stats/daily", headers=staff(api, "manager")).json()
    assert daily["total"]["arrived"] == 3 and daily["total"]["transfers"] == 1
    assert api.get("/api/v1/stats/daily?date=yesterday", headers=staff(api, "manager")).status_code == 422


def test_ticket_lookup(api):
    t = issue(api)
    r = api.get(f"/api/v1/tickets/{t['id']}")
    assert r.status_code == 200 and r.json()["number"] == t["number"] and r.json()["position"] == 0
    assert api.get("/api/v1/tickets/A001").status_code == 404
    assert api.get("/api/v1/tickets/" + "x" * 300).status_code == 404


def test_notice_line(api):
    m = staff(api, "manager")
    r = api.put("/api/v1/hall/notice", json={"notice_en": "System slow today", "notice_sw": "Mfumo uko polepole leo"},
                headers=m)
    assert r.status_code == 200 and r.json()["notice_sw"] == "Mfumo uko polepole leo"
    assert api.put("/api/v1/hall/notice", json={"notice_en": "x"}, headers=staff(api)).status_code == 403
    assert api.get("/api/v1/hall").json()["notice_en"] == "System slow today"
    # the hall screens' fonts draw no emoji: refused with the reason, the notice kept
    r = api.put("/api/v1/hall/notice", json={"notice_en": "Karibu \U0001F600", "notice_sw": "Karibu"}, headers=m)
    assert r.status_code == 422 and "cannot draw" in r.text, r.text
    assert api.get("/api/v1/hall").json()["notice_en"] == "System slow today"
    r = api.put("/api/v1/hall/notice", json={"notice_en": "Fees: KSh 1,000 – M-Pesa “paybill”", "notice_sw": "Ada"},
                headers=m)
    assert r.status_code == 200, r.text  # Latin text, dashes, quotes and currency are drawn


def test_openapi_and_health(api):
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert "/api/v1/tickets" in spec["paths"] and "/api/v1/counters/{counter_id}/call-next" in spec["paths"]
    h = api.get("/healthz").json()
    assert h["status"] == "ok" and h["broker"] == "disconnected"


def test_security_headers_and_offline_docs(api):
    r = api.get("/docs")
    assert r.status_code == 200 and "cdn" not in r.text.lower()
    assert r.headers["x-frame-options"] == "DENY" and "default-src 'self'" in r.headers["content-security-policy"]
    assert api.get("/api/v1/services").headers["x-content-type-options"] == "nosniff"


def test_issue_rate_limit_per_device_and_per_phone(api):
    api.app.state.limits.issue_device.rate = 3
    api.app.state.limits.issue_device.buckets.clear()
    codes = [api.post("/api/v1/tickets", json={"service_id": "posta"}, headers=kiosk(api)).status_code
             for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    r = api.post("/api/v1/tickets", json={"service_id": "posta"}, headers=kiosk(api))
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    api.app.state.limits.issue_device.rate = 100
    k2 = {"Authorization": f"Bearer {api.centre.bundle('kiosk-2')['token']}"}
    phone = [api.post("/api/v1/tickets", json={"service_id": "posta", "phone": "0722000111"}, headers=k2).status_code
             for _ in range(6)]
    assert phone == [201] * 5 + [429]


def test_citizen_pages_are_rate_limited_per_address(api):
    t = issue(api)
    api.app.state.limits.citizen_pages.rate = 5
    api.app.state.limits.citizen_pages.buckets.clear()
    codes = [api.get(f"/t/{t['id']}").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    r = api.get("/join")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and r.headers["retry-after"]
    assert api.get("/api/v1/services").status_code == 200  # the API's own limits are separate


def test_the_issue_lane_and_the_route_answer_alike(api):
    """POST /api/v1/tickets is answered by IssueLane when the request is well-formed, by the FastAPI
    route otherwise: either way the same shapes, codes and headers."""
    url = "/api/v1/tickets"
    ok = api.post(url, content=b'{"service_id":"kra-pin"}', headers=kiosk(api) | {
        "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": "lane-1"})
    assert ok.status_code == 201 and ok.json()["number"] == "K001"
    assert ok.headers["x-content-type-options"] == "nosniff" and ok.headers["cache-control"] == "no-store"
    again = api.post(url, json={"service_id": "kra-pin"}, headers=kiosk(api) | {"Idempotency-Key": "lane-1"})
    assert again.status_code == 200 and again.json()["id"] == ok.json()["id"]
    cases = [
        ({"content": b'{"service_id":', "headers": {"Content-Type": "application/json"}}, 422, "invalid_request"),
        ({"content": b'service_id=kra-pin', "headers": {"Content-Type": "text/plain"}}, 422, "invalid_request"),
        ({"json": {"service_id": "kra-pin"}, "headers": {"Idempotency-Key": "k" * 129}}, 422, "invalid_request"),
        ({"json": {"service_id": "kra-pin", "priority": "vip"}, "headers": {}}, 422, "invalid_request"),
        ({"json": {"service_id": "no-such-service"}, "headers": {}}, 404, None),
        ({"json": {"service_id": "kra-pin"}, "headers": {"Idempotency-Key": "lane-1"}, "service": "helb"}, 409,
         "idempotency_conflict"),
    ]
    for kw, status, code in cases:
        headers = kiosk(api) | kw.pop("headers")
        if kw.pop("service", None):
            kw["json"] = {"service_id": "helb"}
        r = api.post(url, headers=headers, **kw)
        assert r.status_code == status, (kw, r.text)
        assert set(r.json()) == {"error"} and (code is None or r.json()["error"]["code"] == code)
        assert r.headers["x-content-type-options"] == "nosniff"
    nobody = api.post(url, json={"service_id": "kra-pin"})
    assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "not_authenticated"
    display = {"Authorization": f"Bearer {api.centre.bundle('display-1')['token']}"}
    assert api.post(url, json={"service_id": "kra-pin"}, headers=display).status_code == 403


def test_browsers_get_the_centre_icon_not_a_404(api):
    """Every page links the icon; a browser that asks /favicon.ico anyway gets it (no console error)."""
    for path in ("/favicon.ico", "/static/favicon.svg"):
        r = api.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml"), path
        assert b"<svg" in r.content
    for page in ("/login", "/join"):
        assert 'rel="icon"' in api.get(page).text, page


def test_catalogue_answers_what_to_bring_for_each_offered_service(api):
    r = api.get("/api/v1/catalogue")
    assert r.status_code == 200, r.text
    body = r.json()
    offered = {i["service"]["id"] for i in body["services"] if i["offering"]["status"] == "offered"}
    menu = {s["id"] for s in api.get("/api/v1/services").json() if s["enabled"]}
    assert offered == menu
    one = api.get("/api/v1/catalogue/id-card-new").json()
    assert one["service"]["name"]["sw"] and "amount_ksh" in one["service"]["fee"]
    missing = api.get("/api/v1/catalogue/no-such-service")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_service"
