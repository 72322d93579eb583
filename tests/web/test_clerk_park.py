"""Parking a citizen (sent to fetch a document) and calling them back, in Chromium against a real server process."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import issue, login_page


def test_clerk_parks_a_citizen_serves_the_next_and_calls_them_back(web_server, context_factory, shots):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    first = issue(web_server, kiosk, "id-card-replace")
    second = issue(web_server, kiosk, "id-card-replace")

    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    page.select_option("#counter-select", "c01")
    page.click("#open-counter")
    expect(page.locator("#terminal")).to_be_visible()
    expect(page.locator("#parked-list")).to_contain_text("Nobody is parked")

    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    # K parks: a dialog asks what they went to fetch; Enter parks
    page.keyboard.press("k")
    expect(page.locator("#park-dialog")).to_be_visible()
    expect(page.locator("#park-note")).to_be_focused()
    page.keyboard.type("Police abstract for the lost ID")
    shots(page, "web-clerk-park-dialog")
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text(f"{first['number']} parked")
    # the counter is free at once, and the parked list shows the ticket with its note
    expect(page.locator("#current-number")).to_have_text("—")
    row = page.locator(f"#parked-list li[data-number='{first['number']}']")
    expect(row).to_contain_text("Police abstract for the lost ID")
    expect(page.locator("#parked-count")).to_have_text("1")
    t = httpx.get(web_server.url + f"/api/v1/tickets/{first['id']}").json()
    assert t["state"] == "parked"  # not a no-show: no_show_at stays empty
    assert t.get("no_show_at") is None

    # the next citizen is served meanwhile
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(second["number"])
    page.keyboard.press("c")
    expect(page.locator("#toast")).to_contain_text(f"{second['number']} completed")
    shots(page, "web-clerk-parked-list")

    # the citizen is back: the clerk calls them back from the list (Tab to its button, Enter)
    button = row.get_by_role("button", name=f"Call back {first['number']}")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text(f"{first['number']} called back")
    expect(page.locator("#current-number")).to_have_text(first["number"])
    expect(page.locator("#parked-list")).to_contain_text("Nobody is parked")
    # the hall shows (and the displays announce) the call like any other
    hall = httpx.get(web_server.url + "/api/v1/hall").json()
    assert hall["calls"][0]["number"] == first["number"] and hall["calls"][0]["counter_id"] == "c01"
    shots(page, "web-clerk-called-back")
    page.keyboard.press("c")
    expect(page.locator("#toast")).to_contain_text(f"{first['number']} completed")

    # in Kiswahili: the park button, the dialog and the list fit their places (screenshots looked at)
    third = issue(web_server, kiosk, "id-card-replace")
    page.goto(web_server.url + "/clerk?lang=sw")
    expect(page.locator("#terminal")).to_be_visible()
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(third["number"])
    expect(page.locator("[data-action='park']")).to_contain_text("Weka kando")
    page.keyboard.press("k")
    page.keyboard.type("Cheti cha polisi cha kitambulisho kilichopotea")
    shots(page, "web-clerk-park-dialog-sw")
    page.keyboard.press("Enter")
    row = page.locator(f"#parked-list li[data-number='{third['number']}']")
    expect(row).to_contain_text("Cheti cha polisi")
    expect(row.get_by_role("button")).to_have_text("Mwite arudi")  # not "Mwite tena": that is Recall
    shots(page, "web-clerk-parked-list-sw")
    with web_server.client(web_server.login("manager")) as api:  # leave the hall as it was for the next test
        assert api.post(f"/api/v1/tickets/{third['id']}/cancel").json()["state"] == "cancelled"


def test_a_parked_ticket_is_called_back_at_another_counter_and_survives_a_restart(web_server):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    t = issue(web_server, kiosk, "id-card-collect")
    token = web_server.login("manager")
    with web_server.client(token) as api:
        assert api.post("/api/v1/counters/c03/open", json={"services": ["id-card-collect"]}).status_code == 200
        called = api.post("/api/v1/counters/c03/call-next").json()
        assert called["number"] == t["number"]
        r = api.post("/api/v1/counters/c03/park", json={"note": "x" * 201})
        assert r.status_code == 422 and r.json()["error"]  # a note too long: a JSON refusal, not a 500
        assert api.post("/api/v1/counters/c03/park", json={"note": "birth certificate copy"}).status_code == 200
        assert api.post("/api/v1/counters/c03/park").json()["error"]["code"] == "no_ticket_at_counter"
        board = api.get("/api/v1/stats/live").json()  # the manager's board counts it as parked, not a no-show
        assert board["parked_now"] == 1 and board["no_shows_today"] == 0
    web_server.kill9()  # the parked ticket and its note are on disk
    web_server.start()
    token = web_server.login("manager")
    with web_server.client(token) as api:
        assert api.post("/api/v1/counters/c04/open", json={"services": ["id-card-collect"]}).status_code == 200
        parked = api.get("/api/v1/counters/c04/parked").json()["tickets"]
        assert [(p["number"], p["note"], p["counter_name"]) for p in parked] == [
            (t["number"], "birth certificate copy", "3")]
        wrong = api.post(f"/api/v1/counters/c05/call-parked/{t['id']}")
        assert wrong.status_code == 409 and wrong.json()["error"]["code"] in ("counter_closed", "not_this_counter")
        back = api.post(f"/api/v1/counters/c04/call-parked/{t['id']}").json()
        assert (back["state"], back["counter_id"]) == ("called", "c04")
        again = api.post(f"/api/v1/counters/c04/call-parked/{t['id']}")
        assert (again.status_code, again.json()["error"]["code"]) == (409, "not_parked")
        done = api.post("/api/v1/counters/c04/complete", json={"outcome": "not_eligible"})
        assert (done.status_code, done.json()["error"]["code"]) == (422, "outcome_reason_required")
        done = api.post("/api/v1/counters/c04/complete", json={"outcome": "fee_unpaid", "reason": "x"})
        assert (done.status_code, done.json()["error"]["code"]) == (422, "unknown_outcome")
        done = api.post("/api/v1/counters/c04/complete", json={"outcome": "not_eligible", "reason": "ID not ready"})
        assert done.status_code == 200 and done.json()["outcome"] == "not_eligible"
        codes = api.get("/api/v1/outcomes").json()["services"]["id-card-collect"]
        assert [c["code"] for c in codes] == ["served", "not_eligible", "referred"]
        assert codes[1]["label_sw"] == "Hakuweza kuhudumiwa" and codes[1]["reason_required"] is True
