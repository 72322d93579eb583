"""The citizen's page of a three-service visit, left open on a phone from the moment the ticket is taken:
after each service is done it says, without a reload, what comes next and where, in the citizen's
language; the hall state says the same. A real ``huduma-centre serve`` process and Debian's Chromium."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.web.conftest import issue

PLAN = ["id-card-new", "kra-pin", "sha-registration"]  # the demo menu: KRA after a new ID, SHA after KRA


def test_the_open_page_follows_each_step_of_a_visit(web_server, context_factory, shots):
    centre = web_server.centre
    kiosk = centre.bundle("kiosk-1")["token"]
    # one member of staff holds one counter: the clerk at 1, the manager at 12
    staff = {"c01": web_server.client(web_server.login("clerk")), "c12": web_server.client(web_server.login("manager"))}
    for cid, services in (("c01", ["id-card-new"]), ("c12", ["kra-pin"])):
        r = staff[cid].post(f"/api/v1/counters/{cid}/open", json={"services": services})
        assert r.status_code == 200, r.text
    citizen = issue(web_server, kiosk, PLAN[0], then=PLAN[1:], language="sw")
    assert [s["service_id"] for s in citizen["visit"]] == PLAN

    phone = context_factory(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(web_server.url + f"/t/{citizen['id']}?lang=sw")
    line = phone.locator("#ticket-visit-next")
    # waiting for the first service: what follows it, and where
    expect(line).to_contain_text("Inayofuata: Usajili wa PIN ya KRA, kaunta 12.")
    # SHA has no counter open today: no figure for the whole visit is invented, and the page says why
    assert citizen["visit_wait_s"] is None
    expect(line).to_contain_text("Muda wa ziara nzima: haujulikani bado (si kila huduma ina kaunta wazi sasa).")
    assert "takriban" not in line.inner_text()

    def done_at(counter_id: str) -> None:
        called = staff[counter_id].post(f"/api/v1/counters/{counter_id}/call-next")
        assert called.status_code == 200 and called.json()["id"] == citizen["id"], called.text
        assert staff[counter_id].post(f"/api/v1/counters/{counter_id}/complete").status_code == 200

    done_at("c01")
    # the page, never reloaded, follows the ticket: the KRA PIN now, at counter 12, the same number
    expect(line).to_contain_text("Sasa subiri Usajili wa PIN ya KRA, kaunta 12. Namba yako inabaki ileile.",
                                 timeout=20_000)
    expect(phone.locator("#ticket-number")).to_have_text(citizen["number"])
    expect(phone.locator("#ticket-visit .step-done")).to_have_count(1)
    phone.locator("#ticket-visit").scroll_into_view_if_needed()
    shots(phone, "web-citizen-visit-live-step2-sw")
    hall = httpx.get(web_server.url + "/api/v1/hall", timeout=10).json()
    assert [(n["number"], n["service_id"], n["counters"]) for n in hall["next_steps"]] == [
        (citizen["number"], "kra-pin", ["12"])]

    done_at("c12")
    # SHA: no counter open for it now, so the page names the counters that serve it (17 and 18 in the demo)
    expect(line).to_contain_text("Sasa subiri Usajili wa bima ya afya ya SHA, kaunta 17, 18.", timeout=20_000)
    expect(phone.locator("#ticket-visit .step-done")).to_have_count(2)
    hall = httpx.get(web_server.url + "/api/v1/hall", timeout=10).json()
    assert [(n["number"], n["service_id"]) for n in hall["next_steps"]] == [(citizen["number"], "sha-registration")]
    phone.locator("#ticket-visit").scroll_into_view_if_needed()
    shots(phone, "web-citizen-visit-live-step3-sw")
    box = line.bounding_box()
    assert box and box["x"] + box["width"] <= 390  # fits a phone's width
    for cid in ("c01", "c12"):
        staff[cid].post(f"/api/v1/counters/{cid}/close")
