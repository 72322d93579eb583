"""Every headquarters page and API is refused without the right role, unless ``hq.access`` lists it as open.

The table is the app's own routes: a route someone adds without a role (and
without putting it in ``PUBLIC`` or ``CENTRE_TOKEN`` with a reason) fails here.
Requests go to a real ``huduma-hq serve`` over PostgreSQL.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from hq.access import CENTRE_TOKEN, PUBLIC, PUBLIC_MOUNTS
from hq.app import create_app
from hq.auth import SESSION_IDLE_MINUTES, Accounts, HqRole
from hq.store import Store
from tests.hq.conftest import HqProcess

# Pages whose role is checked inside the page (hq/admin.py's own guard), not by a dependency.
PAGE_ROLES = {"/admin/centres": HqRole.viewer, "/admin/logout": HqRole.viewer}
SAMPLE = {"day": "2026-03-02", "date": "2026-03-02"}
LOWER = {HqRole.viewer: [], HqRole.agent: [HqRole.viewer], HqRole.admin: [HqRole.viewer, HqRole.agent]}


def _walk(routes: list[Any], prefix: str = "", inherited: tuple[Any, ...] = ()) -> Any:
    """(path, methods, role-bearing callables) of every route, into included routers (kept nested by FastAPI)."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI keeps an included router as one route of the app
            ctx = route.include_context
            yield from _walk(route.original_router.routes, prefix + ctx.prefix,
                             inherited + tuple(d.dependency for d in ctx.dependencies))
        elif isinstance(route, Mount):
            yield prefix + route.path, None, inherited
        else:
            calls = tuple(d.call for d in route.dependant.dependencies) if isinstance(route, APIRoute) else ()
            yield prefix + route.path, getattr(route, "methods", None) or set(), inherited + calls


def route_table(pg_url: str) -> list[tuple[str, str, HqRole | None]]:
    """(method, path template, role needed) of every route of the app as it is built today."""
    app = create_app(Store(pg_url))
    rows: list[tuple[str, str, HqRole | None]] = []
    for path, methods, calls in _walk(app.routes):
        if methods is None:
            assert path in PUBLIC_MOUNTS, f"mount {path} is not listed in hq.access.PUBLIC_MOUNTS"
            continue
        for method in sorted(methods - {"HEAD"}):
            role = next((r for r in (getattr(c, "hq_role", None) for c in calls) if r is not None), None)
            if role is None and path.startswith("/admin"):
                role = PAGE_ROLES.get(path, HqRole.admin)
            rows.append((method, path, role))
    return rows


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE.get(m.group(1), "nakuru"), path)


def refused(r: httpx.Response, status: int) -> bool:
    if r.status_code == 303:  # a page's guard: to the login form
        return status == 401 and r.headers["location"].startswith("/admin/login")
    return r.status_code == status and "error" in r.json()


def test_every_route_is_guarded_or_listed_as_open(hq: HqProcess, pg_url: str) -> None:
    rows = route_table(pg_url)
    assert len(rows) > 20
    clients = {role: hq.client(str(role)) for role in HqRole}
    anonymous = httpx.Client(base_url=hq.url, follow_redirects=False, timeout=30)
    unguarded = []
    for method, path, role in rows:
        if (method, path) in PUBLIC:
            continue
        url = concrete(path)
        if (method, path) in CENTRE_TOKEN:
            for who in (anonymous, clients[HqRole.admin]):  # a staff session is not a centre's token
                r = who.request(method, url, json={})
                assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated", (method, path)
            continue
        if role is None:
            unguarded.append(f"{method} {path}")
            continue
        r = anonymous.request(method, url, headers={"Accept": "application/json"})
        assert refused(r, 401), (method, path, r.status_code, r.text[:200])
        if method == "GET" and not path.startswith("/api/"):  # a browser: to the login form, and back afterwards
            r = anonymous.get(url, headers={"Accept": "text/html"})
            assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?next="), (method, path)
        for lower in LOWER[role]:
            r = clients[lower].request(method, url, headers={"Accept": "application/json"})
            assert r.status_code == 403, (method, path, lower, r.status_code)
    assert not unguarded, ("routes with no role and not listed as open in hq.access (add require_role, "
                           f"or list them in PUBLIC with the reason): {unguarded}")


