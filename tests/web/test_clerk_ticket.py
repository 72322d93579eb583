"""The clerk sees the citizen's ticket whole, calls by number and re-activates no-shows (issue 15).

A real ``huduma-centre serve`` process and Debian's Chromium, as in test_clerk.py; this module has its
own server (the fixture is per module), so its counters meet nobody else's.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import issue, login_page


def open_counter(page, counter_id: str, services: list[str]) -> None:
    """Choose the counter and exactly these services on the terminal's setup form."""
    expect(page.locator("#setup")).to_be_visible()
    page.select_option("#counter-select", counter_id)
    for value in page.locator("#service-choices input:checked").evaluate_all("bs => bs.map(b => b.value)"):
        page.uncheck(f"#service-choices input[value='{value}']")
    for sid in services:
        page.check(f"#service-choices input[value='{sid}']")
    page.click("#open-counter")
    expect(page.locator("#terminal")).to_be_visible()


def test_clerk_sees_priority_class_channel_and_language(web_server, context_factory, shots):
    """An expectant mother told at the kiosk "staff may ask you to confirm" is called with her class shown."""
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    walk_in = issue(web_server, kiosk, "marriage")
    mother = issue(web_server, kiosk, "marriage", priority="expectant", language="sw")
    elder = issue(web_server, web_server.login("clerk"), "marriage", priority="elderly", channel="staff")
    assert elder["channel"] == "staff"

    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    open_counter(page, "c03", ["marriage"])

    # priority classes are called first: the expectant mother, who came before the elder
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(mother["number"])
    expect(page.locator("#current-priority")).to_be_visible()
    expect(page.locator("#current-priority")).to_have_text("Priority: Expectant or nursing mother · ask to confirm")
    expect(page.locator("#current-channel")).to_have_text("Ticket from: Kiosk")
    expect(page.locator("#current-language")).to_have_text("Language: Kiswahili")
    shots(page, "web-clerk-priority")
    served = web_server.client(web_server.login("manager")).get("/api/v1/counters/c03").json()["serving"]
    assert (served["number"], served["priority"], served["channel"], served["language"]) == \
        (mother["number"], "expectant", "kiosk", "sw")

    # the same in Kiswahili
    page.click("a[data-lang-link='sw']")
    expect(page.locator("#current-priority")).to_have_text(
        "Kipaumbele: Mama mjamzito au anayenyonyesha · omba athibitishe")
    expect(page.locator("#current-channel")).to_have_text("Tiketi kutoka: Kioski")
    shots(page, "web-clerk-priority-sw")
    page.click("a[data-lang-link='en']")
    expect(page.locator("#current-channel")).to_have_text("Ticket from: Kiosk")

    # the next: the elder, issued by staff at the help desk (the mother came: started first, finding 11)
    page.keyboard.press("s")
    expect(page.locator("#toast")).to_have_text(f"Serving {mother['number']}")
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text(elder["number"])
    expect(page.locator("#current-priority")).to_have_text("Priority: Aged 60 or over · ask to confirm")
    expect(page.locator("#current-channel")).to_have_text("Ticket from: Staff")
    expect(page.locator("#current-language")).to_have_text("Language: English")

    # a walk-in without priority: no class shown, no colour alone either
    page.keyboard.press("s")
    expect(page.locator("#toast")).to_have_text(f"Serving {elder['number']}")
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text(walk_in["number"])
    expect(page.locator("#current-priority")).to_be_hidden()
    expect(page.locator("#current-channel")).to_have_text("Ticket from: Kiosk")
    page.keyboard.press("c")
    expect(page.locator("#current-details")).to_be_hidden()
    page.once("dialog", lambda d: d.accept())
    page.keyboard.press("q")  # close the counter: the next test starts from the counter picker
    expect(page.locator("#setup")).to_be_visible()


