"""One-stop visits at the clerk terminal (issue 21, item 1): a citizen with one ticket for a new ID and a
KRA PIN is served at two counters by two clerks, without queuing from the back again, and the manager
sees the visit in the reports. A real ``huduma-centre serve`` process and Debian's Chromium."""

from __future__ import annotations

from playwright.sync_api import expect

from provisioning.staff import add_staff
from tests.a11y.axe import audit
from tests.web.conftest import issue, login_page
from tests.web.test_clerk_ticket import open_counter


def test_two_clerks_serve_both_services_of_one_visit(web_server, context_factory, shots):
    centre = web_server.centre
    kiosk = centre.bundle("kiosk-1")["token"]
    amina = add_staff(centre.path, "amina", "clerk")["password"]
    early_kra = issue(web_server, kiosk, "kra-pin")
    citizen = issue(web_server, kiosk, "id-card-new", then=["kra-pin"])
    later_kra = issue(web_server, kiosk, "kra-pin")
    assert citizen["number"] == "A001" and [s["state"] for s in citizen["visit"]] == ["now", "next"]
    assert citizen["visit_wait_s"] is None  # no counter is open yet: no invented estimate

    id_clerk = context_factory().new_page()
    login_page(id_clerk, web_server, "clerk", centre.staff_password("clerk"))
    id_clerk.wait_for_url("**/clerk")
    open_counter(id_clerk, "c01", ["id-card-new"])
    kra_clerk = context_factory().new_page()
    login_page(kra_clerk, web_server, "amina", amina)
    kra_clerk.wait_for_url("**/clerk")
    kra_clerk.goto(web_server.url + "/clerk?lang=sw")
    open_counter(kra_clerk, "c12", ["kra-pin"])

    # counter 1 calls the citizen: the visit's plan shows what is now and what comes next, and where
    id_clerk.keyboard.press(" ")
    expect(id_clerk.locator("#current-number")).to_have_text("A001")
    card = id_clerk.locator("#visit-card")
    expect(card).to_be_visible()
    steps = card.locator(".visit-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("now")
    expect(steps.nth(0)).to_contain_text("New national ID card")
    expect(steps.nth(1)).to_contain_text("KRA PIN registration")
    expect(steps.nth(1)).to_contain_text("counter 12")
    # the citizen also needs SHA cover: the clerk adds it, the menu's suggestions first, then drops it again
    expect(id_clerk.locator("#visit-add-service option[value='kra-pin']")).to_have_count(0)  # already planned
    # the menu's suggestions after the last step (KRA PIN: SHA, NSSF, ...) come first
    expect(id_clerk.locator("#visit-add-service option").first).to_have_attribute("value", "sha-registration")
    id_clerk.select_option("#visit-add-service", "sha-registration")
    id_clerk.click("#visit-add-go")
    expect(steps).to_have_count(3)
    expect(steps.nth(2)).to_contain_text("SHA health cover registration")
    shots(id_clerk, "web-clerk-visit-plan")
    steps.nth(2).locator("button[data-visit='drop']").click()
    expect(steps).to_have_count(2)
    manager = web_server.client(web_server.login("manager"))
    assert [s["service_id"] for s in manager.get(f"/api/v1/tickets/{citizen['id']}").json()["visit"]] == \
        ["id-card-new", "kra-pin"]
    id_clerk.click("button[data-action='complete']")
    expect(id_clerk.locator("#current-number")).to_have_text("—")
    expect(card).to_be_hidden()

    # the citizen's page (the ticket's QR code) says what comes next and where, in both languages
    phone = context_factory(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(web_server.url + f"/t/{citizen['id']}?lang=en")
    expect(phone.locator("#ticket-visit-next")).to_contain_text(
        "Now wait for KRA PIN registration, at counter 12. Your number stays the same.")
    # and the whole visit's estimate (its only step left: the KRA queue with one ticket before it)
    expect(phone.locator("#ticket-visit-next")).to_contain_text("Until your last service is called: about ")
    expect(phone.locator("#ticket-visit .visit-step")).to_have_count(2)
    phone.locator("#ticket-visit").scroll_into_view_if_needed()
    shots(phone, "web-citizen-visit-en")
    phone.goto(web_server.url + f"/t/{citizen['id']}?lang=sw")
    expect(phone.locator("#ticket-visit-next")).to_contain_text(
        "Sasa subiri Usajili wa PIN ya KRA, kaunta 12. Namba yako inabaki ileile.")
    phone.locator("#ticket-visit").scroll_into_view_if_needed()
    shots(phone, "web-citizen-visit-sw")
    box = phone.locator("#ticket-visit-next").bounding_box()
    assert box and box["x"] + box["width"] <= 390  # fits a phone's width
    checker = context_factory(viewport={"width": 390, "height": 844}, bypass_csp=True).new_page()
    found: list[str] = []
    for lang in ("en", "sw"):  # axe: no serious violation on the page with a visit
        checker.goto(web_server.url + f"/t/{citizen['id']}?lang={lang}")
        expect(checker.locator("#ticket-visit")).to_be_visible()
        found += audit(checker, f"citizen-visit-{lang}")
    assert not found, "\n".join(found)

    # counter 12: the KRA ticket issued before the citizen first, then the citizen, ahead of the later one
    kra_clerk.keyboard.press(" ")
    expect(kra_clerk.locator("#current-number")).to_have_text(early_kra["number"])
    kra_clerk.keyboard.press("s")  # that citizen came (a call over one only called is refused, finding 11)
    expect(kra_clerk.locator("[data-action='recall']")).to_be_disabled()
    kra_clerk.keyboard.press(" ")
    expect(kra_clerk.locator("#current-number")).to_have_text("A001")
    kra_steps = kra_clerk.locator("#visit-card .visit-step")
    expect(kra_steps).to_have_count(2)
    expect(kra_steps.nth(0)).to_contain_text("imekamilika")
    expect(kra_steps.nth(1)).to_contain_text("sasa")
    expect(kra_steps.nth(1)).to_contain_text("Usajili wa PIN ya KRA")
    shots(kra_clerk, "web-clerk-visit-second-counter-sw")
    kra_clerk.click("button[data-action='complete']")
    expect(kra_clerk.locator("#current-number")).to_have_text("—")
    kra_clerk.keyboard.press(" ")
    expect(kra_clerk.locator("#current-number")).to_have_text(later_kra["number"])
    done = manager.get(f"/api/v1/tickets/{citizen['id']}").json()
    assert done["state"] == "done" and [s["state"] for s in done["visit"]] == ["done", "done"]

    # the manager sees the visit in the reports
    board = context_factory().new_page()
    login_page(board, web_server, "manager", centre.staff_password("manager"))
    board.wait_for_url("**/board")
    board.goto(web_server.url + "/reports")
    expect(board.locator("#visits-count")).to_have_text("1")
    board.locator("#report-visits").scroll_into_view_if_needed()
    shots(board, "web-reports-visits")
    csv = board.context.request.get(web_server.url + "/reports.csv").text().splitlines()
    head, total = csv[0].split(","), csv[1].split(",")
    assert total[head.index("visits")] == "1" and total[head.index("visits_completed")] == "1"
