"""Staff administration for admins: the API's role checks and the page in Chromium, against a real server process."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from playwright.sync_api import expect

from centre_server.store import database as storage, staff
from tests.web.conftest import login_page


def _login(server, username: str, password: str) -> httpx.Response:
    return httpx.post(server.url + "/api/v1/auth/login", json={"username": username, "password": password})


def test_only_an_admin_administers_staff_and_every_change_is_audited(centre_server, centre_dir):
    s = centre_server
    kiosk = s.client(centre_dir.bundle("kiosk-1")["token"])
    clerk = s.client(s.login("clerk"))
    manager = s.client(s.login("manager"))
    admin = s.client(s.login("admin"))

    # nobody but an admin: not a clerk, not a manager, not a device, not a stranger
    for who in (clerk, manager, kiosk):
        assert who.get("/api/v1/staff").status_code == 403
        r = who.post("/api/v1/staff", json={"username": "intruder", "role": "admin"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert who.post("/api/v1/staff/admin/disable").status_code == 403
        assert who.put("/api/v1/staff/clerk/role", json={"role": "admin"}).status_code == 403
    assert httpx.get(s.url + "/api/v1/staff").status_code == 401
    listing = admin.get("/api/v1/staff").json()
    assert {m["username"]: m["role"] for m in listing["staff"]} == {"admin": "admin", "clerk": "clerk",
                                                                   "manager": "manager"}
    assert all("password" not in m and "password_hash" not in m for m in listing["staff"])

    # add: the first password is in this answer only, and works
    r = admin.post("/api/v1/staff", json={"username": "wanjiku", "role": "clerk", "full_name": " Wanjiku  Kamau "})
    assert r.status_code == 201, r.text
    first = r.json()["password"]
    assert r.json()["full_name"] == "Wanjiku Kamau"
    assert _login(s, "wanjiku", first).status_code == 200
    assert admin.post("/api/v1/staff", json={"username": "wanjiku", "role": "clerk"}).json()["error"]["code"] \
        == "staff_exists"
    for bad in ("Wanjiku", "a b", "../x", "x" * 41, ""):
        assert admin.post("/api/v1/staff", json={"username": bad, "role": "clerk"}).status_code == 422, bad
    assert admin.post("/api/v1/staff", json={"username": "bob", "role": "root"}).status_code == 422
    r = admin.post("/api/v1/staff", json={"username": "eve", "role": "clerk", "full_name": "Eve\u0000\u202e"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_full_name"
    assert admin.post("/api/v1/staff", json={"username": "eve", "role": "clerk", "full_name": "x" * 81}).status_code \
        == 422
    assert all("password" not in (m.get("password") or "") for m in admin.get("/api/v1/staff").json()["staff"])

    # disable: her session ends at once; enable: her password works again
    wanjiku = s.client(_login(s, "wanjiku", first).json()["token"])
    assert wanjiku.get("/api/v1/session").status_code == 200
    assert admin.post("/api/v1/staff/wanjiku/disable").json()["disabled"] is True
    assert wanjiku.get("/api/v1/session").status_code == 401
    assert _login(s, "wanjiku", first).status_code == 403  # "disabled", told only to who knows the password
    assert admin.post("/api/v1/staff/wanjiku/enable").json()["disabled"] is False
    assert _login(s, "wanjiku", first).status_code == 200

    # locked out after five failures; unlock lifts it and the password stays
    for _ in range(5):
        _login(s, "wanjiku", "wrong-password")
    assert _login(s, "wanjiku", first).status_code == 429
    row = next(m for m in admin.get("/api/v1/staff").json()["staff"] if m["username"] == "wanjiku")
    assert row["locked"] is True
    assert admin.post("/api/v1/staff/wanjiku/unlock").json()["locked"] is False
    token = _login(s, "wanjiku", first).json()["token"]

    # a new password: the old one and her session stop working
    r = admin.post("/api/v1/staff/wanjiku/reset-password")
    new = r.json()["password"]
    assert new != first
    assert s.client(token).get("/api/v1/session").status_code == 401
    assert _login(s, "wanjiku", first).status_code == 401
    token = _login(s, "wanjiku", new).json()["token"]

    # a new role holds from her next login; the old session ends
    assert admin.put("/api/v1/staff/wanjiku/role", json={"role": "manager"}).json()["role"] == "manager"
    assert s.client(token).get("/api/v1/session").status_code == 401
    assert _login(s, "wanjiku", new).json()["role"] == "manager"

    # the admin cannot lock themselves out
    for path, body in (("/api/v1/staff/admin/disable", None), ("/api/v1/staff/admin/role", {"role": "manager"})):
        r = admin.request("POST" if body is None else "PUT", path, json=body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "own_account", r.text
    assert admin.get("/api/v1/session").json()["role"] == "admin"
    assert admin.post("/api/v1/staff/nobody/unlock").status_code == 404

    # a second admin may disable the first, who may not come back to disable them
    assert admin.put("/api/v1/staff/wanjiku/role", json={"role": "admin"}).status_code == 200
    wanjiku = s.client(_login(s, "wanjiku", new).json()["token"])
    assert wanjiku.post("/api/v1/staff/admin/disable").status_code == 200
    assert admin.get("/api/v1/staff").status_code == 401

    # the audit says who did what to whom, newest first
    audit = wanjiku.get("/api/v1/staff").json()["audit"]
    mine = [(a["actor"], a["action"], a["detail"]["username"]) for a in audit if a["detail"].get("username") != "x"]
    assert mine[:9] == [("wanjiku", "disable-staff", "admin"), ("admin", "change-role", "wanjiku"),
                        ("admin", "change-role", "wanjiku"), ("admin", "reset-password", "wanjiku"),
                        ("admin", "unlock-staff", "wanjiku"), ("admin", "enable-staff", "wanjiku"),
                        ("admin", "disable-staff", "wanjiku"), ("admin", "add-staff", "wanjiku"),
                        ("provision:" + mine[8][0].split(":", 1)[1], "add-staff", "admin")]


def test_a_browser_session_needs_its_csrf_token_to_change_staff(centre_server):
    s = centre_server
    r = _login(s, "admin", s.centre.staff_password("admin"))
    cookies = dict(r.cookies)
    with httpx.Client(base_url=s.url, cookies=cookies) as browserish:
        refused = browserish.post("/api/v1/staff/clerk/disable")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
        wrong = browserish.post("/api/v1/staff/clerk/disable", headers={"x-csrf-token": "guess"})
        assert wrong.status_code == 403
        ok = browserish.post("/api/v1/staff/clerk/disable", headers={"x-csrf-token": cookies["huduma_csrf"]})
        assert ok.status_code == 200 and ok.json()["disabled"] is True


def test_the_last_admin_cannot_be_disabled_or_demoted_by_any_tool(centre_dir):
    """The store's own rule, whoever calls it (the page, or a tool acting as someone else)."""
    db = storage.connect(centre_dir.path / "centre.db")
    try:
        for change in (lambda: staff.set_disabled(db, "provision:root", "admin", True),
                       lambda: staff.set_role(db, "provision:root", "admin", "manager")):
            with pytest.raises(staff.StaffError) as refused:
                change()
            assert refused.value.code == "last_admin"
        staff.add(db, "admin", "ops", "admin")
        assert staff.set_disabled(db, "provision:root", "admin", True)["disabled"] is True
        with pytest.raises(staff.StaffError):
            staff.set_role(db, "provision:root", "ops", "clerk")  # ops is the last enabled admin now
    finally:
        db.conn.close()
    with sqlite3.connect(centre_dir.path / "centre.db") as raw:
        assert raw.execute("SELECT role, disabled FROM staff WHERE username='ops'").fetchone() == ("admin", 0)


