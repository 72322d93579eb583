"""One-stop visits by SMS: when one service is done the citizen hears what comes next and where, with the
same number; the rating request waits for the visit's last service. Through the fake aggregator."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.channels.conftest import clerk
from tests.channels.test_pages import no_horizontal_scroll, phone_page  # noqa: F401  (phone_page: a fixture)


def test_a_visit_sms_says_what_comes_next_and_where(channel_server, new_phone):
    agg = channel_server.aggregator
    phone = new_phone()
    r = channel_server.kiosk().post("/api/v1/tickets", json={"service_id": "land-search", "phone": phone,
                                                             "then": ["land-rates"]},
                                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    ticket = r.json()
    number = ticket["number"]
    c = clerk(channel_server)  # one member of staff holds one counter: the manager takes the second
    m = channel_server.client(channel_server.login("manager"))
    assert c.post("/api/v1/counters/c25/open", json={"services": ["land-search"]}).status_code == 200
    assert m.post("/api/v1/counters/c26/open", json={"services": ["land-rates"]}).status_code == 200
    try:
        assert c.post("/api/v1/counters/c25/call-next").json()["id"] == ticket["id"]
        assert c.post("/api/v1/counters/c25/complete").status_code == 200
        text = agg.wait_for(phone, "Next: County land rates")
        assert text == f"Huduma: {number} done. Next: County land rates, Counter 26. 0 ahead of you; same number."
        assert len(text) <= 160
        time.sleep(1.0)  # the outbox would have sent a rating request by now: none, the visit goes on
        assert not [m for m in agg.messages_to(phone) if "reply 1 Poor" in m]
        assert m.post("/api/v1/counters/c26/call-next").json()["id"] == ticket["id"]
        agg.wait_for(phone, "Counter 26")
        assert m.post("/api/v1/counters/c26/complete").status_code == 200
        agg.wait_for(phone, "reply 1 Poor")  # the visit's last service done: now the rating request
    finally:
        c.post("/api/v1/counters/c25/close")
        m.post("/api/v1/counters/c26/close")


def test_join_offers_the_services_that_follow_and_takes_one_ticket_for_them(channel_server, new_phone):
    page = httpx.get(channel_server.url + "/join?service=land-search&lang=sw", timeout=10)
    assert page.status_code == 200 and 'id="visit-also"' in page.text
    assert 'value="land-rates"' in page.text and "Ada za ardhi za kaunti" in page.text
    assert "Pia leo, kwa tiketi ileile" in page.text
    phone = new_phone()
    form = {"service_id": "land-search", "phone": phone, "lang": "en", "nonce": uuid.uuid4().hex,
            "then": ["land-rates"]}
    r = httpx.post(channel_server.url + "/join", data=form, timeout=10)
    assert r.status_code == 303, r.text
    tid = r.headers["location"].split("/")[2].split("?")[0]
    ticket = httpx.get(f"{channel_server.url}/api/v1/tickets/{tid}", timeout=10).json()
    assert [(s["service_id"], s["state"]) for s in ticket["visit"]] == [("land-search", "now"), ("land-rates", "next")]
    # an order the menu does not offer is refused on the page, in the citizen's language, no ticket
    bad = {"service_id": "land-rates", "phone": new_phone(), "lang": "sw", "nonce": uuid.uuid4().hex,
           "then": ["land-search"]}
    r = httpx.post(channel_server.url + "/join", data=bad, timeout=10)
    assert r.status_code == 422 and "haziwezi kushiriki tiketi moja" in r.text
    c = clerk(channel_server)
    c.post(f"/api/v1/tickets/{tid}/cancel")


def test_ussd_adds_another_service_to_the_ticket(channel_server, new_phone):
    from tests.channels.test_ussd import find_option, walk

    phone = new_phone()
    answers = ["2", "1"]  # Kiswahili, take a ticket
    cats = walk(channel_server, phone, answers)[-1]
    if "Kaunti na huduma za umma" not in cats:
        answers.append("98")
        cats = walk(channel_server, phone, answers)[-1]
    answers.append(find_option(cats, "Kaunti na huduma za umma"))
    services = walk(channel_server, phone, answers)[-1]
    answers.append(find_option(services, "Upekuzi wa ardhi"))
    confirm = walk(channel_server, phone, answers)[-1]
    assert "3. Ongeza huduma nyingine" in confirm
    answers.append("3")
    also = walk(channel_server, phone, answers)[-1]
    assert also.startswith("CON Pia leo, tiketi ileile:") and "1. Ada za ardhi za kaunti" in also
    answers.append("1")
    confirm2 = walk(channel_server, phone, answers)[-1]
    assert "Upekuzi wa ardhi + Ada za ardhi za kaunti" in confirm2
    assert "3. Ongeza" not in confirm2  # nothing more follows land rates in the menu
    assert len(confirm2) <= 182
    answers.append("1")
    issued = walk(channel_server, phone, answers)[-1]
    # land search's fee is paid on Ardhisasa or eCitizen when applying (the catalogue's ``paid: online``): the
    # ticket at once, no "how will you pay?" question, and the visit stays whole
    assert issued.startswith("END Tiketi LS") and "Lipa" not in issued, issued
    number = issued.split()[2].rstrip(".")
    sms = channel_server.aggregator.wait_for(phone, number)
    assert "/t/" in sms
    tid = sms.split("/t/")[1].split()[0].rstrip(".")
    t = httpx.get(f"{channel_server.url}/api/v1/tickets/{tid}", timeout=10).json()
    assert t["number"] == number and [s["service_id"] for s in t["visit"]] == ["land-search", "land-rates"]


def test_join_page_with_a_visit_fits_a_phone(channel_server, phone_page, shot):  # noqa: F811
    page = phone_page
    page.goto(channel_server.url + "/join?service=id-card-new&lang=sw")
    group = page.locator("#visit-also")
    assert group.get_attribute("role") == "group"
    boxes = group.locator("input[name='then']")
    assert boxes.count() == 3  # KRA PIN, SHA, NSSF: the demo menu's services after a new ID
    assert "Usajili wa PIN ya KRA" in group.inner_text()
    no_horizontal_scroll(page)
    group.scroll_into_view_if_needed()
    shot(page, "join-visit-sw", full_page=False)