def test_clerk_calls_by_number_and_reactivates_no_shows(web_server, context_factory, shots):
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    d1, d2, d3 = (issue(web_server, kiosk, "death-cert") for _ in range(3))
    elsewhere = issue(web_server, kiosk, "passport")

    page = context_factory().new_page()
    login_page(page, web_server, "clerk", web_server.centre.staff_password("clerk"))
    page.wait_for_url("**/clerk")
    open_counter(page, "c04", ["death-cert"])
    expect(page.locator("[data-action='call-number'] kbd")).to_have_text("B")
    expect(page.locator("[data-action='reactivate'] kbd")).to_have_text("A")

    # B: call the third ticket by its number, typed loosely ("d 3"), out of order
    page.keyboard.press("b")
    expect(page.locator("#number-dialog")).to_be_visible()
    expect(page.locator("#number-input")).to_be_focused()
    expect(page.locator("#number-input")).to_have_value("")  # the B that opened it was not typed
    page.keyboard.type("d 3")
    shots(page, "web-clerk-call-number")
    page.keyboard.press("Enter")
    expect(page.locator("#number-dialog")).to_be_hidden()
    expect(page.locator("#current-number")).to_have_text(d3["number"])
    expect(page.locator("#toast")).to_have_text(f"Called {d3['number']}")

    # clear errors, in the dialog, next to the number typed
    page.keyboard.press("b")
    for typed, message in [
        (elsewhere["number"], f"{elsewhere['number']} is not for a service of this counter."),
        (d3["number"].lower(), f"{d3['number']} is already called to a counter."),
        ("ZZ999", "There is no ticket ZZ999 today."),
        ("hello!", "Type a ticket number such as AR012."),
    ]:
        page.fill("#number-input", typed)
        page.keyboard.press("Enter")
        expect(page.locator("#number-error")).to_have_text(message)
        expect(page.locator("#number-dialog")).to_be_visible()
    shots(page, "web-clerk-call-number-error")
    page.keyboard.press("Escape")
    expect(page.locator("#number-dialog")).to_be_hidden()
    expect(page.locator("#current-number")).to_have_text(d3["number"])

    # X marks it a no-show; A lists the counter's recent no-shows; one click puts it back in line
    page.keyboard.press("x")
    expect(page.locator("#toast")).to_have_text(f"{d3['number']} marked as no-show")
    expect(page.locator("#no-show-count")).to_have_text("1")
    page.keyboard.press("a")
    expect(page.locator("#reactivate-dialog")).to_be_visible()
    row = page.locator(f"#no-show-list li[data-number='{d3['number']}']")
    expect(row).to_contain_text("Death certificate")
    expect(row).to_contain_text("missed under a minute ago")
    expect(page.locator("#reactivate-note")).to_have_text(
        "A no-show goes back to its old place in the queue, within 30 min of missing the call.")
    shots(page, "web-clerk-reactivate")
    row.locator("button").click()
    expect(page.locator("#reactivate-dialog")).to_be_hidden()
    expect(page.locator("#toast")).to_have_text(f"{d3['number']} is back in the queue")
    expect(page.locator("#no-show-count")).to_be_hidden()
    staff = web_server.client(web_server.login("manager"))
    assert staff.get(f"/api/v1/tickets/{d3['id']}").json()["state"] == "waiting"

    # ... or by number: call next (d1, the longest waiting), no-show, re-activate "D1"
    page.keyboard.press(" ")
    expect(page.locator("#current-number")).to_have_text(d1["number"])
    page.keyboard.press("x")
    expect(page.locator("#no-show-count")).to_have_text("1")
    page.keyboard.press("a")
    page.fill("#reactivate-input", d2["number"])  # waiting, not a no-show
    page.keyboard.press("Enter")
    expect(page.locator("#reactivate-error")).to_have_text(f"{d2['number']} is not a no-show.")
    page.fill("#reactivate-input", elsewhere["number"])
    page.keyboard.press("Enter")
    expect(page.locator("#reactivate-error")).to_have_text(
        f"{elsewhere['number']} is not for a service of this counter.")
    page.fill("#reactivate-input", "d1")
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_have_text(f"{d1['number']} is back in the queue")
    assert staff.get(f"/api/v1/tickets/{d1['id']}").json()["state"] == "waiting"

    # the re-activated tickets kept their places: d1, then d2, then d3 (each came: started before the next)
    for before, t in zip((None, d1, d2), (d1, d2, d3), strict=True):
        if before is not None:
            page.keyboard.press("s")
            expect(page.locator("#toast")).to_have_text(f"Serving {before['number']}")
        page.keyboard.press(" ")
        expect(page.locator("#current-number")).to_have_text(t["number"])

    # the dialogs in Kiswahili
    page.click("a[data-lang-link='sw']")
    expect(page.locator("[data-action='call-number']")).to_contain_text("Mwite kwa namba")
    expect(page.locator("#terminal")).to_be_visible()
    expect(page.locator("#current-number")).to_have_text(d3["number"])
    page.keyboard.press("b")
    page.fill("#number-input", "ZZ999")
    page.keyboard.press("Enter")
    expect(page.locator("#number-error")).to_have_text("Hakuna tiketi ZZ999 leo.")
    shots(page, "web-clerk-call-number-sw")
    page.keyboard.press("Escape")
    expect(page.locator("#number-dialog")).to_be_hidden()
    page.keyboard.press("x")
    expect(page.locator("#toast")).to_have_text(f"{d3['number']} hakufika")
    page.keyboard.press("a")
    expect(page.locator(f"#no-show-list li[data-number='{d3['number']}']")).to_contain_text("Rudisha")
    shots(page, "web-clerk-reactivate-sw")


