"""The citizen's page of a one-stop visit while the next step's only counter is paused (its clerk on a break).

A real ``huduma-centre serve`` process and Debian's Chromium: no whole-visit figure is made up, and the page
says the counter is on a short break (not "no counter open"), in English and Kiswahili; when the clerk
resumes, the figure comes back.
"""

from __future__ import annotations

from playwright.sync_api import expect

from provisioning.staff import add_staff
from tests.web.conftest import issue


def test_visit_page_says_the_next_counter_is_on_a_break(web_server, context_factory, shots):
    centre = web_server.centre
    kiosk = centre.bundle("kiosk-1")["token"]
    baraka = add_staff(centre.path, "baraka", "clerk")["password"]
    id_clerk = web_server.client(web_server.login("clerk"))
    kra_clerk = web_server.client(web_server.login("baraka", baraka))
    assert id_clerk.post("/api/v1/counters/c02/open", json={"services": ["id-card-new"]}).status_code == 200
    assert kra_clerk.post("/api/v1/counters/c13/open", json={"services": ["kra-pin"]}).status_code == 200
    citizen = issue(web_server, kiosk, "id-card-new", then=["kra-pin"])
    assert citizen["visit_wait_s"] is not None and citizen["visit_wait_unknown"] is None

    # the KRA clerk goes on a break: the only counter open for KRA PINs is c13 (every other is closed)
    counters = id_clerk.get("/api/v1/counters").json()
    open_kra = [c["id"] for c in counters if c["state"] == "open" and "kra-pin" in c["services"]]
    assert open_kra == ["c13"]
    assert kra_clerk.post("/api/v1/counters/c13/pause").status_code == 200
    t = web_server.client().get(f"/t/{citizen['id']}")
    assert t.status_code == 200
    api = id_clerk.get(f"/api/v1/tickets/{citizen['id']}").json()
    assert api["visit_wait_s"] is None
    assert api["visit_wait_unknown"] == "paused" and api["visit_wait_step"] == "kra-pin"
    # a KRA-only newcomer's figures say the same on the board and the kiosk: paused, not "no counter"
    kra = next(s for s in web_server.client(kiosk).get("/api/v1/services").json() if s["id"] == "kra-pin")
    assert kra["estimated_wait_s"] is None and kra["wait_unknown"] == "paused"

    phone = context_factory(viewport={"width": 390, "height": 844}).new_page()
    for lang, words in (("en", "Time for the whole visit: not known until the counter for KRA PIN registration "
                               "is back from a short break."),
                        ("sw", "Muda wa ziara nzima: hautajulikana hadi kaunta ya Usajili wa PIN ya KRA irudi "
                               "kutoka mapumziko mafupi.")):
        phone.goto(web_server.url + f"/t/{citizen['id']}?lang={lang}")
        line = phone.locator("#ticket-visit-next")
        expect(line).to_contain_text(words)
        phone.locator("#ticket-visit").scroll_into_view_if_needed()
        box = line.bounding_box()
        assert box and box["x"] + box["width"] <= 390  # fits a phone's width
        shots(phone, f"web-citizen-visit-paused-{lang}")

    # the clerk is back: the page (polling) shows the whole visit's figure again
    assert kra_clerk.post("/api/v1/counters/c13/open").status_code == 200
    phone.goto(web_server.url + f"/t/{citizen['id']}?lang=en")
    expect(phone.locator("#ticket-visit-next")).to_contain_text("Until your last service is called: about ")
    for c, who in (("c02", id_clerk), ("c13", kra_clerk)):
        assert who.post(f"/api/v1/counters/{c}/close").status_code == 200
