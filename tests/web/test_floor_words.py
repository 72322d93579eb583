"""What a new user found on a fresh clone, checked on the real server and in Chromium: reports and the
not-allowed page in Kiswahili without English tails, broken JSON and impossible days said plainly."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import context_factory, login_page, shots  # noqa: F401  (fixtures, by name)


def test_reports_say_why_a_range_is_refused_in_the_pages_language(web_server, context_factory, shots) -> None:  # noqa: F811
    page = context_factory().new_page()
    login_page(page, web_server, "manager", web_server.centre.staff_password("manager"))
    page.wait_for_url("**/board**")
    cases = {"from=2026-12-31&to=2026-01-01": {"en": "The 'from' date is after the 'to' date.",
                                               "sw": "Tarehe ya 'kuanzia' iko baada ya tarehe ya 'hadi'."},
             "from=2026-02-30": {"en": "That is not a real date", "sw": "Hiyo si tarehe halisi"},
             "from=2026-01-01&to=2026-12-31": {"en": "That is more than 92 days.", "sw": "Hizo ni zaidi ya siku 92."}}
    for query, words in cases.items():
        for lang in ("en", "sw"):
            page.goto(f"{web_server.url}/reports?{query}&lang={lang}")
            alert = page.locator("p.note.bad[role=alert]")
            expect(alert).to_contain_text(words[lang])
            text = alert.inner_text()
            assert "(" not in text.replace("(YYYY", ""), text  # no English tail in brackets
            if lang == "sw":
                assert "is after" not in text and "dates are" not in text and "at most" not in text, text
    shots(page, "reports-range-refused-sw")
    csv = httpx.get(web_server.url + "/reports.csv?from=2026-12-31&to=2026-01-01", cookies=page.context.cookies()
                    and {c["name"]: c["value"] for c in page.context.cookies()})
    err = csv.json()["error"]
    assert csv.status_code == 422 and err["code"] == "bad_range" and err["message_sw"].startswith("Tarehe ya")


def test_the_not_allowed_page_names_the_role_in_the_pages_language(web_server, context_factory, shots) -> None:  # noqa: F811
    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk**")
    for lang, role, other in (("sw", "Karani", "(clerk)"), ("en", "Clerk", "(clerk)")):
        page.goto(f"{web_server.url}/board?lang={lang}")
        body = page.locator("section.message")
        expect(body).to_contain_text(f"({role})")
        assert other not in body.inner_text()
        shots(page, f"forbidden-{lang}")


def test_broken_json_and_impossible_days_are_said_plainly(web_server) -> None:
    kiosk = {"Authorization": f"Bearer {web_server.centre.bundle('kiosk-1')['token']}"}
    r = httpx.post(web_server.url + "/api/v1/tickets", content=b'{"service_id": ,}',
                   headers={**kiosk, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert message.startswith("the body is not valid JSON (at character") and "decode" not in message, message
    token = httpx.post(web_server.url + "/api/v1/auth/login", json={
        "username": "clerk", "password": web_server.centre.staff_password("clerk")}).json()["token"]
    clerk = {"Authorization": f"Bearer {token}"}
    assert httpx.get(web_server.url + "/api/v1/appointments", params={"day": "2026-13-01"},
                     headers=clerk).status_code == 422  # the pattern already refuses a 13th month
    for day, words in (("2026-02-30", "not a real date"), ("2027-02-29", "not a real date")):
        r = httpx.get(web_server.url + "/api/v1/appointments", params={"day": day}, headers=clerk)
        assert r.status_code == 422 and r.json()["error"]["code"] == "bad_day", r.text
        assert words in r.json()["error"]["message"]
    r = httpx.get(web_server.url + "/api/v1/appointments", params={"day": "1999-01-01"}, headers=clerk)
    assert r.status_code == 422 and "out of range" in r.json()["error"]["message"], r.text
    assert httpx.get(web_server.url + "/api/v1/appointments", params={"day": "2026-03-02"},
                     headers=clerk).status_code == 200


def test_the_clerk_terminal_says_which_counter_a_move_closed(web_server, context_factory, shots) -> None:  # noqa: F811
    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk**")
    page.goto(web_server.url + "/clerk?lang=sw")
    expect(page.locator("#setup")).to_be_visible()
    # meanwhile the same clerk opens counter 12 elsewhere (another terminal, the API)
    token = httpx.post(web_server.url + "/api/v1/auth/login", json={
        "username": "clerk", "password": web_server.centre.staff_password("clerk")}).json()["token"]
    api = {"Authorization": f"Bearer {token}"}
    assert httpx.post(web_server.url + "/api/v1/counters/c12/open", headers=api).status_code == 200
    page.select_option("#counter-select", "c13")
    page.click("#open-counter")
    expect(page.locator("#terminal")).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("Kaunta 12 imefungwa")
    shots(page, "clerk-moved-sw")
    counters = {c["id"]: c for c in httpx.get(web_server.url + "/api/v1/counters", headers=api).json()}
    assert counters["c12"]["state"] == "closed" and counters["c13"]["state"] == "open"
    assert httpx.post(web_server.url + "/api/v1/counters/c13/close", headers=api).status_code == 200