def test_the_admin_manages_staff_in_the_browser_with_the_keyboard(centre_server, centre_dir, context_factory, shots):
    s = centre_server
    # a manager is told plainly the page is not theirs, in either language
    mpage = context_factory().new_page()
    login_page(mpage, s, "manager", centre_dir.staff_password("manager"))
    mpage.wait_for_url("**/board")
    expect(mpage.locator("nav a[href='/staff']")).to_have_count(0)
    resp = mpage.goto(s.url + "/staff?lang=sw")
    assert resp is not None and resp.status == 403
    expect(mpage.locator("h1")).to_have_text("Hairuhusiwi")
    shots(mpage, "staff-forbidden-manager-sw")

    page = context_factory().new_page()
    login_page(page, s, "admin", centre_dir.staff_password("admin"))
    page.wait_for_url("**/board")
    page.click("nav a[href='/staff']")
    page.wait_for_url("**/staff")
    expect(page.locator("#staff-rows tr")).to_have_count(3)
    expect(page.locator("#staff-rows tr[data-username='admin'] th")).to_contain_text("(you)")

    # add with the keyboard only: type, Tab through, Enter
    page.focus("#add-username")
    page.keyboard.type("akinyi")
    page.keyboard.press("Tab")
    page.keyboard.type("Akinyi Otieno")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # Manager
    page.keyboard.press("Tab")
    expect(page.locator("#add-save")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#password-card")).to_be_visible()
    expect(page.locator("#password-card")).to_be_focused()
    expect(page.locator("#password-head")).to_have_text("New password for akinyi")
    password = page.locator("#password-value").inner_text()
    expect(page.locator("#staff-rows tr[data-username='akinyi'] td").nth(0)).to_have_text("Akinyi Otieno")
    assert page.locator("#role-akinyi").input_value() == "manager"
    shots(page, "staff-added-password-shown", full_page=True)
    assert _login(s, "akinyi", password).json()["role"] == "manager"
    page.keyboard.press("Tab")
    expect(page.locator("#password-done")).to_be_focused()
    page.keyboard.press("Enter")  # "Done": the password is gone from the page
    expect(page.locator("#password-card")).to_be_hidden()
    expect(page.locator("#password-value")).to_have_text("")

    # disable her: a dialog asks first; Escape keeps her, confirming disables her
    row = page.locator("#staff-rows tr[data-username='akinyi']")
    row.locator("button[data-action='disable']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_have_text("Disable akinyi? They are logged out now and cannot log in.")
    page.keyboard.press("Escape")
    expect(row.locator("button[data-action='disable']")).to_be_visible()
    row.locator("button[data-action='disable']").click()
    page.click("#confirm-ok")
    expect(row.locator(".state")).to_have_text("Disabled")
    expect(row.locator("button[data-action='enable']")).to_be_visible()
    assert _login(s, "akinyi", password).status_code == 403

    # the admin is offered no way to lock themselves out (the API refuses it too, above)
    expect(page.locator("#staff-rows tr[data-username='admin'] button[data-action='disable']")).to_have_count(0)
    expect(page.locator("#role-admin")).to_be_disabled()

    # a refusal is said on screen: a name already taken
    page.fill("#add-username", "akinyi")
    page.click("#add-save")
    expect(page.locator("#add-error")).to_have_text("That username is taken.")

    # the audit on the page, in Kiswahili too
    expect(page.locator("#audit-rows tr").first).to_contain_text("disabled akinyi")
    expect(page.locator("#audit-rows tr").nth(1)).to_contain_text("added akinyi (Manager)")
    shots(page, "staff-page-en", full_page=True)
    page.goto(s.url + "/staff?lang=sw")
    expect(page.locator("h1")).to_have_text("Akaunti za wafanyakazi")
    expect(page.locator("#audit-rows tr").first).to_contain_text("alizima akinyi")
    shots(page, "staff-page-sw", full_page=True)