def test_number_api_errors_are_clear(web_server):
    """The API behind the dialogs: every bad input is a clear 4xx, never a 500."""
    kiosk = web_server.centre.bundle("kiosk-1")["token"]
    t = issue(web_server, kiosk, "work-permit")
    clerk = web_server.client(web_server.login("clerk"))
    assert clerk.post("/api/v1/counters/c05/open", json={"services": ["work-permit"]}).status_code == 200
    cases = [
        ("/api/v1/counters/nope/call-number", {"number": t["number"]}, 404, "unknown_counter"),
        ("/api/v1/counters/c05/call-number", {"number": "A" * 17}, 422, "invalid_request"),
        ("/api/v1/counters/c05/call-number", {"number": ""}, 422, "invalid_request"),
        ("/api/v1/counters/c05/call-number", {"number": "12AB"}, 422, "invalid_request"),
        ("/api/v1/counters/c05/call-number", {"number": "AR1234"}, 422, "invalid_request"),
        ("/api/v1/counters/c05/call-number", {"number": "\u0661\u0662"}, 422, "invalid_request"),
        ("/api/v1/counters/c05/call-number", {}, 422, "invalid_request"),
        ("/api/v1/counters/c05/reactivate-number", {"number": t["number"]}, 409, "not_no_show"),
        ("/api/v1/counters/c05/reactivate-number", {"number": "WP998"}, 404, "unknown_number"),
    ]
    for path, body, status, code in cases:
        r = clerk.post(path, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, body, r.text)
    # a device may not call by number, nor read the no-shows
    r = httpx.post(web_server.url + "/api/v1/counters/c05/call-number", json={"number": t["number"]},
                   headers={"Authorization": f"Bearer {kiosk}"})
    assert r.status_code == 403
    r = httpx.get(web_server.url + "/api/v1/counters/c05/no-shows", headers={"Authorization": f"Bearer {kiosk}"})
    assert r.status_code == 403
    # the real call, then a no-show listed with what the clerk needs
    r = clerk.post("/api/v1/counters/c05/call-number", json={"number": t["number"].lower()})
    assert (r.status_code, r.json()["id"]) == (200, t["id"])
    assert clerk.post("/api/v1/counters/c05/no-show").status_code == 200
    listed = clerk.get("/api/v1/counters/c05/no-shows").json()
    assert listed["window_s"] == 1800
    assert [(x["number"], x["state"], x["channel"]) for x in listed["tickets"]] == [(t["number"], "no_show", "kiosk")]
    assert listed["tickets"][0]["no_show_at"]
    assert clerk.post("/api/v1/counters/c05/call-number", json={"number": t["number"]}).json()["error"]["code"] \
        == "number_no_show"


