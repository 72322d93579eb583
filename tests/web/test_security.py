"""Roles, CSRF and session expiry of the web pages and the APIs they use (real server process)."""

from __future__ import annotations

import sqlite3

import httpx
from playwright.sync_api import expect

from centre_server.store.accounts import bump_access_epoch
from tests.conftest import CentreProcess, free_port
from tests.web.conftest import login_page

MANAGER_PAGES = ["/board", "/reports", "/reports.csv", "/reports?from=2026-01-01&to=2026-01-31"]


def cookie_login(server, username: str) -> httpx.Client:
    """A browser-like client: the session lives in cookies, as the pages use it."""
    client = httpx.Client(base_url=server.url, timeout=10)
    password = server.centre.staff_password(username)
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    assert client.cookies.get("huduma_session") and client.cookies.get("huduma_csrf")
    return client


def csrf(client: httpx.Client) -> dict[str, str]:
    return {"x-csrf-token": client.cookies["huduma_csrf"]}


def test_roles_on_pages_and_apis(web_server):
    anon = httpx.Client(base_url=web_server.url, timeout=10)
    for path in ["/clerk", *MANAGER_PAGES]:
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert anon.get("/api/v1/live").status_code == 401
    assert anon.get("/api/v1/reports").status_code == 401

    clerk = cookie_login(web_server, "clerk")
    assert clerk.get("/clerk").status_code == 200
    for path in MANAGER_PAGES:
        r = clerk.get(path, follow_redirects=False)
        assert r.status_code == 403, path
    assert "Not allowed" in clerk.get("/board").text
    # the APIs behind the manager's pages
    assert clerk.get("/api/v1/stats/live").status_code == 403
    assert clerk.get("/api/v1/stats/daily").status_code == 403
    assert clerk.get("/api/v1/reports").status_code == 403
    r = clerk.put("/api/v1/counters/c02/services", json={"services": ["passport"]}, headers=csrf(clerk))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = clerk.put("/api/v1/hall/notice", json={"notice_en": "x", "notice_sw": "x"}, headers=csrf(clerk))
    assert r.status_code == 403

    manager = cookie_login(web_server, "manager")
    for path in MANAGER_PAGES:
        assert manager.get(path).status_code == 200, path
    assert manager.get("/reports.csv").headers["content-type"].startswith("text/csv")
    r = manager.put("/api/v1/counters/c02/services", json={"services": ["passport", "nope"]}, headers=csrf(manager))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_service"
    r = manager.put("/api/v1/counters/c02/services", json={"services": []}, headers=csrf(manager))
    assert r.status_code == 422
    r = manager.put("/api/v1/counters/c02/services", json={"services": ["passport"]}, headers=csrf(manager))
    assert r.status_code == 200 and r.json()["services"] == ["passport"]
    bad = manager.get("/reports.csv?from=2026-02-01&to=2026-01-01")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_range"
    assert manager.get("/api/v1/reports?from=yesterday").status_code == 422
    r = manager.get("/api/v1/reports?from=2026-06-30&to=2026-01-01").json()  # the API takes dates in any order
    assert (r["from"], r["to"], len(r["days"])) == ("2026-01-01", "2026-04-02", 92)  # at most 92 days
    r = manager.get("/api/v1/reports?from=9999-12-31").json()
    assert r["total"]["arrived"] == 0


def test_csrf_refuses_cookie_writes_without_the_header(web_server):
    clerk = cookie_login(web_server, "clerk")
    r = clerk.post("/api/v1/counters/c03/open")
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = clerk.post("/api/v1/counters/c03/open", headers={"x-csrf-token": "forged"})
    assert r.status_code == 403
    r = clerk.post("/api/v1/auth/logout")
    assert r.status_code == 403
    # nothing changed
    assert clerk.get("/api/v1/counters/c03").json()["state"] == "closed"
    r = clerk.post("/api/v1/counters/c03/open", headers=csrf(clerk))
    assert r.status_code == 200 and r.json()["state"] == "open"
    # logout (with the header) ends the session for pages and APIs
    assert clerk.post("/api/v1/auth/logout", headers=csrf(clerk)).status_code == 204
    assert clerk.get("/clerk", follow_redirects=False).status_code == 303
    other = cookie_login(web_server, "clerk")
    assert other.post("/api/v1/counters/c03/close", headers=csrf(other)).json()["state"] == "closed"