def test_an_api_caller_gets_json_a_browser_gets_the_login_form(hq: HqProcess) -> None:
    r = httpx.get(hq.url + "/api/v1/board")
    assert r.status_code == 401 and r.json()["error"]["code"] == "login_needed"
    r = httpx.get(hq.url + "/?days=5", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/%3Fdays%3D5"
    viewer = hq.client("viewer")
    assert viewer.get("/api/v1/board").status_code == 200
    r = viewer.get("/admin/standards", headers={"Accept": "text/html"})
    assert r.status_code == 403 and "<html" in r.text  # a page, saying so, in the staff member's language
    assert httpx.get(hq.url + "/healthz").status_code == 200


def test_sessions_end_when_idle_and_at_the_absolute_limit(pg_url: str) -> None:
    accounts = Accounts(Store(pg_url))
    accounts.migrate()
    accounts.add("otieno", HqRole.agent, "a-long-password-1")
    t0 = time.time()
    token, who = accounts.login("otieno", "a-long-password-1", now=t0)
    assert accounts.session(token, now=t0 + 60) is not None
    idle = SESSION_IDLE_MINUTES * 60
    # used every 20 minutes: stays (the idle clock moves on with each use)
    for k in range(1, 6):
        assert accounts.session(token, now=t0 + k * (idle * 2 / 3)) is not None
    # left alone longer than the idle limit: ended, and stays ended
    last = t0 + 5 * (idle * 2 / 3)
    assert accounts.session(token, now=last + idle + 1) is None
    assert accounts.session(token, now=last + 10) is None
    # the absolute limit holds however busy the session is
    token, who = accounts.login("otieno", "a-long-password-1", now=t0)
    t = t0
    while t < who.expires_at - 120:
        assert accounts.session(token, now=t) is not None
        t += idle / 2
    assert accounts.session(token, now=who.expires_at + 1) is None


@pytest.mark.parametrize("change", ["disable", "role"])
def test_an_admins_change_ends_the_accounts_sessions_and_is_audited(pg_url: str, change: str) -> None:
    accounts = Accounts(Store(pg_url))
    accounts.migrate()
    accounts.add("boss", HqRole.admin, "a-long-password-1")
    first = accounts.create("boss", "amina", HqRole.agent)
    token, _ = accounts.login("amina", first)
    if change == "disable":
        accounts.set_disabled("boss", "amina", True)
    else:
        accounts.set_role("boss", "amina", HqRole.viewer)
    assert accounts.session(token) is None
    log = accounts.audit_log()
    assert [e["action"] for e in log][:2] == ["account_disabled" if change == "disable" else "role_changed",
                                              "account_added"]
    assert all(e["actor"] == "boss" and e["subject"] == "amina" for e in log[:2])


@pytest.mark.parametrize("role,asked,lands", [
    ("agent", "/admin", "/callcentre"), ("viewer", "/admin", "/"), ("admin", "/admin", "/admin"),
    ("agent", "/callcentre/feedback?lang=sw", "/callcentre/feedback?lang=sw"),
    ("agent", "//evil.example/x", "/callcentre"), ("viewer", "https://evil.example/", "/")])
def test_a_login_lands_on_the_page_asked_for_or_the_roles_own_start(hq: HqProcess, role: str, asked: str,
                                                                     lands: str) -> None:
    password = hq.account(f"land-{role}", role)
    client = httpx.Client(base_url=hq.url, follow_redirects=False, timeout=30)
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/admin/login", data={"username": f"land-{role}", "password": password, "csrf": csrf,
                                          "next": asked})
    assert r.status_code == 303 and r.headers["location"] == lands


def test_a_look_up_a_centre_does_not_answer_in_time_says_so(pg_url: str) -> None:
    from centre_server.contract.national import InboxAnswer, LookupAsk
    from hq.callcentre_store import LOOKUP_ANSWER_S, LOOKUP_TTL_S, CallCentre

    store = Store(pg_url)
    store.migrate()
    accounts = Accounts(store)
    accounts.migrate()
    calls = CallCentre(store, accounts)
    calls.migrate()
    for cid in ("embu", "nakuru", "garissa"):
        store.add_centre(cid, cid)
    t0 = time.time()
    call = calls.start_call("amina", "+254712345678", now=t0)
    search = calls.ask_lookup("amina", call, ["embu", "nakuru", "garissa"], LookupAsk(phone="+254712345678"),
                              now=t0)
    [req] = calls.take("embu", now=t0 + 3)
    calls.answer("embu", req.id, InboxAnswer(ok=True), now=t0 + 4)
    assert {p["centre_id"]: p["state"] for p in calls.search(search, now=t0 + 5)} == {
        "embu": "answered", "nakuru": "waiting", "garissa": "waiting"}
    # seconds later, not minutes: the agent hears what arrived and which centres are silent
    assert {p["centre_id"]: p["state"] for p in calls.search(search, now=t0 + LOOKUP_ANSWER_S)} == {
        "embu": "answered", "nakuru": "late", "garissa": "late"}
    [late] = calls.take("garissa", now=t0 + 30)  # back on line while the caller still waits: its answer shows
    calls.answer("garissa", late.id, InboxAnswer(ok=True), now=t0 + 31)
    assert {p["centre_id"]: p["state"] for p in calls.search(search, now=t0 + 32)} == {
        "embu": "answered", "nakuru": "late", "garissa": "answered"}
    assert {p["centre_id"]: p["state"] for p in calls.search(search, now=t0 + LOOKUP_TTL_S + 1)} == {
        "embu": "answered", "nakuru": "expired", "garissa": "answered"}
    assert calls.take("nakuru", now=t0 + LOOKUP_TTL_S + 1) == []  # a caller who has hung up is not looked up