def test_an_appointments_slot_reaches_the_clerk(centre_dir):
    """A booked citizen checked in at the kiosk: the clerk's card gets the class and the slot time.

    Booking and check-in need a clock the test moves (the check-in window opens 30 min before the
    slot, after slots stop being offered), so this runs the real Centre and ChannelHub in-process,
    on a real SQLite file, and reads the counter as the API answers it.
    """
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from centre_server.channels.core import ChannelHub
    from centre_server.channels.settings import ChannelSettings
    from centre_server.config import load_settings
    from centre_server.http.routes.counters import counter_out
    from centre_server.queue import engine
    from centre_server.runtime.centre import Centre

    nairobi = ZoneInfo("Africa/Nairobi")
    at = {"t": datetime(2030, 1, 7, 7, 0, tzinfo=nairobi).timestamp()}
    slot = datetime(2030, 1, 7, 8, 0, tzinfo=nairobi)
    centre = Centre(load_settings(centre_dir.path), clock=lambda: at["t"])
    hub = ChannelHub(centre, ChannelSettings(sms_gateway="log"), centre_dir.path)
    hub.clock = lambda: at["t"]  # type: ignore[attr-defined]
    try:
        appt = hub.book("passport", slot.timestamp(), "0711000001", "sw", confirmed=True)  # as from USSD
        at["t"] = datetime(2030, 1, 7, 7, 55, tzinfo=nairobi).timestamp()
        [res] = hub.check_in(code=appt["code"])
        centre.execute(engine.OpenCounter("c08", services=("passport",)))
        centre.execute(engine.CallNext("c08"))
        serving = counter_out(centre, "c08").serving
        assert serving is not None and serving.id == res.ticket.id
        assert (serving.priority, serving.channel) == ("appointment", "web")
        assert serving.slot_at == slot  # shown as "Appointment 08:00" / "Miadi saa 08:00"
        assert serving.slot_at.utcoffset().total_seconds() == 3 * 3600  # centre-local, as the page reads it
    finally:
        hub.stop()
        centre.close()


def test_a_no_show_past_its_window_is_neither_listed_nor_reactivated(centre_dir):
    """With ``reactivation_window_min = 0`` every no-show is already past its window: the counter's
    list leaves it out and re-activating it by number says why (the real app, in-process)."""
    import re

    from fastapi.testclient import TestClient

    from centre_server.http.app import create_app

    toml = centre_dir.path / "centre.toml"
    text, n = re.subn(r"(?m)^reactivation_window_min = \d+", "reactivation_window_min = 0", toml.read_text())
    assert n == 1
    toml.write_text(text)
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as api:
        kiosk = {"Authorization": f"Bearer {centre_dir.bundle('kiosk-1')['token']}"}
        token = api.post("/api/v1/auth/login", json={"username": "clerk",
                                                     "password": centre_dir.staff_password("clerk")}).json()["token"]
        clerk = {"Authorization": f"Bearer {token}"}
        t = api.post("/api/v1/tickets", json={"service_id": "posta"}, headers=kiosk).json()
        assert api.post("/api/v1/counters/c28/open", json={"services": ["posta"]}, headers=clerk).status_code == 200
        assert api.post("/api/v1/counters/c28/call-next", headers=clerk).json()["id"] == t["id"]
        assert api.post("/api/v1/counters/c28/no-show", headers=clerk).json()["state"] == "no_show"
        listed = api.get("/api/v1/counters/c28/no-shows", headers=clerk).json()
        assert listed == {"window_s": 0, "tickets": []}
        r = api.post("/api/v1/counters/c28/reactivate-number", json={"number": t["number"]}, headers=clerk)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "window_passed"), r.text
        assert api.get(f"/api/v1/tickets/{t['id']}").json()["state"] == "no_show"
