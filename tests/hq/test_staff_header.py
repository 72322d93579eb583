"""Every HQ staff page wears the one header: who is signed in and "Log out" (the national live board had none),
and the login page's title speaks to every staff member, not only the catalogue's admins. Real `huduma-hq serve`
on PostgreSQL, Chromium, both languages."""

from __future__ import annotations

import re

from hq.auth import SESSION_COOKIE
from hq.i18n import STRINGS
from tests.conftest import artifacts_dir
from tests.hq.conftest import HqProcess

# each staff page and the least role that reaches it
PAGES = [("/", "viewer"), ("/live", "viewer"), ("/revenue", "viewer"), ("/admin/centres", "viewer"),
         ("/callcentre", "agent"), ("/callcentre/feedback", "viewer"), ("/admin", "admin"), ("/admin/staff", "admin")]


def test_the_login_page_is_titled_for_all_headquarters_staff(hq_shared: HqProcess, browser) -> None:
    out = artifacts_dir("hq")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        for lang in ("en", "sw"):
            page.goto(f"{hq_shared.url}/admin/login?lang={lang}")
            said = page.title() + " " + page.locator("header").inner_text() + " " + page.locator("main").inner_text()
            assert page.title() == STRINGS.tr("login_title", lang)
            assert "Huduma Kenya" in page.title() and page.locator("h2").inner_text() == STRINGS.tr("login_heading",
                                                                                                      lang)
            assert not re.search("catalogue|orodha", said, re.IGNORECASE), said
            assert page.locator("#logout").count() == 0  # nobody to sign out yet
            page.screenshot(path=str(out / f"login-{lang}.png"), full_page=True)
    finally:
        context.close()


def test_every_staff_page_has_the_same_header_with_log_out(hq_shared: HqProcess) -> None:
    for path, role in PAGES:
        client = hq_shared.client(role)
        for lang in ("en", "sw"):
            r = client.get(path, params={"lang": lang}, headers={"accept": "text/html"})
            assert r.status_code == 200, (path, r.status_code)
            header = r.text.split("<header>", 1)[1].split("</header>", 1)[0]
            assert STRINGS.tr("logout", lang) in header and 'action="/admin/logout"' in header, (path, lang)
            assert f"test-{role}" in header, (path, lang)  # who is signed in
            # as what, in the page's language (a Kiswahili page said "(agent)")
            assert f"({STRINGS.tr('role_name_' + role, lang)})" in header, (path, lang)
            assert STRINGS.tr("language", lang) in header


def test_log_out_from_the_live_board_ends_the_session(hq_shared: HqProcess, browser) -> None:
    out = artifacts_dir("hq")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        for lang in ("sw", "en"):
            password = hq_shared.account(f"live-{lang}", "viewer")  # its own session: log out ends only this one
            context.clear_cookies()
            page.goto(f"{hq_shared.url}/admin/login?lang={lang}&next=/live")
            page.fill("input[name=username]", f"live-{lang}")
            page.fill("input[name=password]", password)
            page.click("main button[type=submit]")
            page.wait_for_url("**/live")
            page.goto(f"{hq_shared.url}/live?lang={lang}")
            assert page.locator("header #logout").inner_text() == STRINGS.tr("logout", lang)
            assert f"live-{lang}" in page.locator("header #signed-in").inner_text()
            page.screenshot(path=str(out / f"live-board-header-{lang}.png"), full_page=False)
            page.click("header #logout")
            page.wait_for_load_state()
            assert not any(c["name"] == SESSION_COOKIE for c in context.cookies())
            page.goto(f"{hq_shared.url}/live?lang={lang}")
            assert "/admin/login" in page.url  # signed out: the board asks for a login again
    finally:
        context.close()
