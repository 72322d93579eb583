"""Logging in and out through the login page, lock-out after repeated failures."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect


def test_login_errors_lockout_and_logout(web_server, context_factory, shots):
    page = context_factory().new_page()
    page.goto(web_server.url + "/")
    page.wait_for_url("**/login")
    page.fill("#username", "manager")
    page.fill("#password", "not-the-password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page.locator("#password")).to_have_value("")
    shots(page, "web-login-error")

    # Kiswahili, then a good login lands on the manager's board; "/" now leads there too
    page.click("a[data-lang-link='sw']")
    expect(page.locator("h1")).to_have_text("Kuingia kwa wafanyakazi")
    page.click("a[data-lang-link='en']")
    page.fill("#username", "manager")
    page.fill("#password", web_server.centre.staff_password("manager"))
    shots(page, "web-login")
    page.click("#login-button")
    page.wait_for_url("**/board")
    page.goto(web_server.url + "/")
    page.wait_for_url("**/board")

    # logout ends the session on the server too
    token = page.context.cookies()
    page.click("#logout")
    page.wait_for_url("**/login?bye=1")
    expect(page.locator(".note.ok")).to_have_text("You have logged out.")
    old = {c["name"]: c["value"] for c in token}
    assert httpx.get(web_server.url + "/api/v1/session", cookies=old).status_code == 401

    # five wrong passwords lock the account, even against the right one
    for _ in range(5):
        r = httpx.post(web_server.url + "/api/v1/auth/login", json={"username": "clerk", "password": "wrong"})
        assert r.status_code == 401
    page.fill("#username", "clerk")
    page.fill("#password", web_server.centre.staff_password("clerk"))
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text("Too many failed logins: try again in 15 min.")
    assert page.url.endswith("/login?bye=1")


def test_next_page_after_login_is_only_a_local_path(web_server, context_factory):
    page = context_factory().new_page()
    page.goto(web_server.url + "/reports?from=2026-01-01")
    page.wait_for_url("**/login?next=*")
    page.fill("#username", "manager")
    page.fill("#password", web_server.centre.staff_password("manager"))
    page.click("#login-button")
    page.wait_for_url("**/reports?from=2026-01-01")
    # a crafted link cannot send the manager to another site after login
    page.goto(web_server.url + "/login?next=//evil.example/x")
    assert page.locator("#login-form").get_attribute("data-next") == ""
