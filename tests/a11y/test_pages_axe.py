"""Every web page audited by axe-core in headless Chromium, in English and Kiswahili.

A real centre server (the demo centre) and a real demo headquarters; each page is
visited as its user would reach it (logged in where it needs it), axe-core is
injected, its report saved under ``tests/artifacts/axe/<page>-<lang>.json`` and any
serious or critical violation fails the test with the rule and the elements named.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.a11y.axe import audit
from tests.conftest import artifacts_dir, free_port, wait_until
from tests.hq.conftest import HqProcess
from tests.web.conftest import context_factory, issue, login_page, web_server  # noqa: F401  (fixtures, by name)

LANGS = ("en", "sw")
LEVEL_WORDS = {"en": ("✓ on target", "! near target", "✗ below target"),
               "sw": ("✓ kwa lengo", "! karibu na lengo", "✗ chini ya lengo")}
BOARD_WORDS = {"en": "✓ within target", "sw": "✓ ndani ya lengo"}


@pytest.fixture(scope="module")
def hq_demo(tmp_path_factory):
    """``huduma-hq serve --demo`` in a private folder: SQLite, the demo admin, simulated neighbours."""
    tmp = tmp_path_factory.mktemp("hq-demo")
    server = HqProcess(db_url="", port=free_port(), log_path=tmp / "hq.log", cwd=tmp, demo=True)
    server.start()
    yield server
    server.stop()


def test_citizen_pages_have_no_serious_violations(web_server, context_factory):  # noqa: F811
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    ticket = issue(web_server, kiosk, "id-card-new")
    page = context_factory(viewport={"width": 390, "height": 844}, bypass_csp=True).new_page()
    found: list[str] = []
    for lang in LANGS:
        for path, name in [(f"/t/{ticket['id']}", "ticket"), ("/join", "join"), ("/book", "book"),
                           ("/book?service=id-card-new", "book-service")]:
            page.goto(f"{web_server.url}{path}{'&' if '?' in path else '?'}lang={lang}")
            found += audit(page, f"{name}-{lang}")
    assert not found, "\n".join(found)


def test_staff_pages_have_no_serious_violations(web_server, context_factory):  # noqa: F811
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    issue(web_server, kiosk, "birth-cert")
    found: list[str] = []
    for lang in LANGS:
        page = context_factory(bypass_csp=True).new_page()
        page.goto(f"{web_server.url}/login?lang={lang}")
        found += audit(page, f"login-{lang}")
        login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
        page.wait_for_url("**/clerk")
        page.goto(f"{web_server.url}/clerk?lang={lang}")
        if lang == "en":  # the first morning: choose a counter; the server remembers it afterwards
            expect(page.locator("#setup")).to_be_visible()
            found += audit(page, f"clerk-setup-{lang}")
            page.select_option("#counter-select", "c05")
            page.check("#service-choices input[value='birth-cert']")
            page.click("#open-counter")
            expect(page.locator("#terminal")).to_be_visible()
            found += audit(page, f"clerk-terminal-{lang}")
            page.click("#btn-call")
        expect(page.locator("#terminal")).to_be_visible()
        expect(page.locator("#current-number")).not_to_have_text("—")
        found += audit(page, f"clerk-called-{lang}")

        manager = context_factory(bypass_csp=True).new_page()
        login_page(manager, web_server, "manager", web_server.centre.staff_password("manager"))
        manager.wait_for_url(lambda url: "/login" not in url)
        for path, name in [("/board", "board"), ("/reports", "reports"), ("/tomorrow", "tomorrow")]:
            manager.goto(f"{web_server.url}{path}?lang={lang}")
            assert manager.url.split("?")[0].endswith(path), manager.url  # the page itself, not a login form
            found += audit(manager, f"{name}-{lang}")
    assert not found, "\n".join(found)


def test_staff_administration_page_has_no_serious_violations(web_server, context_factory):  # noqa: F811
    """The admin's staff page (issue 21), with a new password shown and the confirmation dialog open."""
    found: list[str] = []
    page = context_factory(bypass_csp=True).new_page()
    login_page(page, web_server, "admin", web_server.centre.staff_password("admin"))
    page.wait_for_url(lambda url: "/login" not in url)
    for lang in LANGS:
        page.goto(f"{web_server.url}/staff?lang={lang}")
        expect(page.locator("#staff-rows tr[data-username='admin']")).to_have_count(1)
        found += audit(page, f"staff-{lang}")
    page.fill("#add-username", "axe-check")
    page.click("#add-save")
    expect(page.locator("#password-card")).to_be_visible()
    page.locator("#staff-rows tr[data-username='axe-check'] button[data-action='disable']").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    found += audit(page, "staff-dialog-sw")
    assert not found, "\n".join(found)