def expire_sessions(server, username: str) -> None:
    """End the clerk's sessions behind the server's back, and move access.epoch as every tool that
    ends sessions does (the server remembers sessions until it moves, or until they expire)."""
    db = sqlite3.connect(server.centre.path / "centre.db")
    with db:
        db.execute("UPDATE sessions SET expires_at = 0 WHERE username = ?", [username])
    db.close()
    bump_access_epoch(server.centre.path)


def test_expired_session_sends_the_clerk_back_to_login(web_server, context_factory):
    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    page.select_option("#counter-select", "c04")
    page.click("#open-counter")
    expect(page.locator("#counter-title")).to_have_text("Counter 4")

    expire_sessions(web_server, "clerk")
    # the next action finds the session ended and goes to the login page, which says why
    page.keyboard.press("p")
    page.wait_for_url("**/login?expired=1*")
    expect(page.locator(".note.warn")).to_have_text("Your session has ended: log in again.")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    jar = httpx.Client(base_url=web_server.url, cookies=cookies, timeout=10)
    assert jar.get("/clerk", follow_redirects=False).status_code == 303
    assert jar.get("/api/v1/counters").status_code == 401
    # logging in again brings the clerk back to the page they were on, counter remembered
    page.fill("#username", "clerk")
    page.fill("#password", web_server.centre.staff_password("clerk"))
    page.click("#login-button")
    page.wait_for_url("**/clerk")
    expect(page.locator("#counter-title")).to_have_text("Counter 4")


def test_session_lifetime_comes_from_centre_toml(centre_dir, mosquitto, tmp_path):
    """session_minutes in centre.toml sets when sessions (and their cookies) end."""
    minutes = 1
    toml = centre_dir.path / "centre.toml"
    text = toml.read_text()
    assert "session_minutes = 600" in text
    toml.write_text(text.replace("session_minutes = 600", f"session_minutes = {minutes}"))
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        r = httpx.post(server.url + "/api/v1/auth/login",
                       json={"username": "clerk", "password": centre_dir.staff_password("clerk")})
        assert r.status_code == 200
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("huduma_session="))
        assert f"Max-Age={minutes * 60}" in cookie
        db = sqlite3.connect(centre_dir.path / "centre.db")
        created, expires = db.execute("SELECT created_at, expires_at FROM sessions WHERE username='clerk'").fetchone()
        db.close()
        assert round(expires - created) == minutes * 60
    finally:
        server.stop()


def test_the_live_stream_carries_no_secret_ticket_id(web_server):
    """The staff pages' event stream names a ticket by its public id, as MQTT does: the secret id
    (the key to the citizen's page) stays on the server."""
    import json
    import threading

    from centre_server.runtime.centre import public_ticket_id
    from tests.web.conftest import issue

    token = web_server.login("clerk")
    changes: list[dict] = []
    hello = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", web_server.url + "/api/v1/live", timeout=20,
                          headers={"Authorization": f"Bearer {token}"}) as r:
            event = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "hello":
                    hello.set()
                elif line.startswith("data: ") and event == "change":
                    changes.extend(json.loads(line[6:])["events"])
                    if any(e["type"] == "ticket_issued" for e in changes):
                        return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert hello.wait(15), "no hello on the live stream"
    t = issue(web_server, web_server.centre.bundle("kiosk-1")["token"], "ecitizen")
    reader.join(15)
    [issued] = [e for e in changes if e["type"] == "ticket_issued"]
    assert issued["number"] == t["number"]
    assert issued["ticket_id"] == public_ticket_id(t["id"]) != t["id"]
    assert t["id"] not in json.dumps(changes)
