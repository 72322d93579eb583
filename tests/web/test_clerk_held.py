"""Issue 16: the clerk terminal says, in the clerk's language, that another clerk holds the counter."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from provisioning.staff import add_staff
from tests.web.conftest import login_page

COUNTER = "c07"  # this module's own counter: the server is shared with the other web tests


def bearer(server, username: str, password: str) -> dict:
    r = httpx.post(server.url + "/api/v1/auth/login", json={"username": username, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_clerk_is_refused_a_counter_another_clerk_holds(web_server, context_factory, shots):
    centre = web_server.centre
    password = add_staff(centre.path, "amina", "clerk")["password"]
    holder = bearer(web_server, "clerk", centre.staff_password("clerk"))
    r = httpx.post(web_server.url + f"/api/v1/counters/{COUNTER}/open", json={"services": ["id-card-new"]},
                   headers=holder, timeout=10)
    assert r.status_code == 200 and r.json()["clerk"] == "clerk", r.text

    for lang, expected in (("en", "This counter is held by clerk. Only they or a manager can use it."),
                           ("sw", "Kaunta hii inashikiliwa na clerk. Ni yeye au meneja tu anayeweza kuitumia.")):
        page = context_factory().new_page()
        login_page(page, web_server, "amina", password)
        page.wait_for_url("**/clerk")
        page.goto(web_server.url + f"/clerk?lang={lang}")
        expect(page.locator("#setup")).to_be_visible()
        page.select_option("#counter-select", COUNTER)
        page.click("#open-counter")
        error = page.locator("#setup-error")
        expect(error).to_be_visible()
        expect(error).to_have_text(expected)
        expect(page.locator("#terminal")).to_be_hidden()
        shots(page, f"web-clerk-counter-held-{lang}")
        box = error.bounding_box()
        setup = page.locator("#setup").bounding_box()
        assert box and setup and box["x"] + box["width"] <= setup["x"] + setup["width"] + 1  # fits its panel

    counter = httpx.get(web_server.url + f"/api/v1/counters/{COUNTER}", headers=holder, timeout=10).json()
    assert counter["clerk"] == "clerk" and counter["state"] == "open"  # nobody took it over


def test_clerk_whose_counter_a_manager_took_over_is_told(web_server, context_factory, shots):
    """The clerk's terminal is open when a manager takes the counter over: the next key says who holds it."""
    centre = web_server.centre
    holder = bearer(web_server, "clerk", centre.staff_password("clerk"))
    httpx.post(web_server.url + f"/api/v1/counters/{COUNTER}/close", headers=holder, timeout=10)
    r = httpx.post(web_server.url + "/api/v1/counters/c08/open", json={"services": ["id-card-new"]},
                   headers=holder, timeout=10)
    assert r.status_code == 200, r.text
    page = context_factory().new_page()
    login_page(page, web_server, "clerk", centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    page.goto(web_server.url + "/clerk?lang=sw")
    expect(page.locator("#terminal")).to_be_visible()  # the clerk's own open counter
    expect(page.locator("#counter-title")).to_have_text("Kaunta 8")

    manager = bearer(web_server, "manager", centre.staff_password("manager"))
    r = httpx.post(web_server.url + "/api/v1/counters/c08/open", json={"services": ["id-card-new"]},
                   headers=manager, timeout=10)
    assert r.status_code == 200 and r.json()["clerk"] == "manager", r.text
    page.click("#btn-pause")
    toast = page.locator("#toast")
    expect(toast).to_have_text("Kaunta hii inashikiliwa na manager. Ni yeye au meneja tu anayeweza kuitumia.")
    shots(page, "web-clerk-counter-taken-sw")
    counter = httpx.get(web_server.url + "/api/v1/counters/c08", headers=manager, timeout=10).json()
    assert counter["state"] == "open" and counter["clerk"] == "manager"  # the refused pause changed nothing
