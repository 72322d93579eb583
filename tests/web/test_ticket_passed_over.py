"""A citizen on the way whose turn came before they checked in (finding 3): their ticket page says to check in
at the kiosk by a time to keep their place (no wait figure), not "You missed your call"; the clerk who finds
nobody in the hall hears that someone is on the way. A real server and Debian's Chromium, both languages."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import login_page, serve_demo


def test_the_page_of_a_passed_over_ticket_says_check_in_by_when(tmp_path, context_factory, shots):
    with serve_demo(tmp_path) as server:
        r = httpx.post(server.url + "/join", data={"service_id": "kra-pin", "phone": "0712000003", "lang": "en",
                                                   "nonce": "finding-3"}, timeout=10)
        assert r.status_code == 303, r.text
        tid = r.headers["location"].split("/")[2].split("?")[0]
        # before its turn: the page says to check in on arrival, not "please wait, we will call you"
        phone = context_factory(viewport={"width": 360, "height": 740}).new_page()
        for lang, words in (("en", "On your way: check in at the kiosk when you arrive"),
                            ("sw", "Uko njiani: thibitisha kufika kwenye kioski ukifika")):
            phone.goto(f"{server.url}/t/{tid}?lang={lang}")
            expect(phone.locator("#ticket-status")).to_contain_text(words)
            expect(phone.locator("#ticket-figures")).to_be_visible()  # its place and wait, as for anyone
            shots(phone, f"web-citizen-on-the-way-{lang}")
        clerk = server.client(server.login("clerk"))
        assert clerk.post("/api/v1/counters/c05/open", json={"services": ["kra-pin"]}).status_code == 200
        refused = clerk.post("/api/v1/counters/c05/call-next")
        assert refused.status_code == 404 and refused.json()["error"]["passed_over"] == 1
        out = httpx.get(f"{server.url}/api/v1/tickets/{tid}").json()
        assert out["state"] == "waiting" and out["check_in_by"]
        by = out["check_in_by"][11:16]

        for lang, words in (("en", f"Your turn has come. Check in at the kiosk by {by} to keep your place."),
                            ("sw", f"Zamu yako imefika. Thibitisha kufika kwenye kioski kabla ya saa {by} "
                                   "ili kubaki na nafasi yako.")):
            phone.goto(f"{server.url}/t/{tid}?lang={lang}")
            status = phone.locator("#ticket-status")
            expect(status).to_have_text(words)
            expect(phone.locator("#ticket-figures")).to_be_hidden()  # no "0 ahead, ~1 min" beside it
            box = status.bounding_box()
            assert box and box["x"] + box["width"] <= 360
            shots(phone, f"web-citizen-passed-over-{lang}")
            # the page the join form led to says the same
            phone.goto(f"{server.url}/join/{tid}?lang={lang}")
            expect(phone.locator("#ticket-wait")).to_contain_text(by)
            shots(phone, f"channels-joined-passed-over-{lang}")

        # the clerk who calls and finds nobody in the hall is told a citizen on the way keeps their place
        desk = context_factory().new_page()
        login_page(desk, server, "clerk", server.centre.staff_password("clerk"))
        desk.wait_for_url("**/clerk**")
        desk.locator('[data-action="call-next"]').first.click()
        expect(desk.locator("#toast")).to_have_text(
            "Nobody in the hall for this counter. 1 on the way, not checked in: kept in place.")
        shots(desk, "web-clerk-nobody-in-hall-passed-over")

        # the manager's board: not waiting in the hall, not a no-show, shown as on the way
        board = context_factory().new_page()
        login_page(board, server, "manager", server.centre.staff_password("manager"))
        board.wait_for_url("**/board")
        row = board.locator("#service-rows tr[data-service='kra-pin']")
        expect(row.locator("td").nth(1)).to_have_text("0+1 on the way")
        shots(board, "web-board-passed-over", full_page=True)
        board.goto(server.url + "/board?lang=sw")
        expect(board.locator("#service-rows tr[data-service='kra-pin'] td").nth(1)).to_have_text("0+1 njiani")
        assert httpx.get(f"{server.url}/api/v1/tickets/{tid}").json()["state"] == "waiting"
