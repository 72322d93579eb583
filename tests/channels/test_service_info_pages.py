"""Service information on /join, /book and the citizen's page /t/, and a suspension on every channel (issue 19).

The real app served by uvicorn (a real HTTP server, in this process so the
test can apply a catalogue through ``Centre.apply_catalogue`` as a sync does),
pages in a 360-pixel Chromium, USSD and SMS through the running channels hub.
The suspension is the engine's (``set_offering``, what the manager's route and
the CLI run): issue is refused, those waiting are told by SMS, the citizen's
page says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from centre_server.channels import ChannelsExtension
from centre_server.channels.core import ChannelHub
from centre_server.channels.ussd import respond
from centre_server.contract.catalogue import OfferingStatus, Text
from centre_server.runtime.centre import Centre
from tests.channels.conftest import longest_catalogue
from tests.conftest import free_port, wait_until

PHONE_360 = {"viewport": {"width": 360, "height": 780}, "device_scale_factor": 2, "is_mobile": True,
             "has_touch": True}
REASON = Text(en="The KRA system (iTax) is down across the country; the agency expects it back this afternoon.",
              sw="Mfumo wa KRA (iTax) haufanyi kazi nchini kote; idara inatarajia urudi mchana huu.")


@dataclass
class Served:
    url: str
    app: Any
    centre: Centre
    hub: ChannelHub


@pytest.fixture
def served(centre_dir) -> Iterator[Served]:
    import uvicorn

    from centre_server.http.app import create_app

    app = create_app(centre_dir.path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "uvicorn serving the centre")
    hub = app.state.extensions[ChannelsExtension].running_hub()
    try:
        yield Served(f"http://127.0.0.1:{port}", app, app.state.centre, hub)
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def phone360(browser):
    ctx = browser.new_context(locale="en-GB", **PHONE_360)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    yield page
    ctx.close()


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px phone"


def outbox(hub: ChannelHub, phone: str, kind: str | None = None) -> list[str]:
    sql = "SELECT text FROM sms_outbox WHERE phone=?" + (" AND kind=?" if kind else "") + " ORDER BY id"
    return [r[0] for r in hub.db.execute(sql, [phone] + ([kind] if kind else []))]


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_join_and_book_show_what_to_bring_at_360_px_with_the_longest_texts(served, phone360, shot, lang):
    page = phone360
    words = {"en": ("What you need", "Bring", "Fee"), "sw": ("Unachohitaji", "Leta", "Ada")}[lang]
    page.goto(f"{served.url}/join?service=passport&lang={lang}")
    assert page.locator("#info-title").inner_text() == words[0]
    assert page.locator("#service-info h3").first.inner_text() == words[1]
    fits(page)
    shot(page, f"info-join-{lang}")
    assert served.centre.apply_catalogue(longest_catalogue(served.centre.catalogue))  # as a sync applies it
    page.goto(f"{served.url}/join?service=passport&lang={lang}")
    assert page.locator("#info-documents li").count() == 8
    assert page.locator("#info-fee").inner_text().startswith("KSh 1,000,000")
    for part in ("#info-payer", "#info-waivers", "#info-eligibility", "#info-in-person", "#join-button"):
        assert page.locator(part).is_visible(), part
    fits(page)
    shot(page, f"info-join-long-{lang}")
    page.goto(f"{served.url}/book?service=passport&lang={lang}")
    assert page.locator("#info-documents li").count() == 8 and page.locator("#book-form").is_visible()
    fits(page)
    shot(page, f"info-book-long-{lang}")


def test_a_suspended_service_says_why_on_every_channel_and_tells_those_waiting(served, phone360, shot):
    from centre_server.catalogue.offerings import set_offering

    u, hub = served.url, served.hub
    waiting_phone = "+254711000401"
    r = httpx.post(u + "/join", data={"service_id": "kra-pin", "phone": waiting_phone, "lang": "sw"})
    assert r.status_code == 303, r.text
    tid = r.headers["location"].split("/join/")[1].split("?")[0]
    hub.check_in(code=hub.code_of(tid))  # at the centre, waiting

    # the citizen follows the ticket on the phone while the service is suspended (the page's clock is the
    # test's: its next look at the service comes when the test moves the clock, not after real seconds)
    page = phone360
    page.clock.install()
    page.goto(f"{u}/t/{tid}?lang=sw")
    page.wait_for_function("document.getElementById('ticket-updated').textContent !== ''")
    assert page.locator("#ticket-suspended").is_hidden()

    set_offering(served.centre, "kra-pin", OfferingStatus.suspended, REASON, by="manager")
    page.clock.run_for(25_000)  # the page's next look at its service
    notice = page.locator("#ticket-suspended")
    notice.wait_for(state="visible")
    assert "Huduma hii imesitishwa sasa" in notice.inner_text() and "Mfumo wa KRA" in notice.inner_text()

    # those waiting hear it by SMS, once, in their language
    told = wait_until(lambda: outbox(hub, waiting_phone, "suspended"), 10, "the suspension SMS")
    assert len(told) == 1 and "Mfumo wa KRA (iTax)" in told[0] and len(told[0]) <= 2 * 153
    # the citizen's page says so, in both languages (and on a page opened afresh)
    assert page.locator("#info-title").inner_text() == "Unachohitaji"
    fits(page)
    shot(page, "info-ticket-suspended-sw")
    page.goto(f"{u}/t/{tid}?lang=en")
    notice.wait_for(state="visible")
    assert "This service is suspended now" in notice.inner_text() and "iTax" in notice.inner_text()
    fits(page)
    shot(page, "info-ticket-suspended-en")

    # /join lists it as suspended with the reason, and its page takes no ticket
    page.goto(f"{u}/join?lang=en")
    assert page.locator("#service_id option[value='kra-pin']").is_disabled()
    assert "iTax" in page.locator("#suspended-list li[data-service='kra-pin']").inner_text()
    fits(page)
    shot(page, "info-join-suspended-list-en")
    for lang, title in (("en", "Suspended now"), ("sw", "Imesitishwa sasa")):
        page.goto(f"{u}/join?service=kra-pin&lang={lang}")
        assert title in page.locator("#suspended-notice").inner_text()
        assert page.locator("#join-form").count() == 0
        fits(page)
        shot(page, f"info-join-suspended-{lang}")
    r = httpx.post(u + "/join", data={"service_id": "kra-pin", "phone": "+254711000402", "lang": "sw"})
    assert r.status_code == 409 and "imesitishwa katika kituo hiki sasa" in r.text and "Mfumo wa KRA" in r.text
    r = httpx.get(u + "/book?service=kra-pin&lang=en")
    assert "iTax" in r.text and 'id="book-form"' not in r.text

    # USSD: the service's screen says why and offers no ticket; taking it anyway is refused with the reason
    for key, on_screen, refused in (("1", "SUSPENDED NOW: The KRA system", "suspended at this centre now"),
                                    ("2", "IMESITISHWA SASA: Mfumo wa KRA", "imesitishwa katika kituo hiki")):
        path = [key, "1"]
        cats = respond(hub, "u1", "+254711000403", "*".join(path))
        cat = next(ln.split(".")[0] for ln in cats.splitlines() if ln.startswith("3."))  # tax and business
        services = respond(hub, "u1", "+254711000403", "*".join(path + [cat]))
        n = next(ln.split(".")[0] for ln in services.splitlines() if "KRA PIN" in ln or "PIN ya KRA" in ln)
        confirm = respond(hub, "u1", "+254711000403", "*".join(path + [cat, n]))
        assert len(confirm) <= 182 and on_screen in confirm and "1. " not in confirm, confirm
        taken = respond(hub, "u1", "+254711000403", "*".join(path + [cat, n, "1"]))
        assert len(taken) <= 182 and taken.startswith("END ") and refused in taken, taken
    # SMS: the letter is refused with the reason; INFO says it is suspended
    prefix = served.centre.state.services["kra-pin"].prefix
    assert hub.inbound_sms("+254711000404", prefix) == "service_suspended"
    assert "iTax" in outbox(hub, "+254711000404")[-1]
    assert hub.inbound_sms("+254711000405", f"INFO {prefix}") == "info_sent"
    assert "SUSPENDED NOW: The KRA system" in " ".join(outbox(hub, "+254711000405"))

    # resumed: the page takes tickets again, and the citizen's page drops the notice
    set_offering(served.centre, "kra-pin", OfferingStatus.offered, by="manager")
    page.goto(f"{u}/join?service=kra-pin&lang=en")
    assert page.locator("#join-form").is_visible() and page.locator("#suspended-notice").count() == 0
    page.goto(f"{u}/t/{tid}?lang=en")
    page.wait_for_function("document.getElementById('ticket-updated').textContent !== ''")
    page.wait_for_load_state("networkidle")
    assert page.locator("#ticket-suspended").is_hidden()
    assert len(outbox(hub, waiting_phone, "suspended")) == 1


def test_a_service_not_offered_here_is_listed_nowhere(served):
    from centre_server.catalogue.offerings import set_offering

    u, hub = served.url, served.hub
    prefix = served.centre.state.services["posta"].prefix
    assert 'value="posta"' in httpx.get(u + "/join").text
    set_offering(served.centre, "posta", OfferingStatus.not_offered, by="manager")
    assert 'value="posta"' not in httpx.get(u + "/join").text
    assert 'value="posta"' not in httpx.get(u + "/book").text
    assert httpx.get(u + "/join?service=posta").status_code == 404
    assert httpx.get(u + "/book?service=posta").status_code == 404
    r = httpx.post(u + "/join", data={"service_id": "posta", "phone": "+254711000501"})
    assert r.status_code in (404, 409) and "Choose a service" in r.text
    assert hub.inbound_sms("+254711000502", f"INFO {prefix}") == "info_unknown"
    for menu in ("1", "4"):  # take a ticket, service information: the category's services lack it
        path, cats = f"1*{menu}", respond(hub, "np", "+254711000503", f"1*{menu}")
        while "County" not in cats:
            path += "*98"
            cats = respond(hub, "np", "+254711000503", path)
        n = next(ln.split(".")[0] for ln in cats.splitlines() if "County" in ln)
        svc_path = f"{path}*{n}"
        listing = respond(hub, "np", "+254711000503", svc_path)
        assert "Choose a service:" in listing and "Posta" not in listing, listing
        while "\n98. " in listing:
            svc_path += "*98"
            listing = respond(hub, "np", "+254711000503", svc_path)
            assert "Posta" not in listing, listing