def test_hq_pages_have_no_serious_violations(hq_demo, context_factory):  # noqa: F811
    # the neighbours' days are simulated in the background: wait for the board to have them
    wait_until(lambda: "level-mark" in hq_demo.client().get("/?lang=en").text, timeout=120)
    password = json.loads((hq_demo.cwd / "demo-hq" / "demo-credentials.json").read_text())["admin"]["password"]
    found: list[str] = []
    page = context_factory(bypass_csp=True).new_page()
    hq_demo.log_in_browser(page.context)
    for lang in LANGS:
        page.goto(f"{hq_demo.url}/?lang={lang}")
        found += audit(page, f"hq-board-{lang}")
        # service levels are told in words and marks as well as colour (colour blindness)
        marks = page.locator("#centres td.level .level-mark, #worst td.level .level-mark").all_inner_texts()
        assert marks and all(m in LEVEL_WORDS[lang] for m in marks), marks
        expect(page.locator("#levels-legend")).to_contain_text(LEVEL_WORDS[lang][0])
    page.goto(f"{hq_demo.url}/admin/login?lang=en")
    found += audit(page, "hq-admin-login-en")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url("**/admin**")
    first = page.locator("a[href^='/admin/services/']:not([href$='/new'])").first.get_attribute("href")
    for lang in LANGS:
        for path, name in [("/admin/login", "admin-login"), ("/admin", "admin-catalogue"), (first, "admin-service"),
                           ("/admin/versions/1", "admin-version"), ("/admin/audit", "admin-audit"),
                           ("/admin/centres", "admin-centres"), ("/admin/standards", "admin-standards"),
                           ("/admin/outcomes", "admin-outcomes"),
                           ("/admin/import", "admin-import")]:
            page.goto(f"{hq_demo.url}{path}?lang={lang}")
            found += audit(page, f"hq-{name}-{lang}")
    # the call centre's console (an admin may do what an agent does) and the staff page
    page.goto(f"{hq_demo.url}/callcentre?lang=en")
    page.fill("#caller-phone", "0712345678")
    page.click("#new-call button[type=submit]")
    page.wait_for_url("**/callcentre/calls/**")
    call = page.url.split("?")[0].removeprefix(hq_demo.url)
    for lang in LANGS:
        for path, name in [("/callcentre", "callcentre"), (f"{call}?service=passport&", "callcentre-call"),
                           ("/callcentre/feedback", "callcentre-feedback"), ("/admin/staff", "admin-staff"),
                           ("/revenue", "revenue")]:
            sep = "" if path.endswith("&") else "?"
            page.goto(f"{hq_demo.url}{path}{sep}lang={lang}")
            found += audit(page, f"hq-{name}-{lang}")
    assert not found, "\n".join(found)


def test_service_levels_are_told_in_words_beside_colour(web_server, context_factory):  # noqa: F811
    """The board's longest wait and service level, and the reports' share within target, carry a mark and words."""
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    issue(web_server, kiosk, "passport")
    out = artifacts_dir("a11y")
    for lang in LANGS:
        page = context_factory().new_page()
        login_page(page, web_server, "manager", web_server.centre.staff_password("manager"))
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{web_server.url}/board?lang={lang}")
        row = page.locator("#service-rows tr[data-service='passport']")
        expect(row.locator("td.lvl-ok .lvl-mark")).to_have_text(BOARD_WORDS[lang])
        expect(page.locator("#sl-legend")).to_be_visible()
        page.screenshot(path=str(out / f"board-levels-{lang}.png"), full_page=True)
        page.goto(f"{web_server.url}/reports?lang={lang}")
        expect(page.locator("#sl-legend")).to_be_visible()
        page.screenshot(path=str(out / f"reports-levels-{lang}.png"), full_page=True)


def test_hq_wait_page_and_live_board_have_no_serious_violations(hq_demo, context_factory):  # noqa: F811
    """The public wait page (no login) at a phone's width, and the national live board (viewer), both languages."""
    found: list[str] = []
    page = context_factory(viewport={"width": 360, "height": 740}).new_page()
    for lang in LANGS:
        page.goto(f"{hq_demo.url}/wait?lang={lang}")
        found += audit(page, f"hq-wait-form-{lang}")
        page.goto(f"{hq_demo.url}/wait?service=kra-pin&county=Nairobi&lang={lang}")
        expect(page.locator("li.centre").first).to_be_visible()
        found += audit(page, f"hq-wait-answer-{lang}")
    board = context_factory().new_page()
    hq_demo.log_in_browser(board.context)
    for lang in LANGS:
        board.goto(f"{hq_demo.url}/live?lang={lang}")
        assert board.url.split("?")[0].endswith("/live"), board.url
        found += audit(board, f"hq-live-{lang}")
        board.screenshot(path=str(artifacts_dir("hq") / f"live-board-{lang}.png"), full_page=True)
    assert not found, "\n".join(found)
