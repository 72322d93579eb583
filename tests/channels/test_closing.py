"""Issue 15 on every citizen channel: a wait is never invented, and a closed centre issues nothing.

Each test drives the real server (``serve_channels``) and reads what a citizen reads: the /join
and /book pages (Playwright, screenshots in ``tests/artifacts/channels/``), USSD screens, and the
SMS the fake aggregator received, in English and in Kiswahili.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from centre_server.channels.i18n import tr
from centre_server.contract import clock_words
from tests.channels.conftest import clerk, serve_channels, ussd_ok
from tests.channels.test_pages import PHONE, no_horizontal_scroll
from tests.conftest import closing_ahead

TZ = ZoneInfo("Africa/Nairobi")  # the demo centre's
ALL_DAYS = 'weekdays = "mon,tue,wed,thu,fri,sat,sun"\n'  # bookings on any day the centre opens

# what the citizen must read, spelt out here rather than taken from the code under test
EN_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SW_DAYS = ["Jumatatu", "Jumanne", "Jumatano", "Alhamisi", "Ijumaa", "Jumamosi", "Jumapili"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
SW_MONTHS = ["Januari", "Februari", "Machi", "Aprili", "Mei", "Juni", "Julai", "Agosti", "Septemba", "Oktoba",
             "Novemba", "Desemba"]


def day_text(lang: str, d: date) -> str:
    if lang == "sw":
        return f"{SW_DAYS[d.weekday()]} {d.day} {SW_MONTHS[d.month - 1]}"
    return f"{EN_DAYS[d.weekday()]} {d.day} {EN_MONTHS[d.month - 1]}"


def closed_text(lang: str, opens: datetime) -> str:
    if lang == "sw":
        return (f"Kituo kimefungwa. Kitafunguliwa tena {day_text('sw', opens.date())} "
                f"{clock_words(opens.hour, opens.minute, 'sw')}.")
    return f"The centre is closed. It opens again on {day_text('en', opens.date())} at {opens:%H:%M}."


def today() -> date:
    return datetime.now(TZ).date()


def opens_at(server) -> datetime:
    """When the server itself says the centre opens next (GET /api/v1/day)."""
    day = httpx.get(server.url + "/api/v1/day").json()
    assert day["open"] is False, day
    return datetime.fromisoformat(day["opens_at"]).astimezone(TZ)


def remote_tickets_today(server) -> dict:
    return server.client(server.login("manager")).get("/api/v1/channels/status").json()["remote_tickets_today"]


def ussd_path_to(server, phone: str, lang: str, category: str, service: str) -> list[str]:
    """The answers that reach ``service``'s screen (paging with 98 where needed)."""
    session = uuid.uuid4().hex
    answers = [lang, "1"]
    for label in (category, service):
        while True:
            screen = ussd_ok(server.ussd(session, phone, "*".join(answers)))
            line = next((ln for ln in screen.splitlines() if label in ln and ". " in ln), None)
            if line is not None:
                answers.append(line.split(". ", 1)[0].removeprefix("CON ").strip())
                break
            assert "98. " in screen, f"{label!r} not found:\n{screen}"
            answers.append("98")
    return answers


def ussd_screen(server, phone: str, answers: list[str], session: str | None = None) -> str:
    return ussd_ok(server.ussd(session or uuid.uuid4().hex, phone, "*".join(answers)))


@pytest.fixture
def phone_page(browser):
    ctx = browser.new_context(locale="en-GB", **PHONE)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    yield page
    ctx.close()


# ---------------------------------------------------------------- no counter: no number


def test_no_counter_open_is_said_on_every_channel_never_a_number(channel_server, phone_page, shot, new_phone):
    """Posta and Kenya Power have no open counter: /join, the joined page, the SMS and USSD say so, in both
    languages."""
    services = {s["id"]: s for s in httpx.get(channel_server.url + "/api/v1/services").json()}
    for sid in ("posta", "kplc"):
        assert services[sid]["estimated_wait_s"] is None and services[sid]["wait_unknown"] == "no_counter"

    for lang, said in (("en", "no counter open now"), ("sw", "hakuna kaunta wazi sasa")):
        page = httpx.get(f"{channel_server.url}/join?lang={lang}").text
        option = re.search(r'<option value="posta"[^>]*>([^<]*)</option>', page).group(1)
        assert said in option and "min" not in option and "dak" not in option, option

    page = phone_page
    for lang, long in (("en", "No counter is serving this service right now."),
                       ("sw", "Hakuna kaunta inayohudumia huduma hii sasa.")):
        phone = new_phone()
        page.goto(f"{channel_server.url}/join?lang={lang}")
        page.select_option("#service_id", "posta")
        page.click("#next-button")  # what to bring, then the phone
        page.fill("#phone", phone)
        page.click("#join-button")
        page.wait_for_url(re.compile(r"/join/[\w-]+"))
        assert page.locator("#ticket-wait").inner_text() == long
        no_horizontal_scroll(page)
        shot(page, f"joined-no-counter-{lang}")
        number = page.locator("#ticket-number").inner_text()
        sms = channel_server.aggregator.wait_for(phone, number)
        wanted = "no counter open now" if lang == "en" else "hakuna kaunta wazi sasa"
        assert wanted in sms and "~" not in sms, sms

    # USSD in Kiswahili: the service's screen, the ticket, and "my ticket"
    phone = new_phone()
    answers = ussd_path_to(channel_server, phone, "2", "Kaunti na huduma", "Huduma za Posta")
    confirm = ussd_screen(channel_server, phone, answers)
    assert "hakuna kaunta wazi sasa" in confirm and "dak" not in confirm, confirm
    issued = ussd_screen(channel_server, phone, answers + ["1"])
    assert issued.startswith("END Tiketi PO") and "hakuna kaunta wazi sasa" in issued, issued
    status = ussd_screen(channel_server, phone, ["2", "2"])
    assert "hakuna kaunta wazi sasa" in status and "dak" not in status, status
    # and in English (another service: Posta's remote tickets for this hour are taken by now)
    phone = new_phone()
    answers = ussd_path_to(channel_server, phone, "1", "County and utilities", "Kenya Power")
    issued = ussd_screen(channel_server, phone, answers + ["1"])
    assert "no counter open now" in issued and " min" not in issued, issued
    sms = channel_server.aggregator.wait_for(phone, issued.split()[2].rstrip("."))
    assert "no counter open now" in sms


def test_a_known_wait_is_still_shown_in_minutes(channel_server, new_phone):
    """With a counter open the estimate is there, and every channel shows the same minutes."""
    c = clerk(channel_server)
    assert c.post("/api/v1/counters/c09/open", json={"services": ["helb"]}).status_code == 200
    try:
        est = {s["id"]: s for s in httpx.get(channel_server.url + "/api/v1/services").json()}["helb"]
        assert est["estimated_wait_s"] is not None, est
        m = max(1, round(est["estimated_wait_s"] / 60))
        page = httpx.get(f"{channel_server.url}/join?lang=sw").text
        option = re.search(r'<option value="helb"[^>]*>([^<]*)</option>', page).group(1)
        assert option.endswith(tr("waiting_now", "sw", n=est["waiting"], m=m)), option
        phone = new_phone()
        r = httpx.post(channel_server.url + "/join", data={"service_id": "helb", "phone": phone,
                                                            "nonce": uuid.uuid4().hex, "lang": "en"},
                       follow_redirects=True)
        shown = re.search(r'<dd id="ticket-wait" class="">([^<]*)</dd>', r.text).group(1)
        assert re.fullmatch(r"~\d+ min", shown), shown
        assert re.search(r"ahead, ~\d+ min\.", channel_server.aggregator.wait_for(phone, "Huduma: ticket L"))
    finally:
        c.post("/api/v1/counters/c09/close")


# ---------------------------------------------------------------- closed by the clock


@pytest.fixture(scope="module")
def closed_today(tmp_path_factory):
    """A centre that does not open today (today's weekday is not among its open days): past closing
    all day, whatever the hour the test runs at. It opens tomorrow at 07:30."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    days.remove(days[today().weekday()])
    day = {"opening_time": '"07:30"', "open_days": "[" + ", ".join(f'"{d}"' for d in days) + "]"}
    with serve_channels(tmp_path_factory.mktemp("closed-today"), day=day, extra=ALL_DAYS) as server:
        yield server


def test_join_after_closing_issues_nothing_and_says_when_it_opens(closed_today, phone_page, shot, new_phone):
    opens = opens_at(closed_today)
    assert opens.date() == today() + timedelta(days=1) and f"{opens:%H:%M}" == "07:30"
    page = phone_page
    for lang in ("en", "sw"):
        page.goto(f"{closed_today.url}/join?lang={lang}")
        assert page.locator("#closed").inner_text() == closed_text(lang, opens)
        assert page.locator("#join-form").count() == 0  # nothing to take
        no_horizontal_scroll(page)
        shot(page, f"join-closed-{lang}")
    # a form posted anyway (an old tab, a script) is refused the same way, and issues nothing
    phone = new_phone()
    for lang in ("en", "sw"):
        r = httpx.post(closed_today.url + "/join", data={"service_id": "kra-returns", "phone": phone,
                                                          "nonce": uuid.uuid4().hex, "lang": lang})
        assert r.status_code == 409 and closed_text(lang, opens) in r.text
    # the kiosk's API says the same
    r = closed_today.kiosk().post("/api/v1/tickets", json={"service_id": "kra-returns"},
                                  headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 409 and r.json()["error"]["code"] == "day_closed"
    assert remote_tickets_today(closed_today) == {}
    assert closed_today.aggregator.messages_to(phone) == []


def test_ussd_after_closing_takes_no_ticket_and_says_when_it_opens(closed_today, new_phone):
    opens = opens_at(closed_today)
    phone = new_phone()
    assert ussd_screen(closed_today, phone, ["1", "1"]) == "END " + closed_text("en", opens)
    assert ussd_screen(closed_today, phone, ["2", "1"]) == "END " + closed_text("sw", opens)
    # a longer path typed ahead (or a session the close overtook) hears the same: closed, and when it opens
    assert ussd_screen(closed_today, phone, ["1", "1", "3", "2", "1"]) == "END " + closed_text("en", opens)
    assert remote_tickets_today(closed_today) == {}


def test_sms_after_closing_answers_when_it_opens(closed_today, new_phone):
    opens = opens_at(closed_today)
    url = closed_today.url + "/sms/inbound"
    for text, lang in (("KR SW", "sw"), ("KR", "en")):
        phone = new_phone()
        assert httpx.post(url, data={"from": phone, "text": text}).text == "day_closed"
        sms = closed_today.aggregator.wait_for(phone, "Huduma:")
        assert sms == "Huduma: " + closed_text(lang, opens)
    assert remote_tickets_today(closed_today) == {}


def test_book_offers_no_slot_on_a_closed_day_or_in_the_past(closed_today, phone_page, shot, new_phone):
    page = phone_page
    page.goto(f"{closed_today.url}/book?service=kra-returns&lang=sw")
    chips = [re.search(r"day=([\d-]+)", h).group(1)
             for h in page.locator("a.day-chip").evaluate_all("els => els.map(e => e.getAttribute('href'))")]
    assert chips and today().isoformat() not in chips and min(chips) > today().isoformat(), chips
    no_horizontal_scroll(page)
    shot(page, "book-closed-today-sw")
    # a slot of today (the centre is shut) or of yesterday, posted by hand, is refused
    for d in (today(), today() - timedelta(days=1)):
        at = int(datetime(d.year, d.month, d.day, 10, 0, tzinfo=TZ).timestamp())
        r = httpx.post(closed_today.url + "/book", data={"service_id": "kra-returns", "slot": str(at),
                                                          "phone": new_phone(), "lang": "en"})
        assert r.status_code == 422 and "Choose a free time" in r.text


# ---------------------------------------------------------------- closed by the manager


@pytest.fixture(scope="module")
def closed_by_manager(tmp_path_factory):
    with serve_channels(tmp_path_factory.mktemp("manager-closed"), extra=ALL_DAYS) as server:
        r = httpx.post(server.url + "/join", data={"service_id": "posta", "phone": "0712000001",
                                                    "nonce": uuid.uuid4().hex, "lang": "en"})
        assert r.status_code == 303, r.text
        server.joined_before_close = r.headers["location"].split("?")[0]  # a ticket the close will cancel
        r = server.client(server.login("manager")).post("/api/v1/day/close")
        assert r.status_code == 200, r.text
        yield server


def test_a_managers_close_stops_join_ussd_and_sms(closed_by_manager, new_phone):
    server = closed_by_manager
    opens = opens_at(server)
    assert opens.date() == today() + timedelta(days=1) and f"{opens:%H:%M}" == "08:00"
    phone = new_phone()
    for lang in ("en", "sw"):
        assert closed_text(lang, opens) in httpx.get(f"{server.url}/join?lang={lang}").text
        r = httpx.post(server.url + "/join", data={"service_id": "kra-returns", "phone": phone,
                                                    "nonce": uuid.uuid4().hex, "lang": lang})
        assert r.status_code == 409 and closed_text(lang, opens) in r.text
    assert ussd_screen(server, phone, ["1", "1"]) == "END " + closed_text("en", opens)
    assert ussd_screen(server, phone, ["2", "1"]) == "END " + closed_text("sw", opens)
    assert httpx.post(server.url + "/sms/inbound", data={"from": phone, "text": "KR SW"}).text == "day_closed"
    assert server.aggregator.wait_for(phone, "Huduma:") == "Huduma: " + closed_text("sw", opens)
    assert remote_tickets_today(server) == {"web": 1}  # the one taken before the close, nothing since
    # that ticket's page says it was cancelled with the day, not a wait
    for lang, state in (("en", "Cancelled"), ("sw", "Imeghairiwa")):
        page = httpx.get(f"{server.url}{server.joined_before_close}?lang={lang}").text
        assert re.search(r'<dd id="ticket-wait"[^>]*>([^<]*)</dd>', page).group(1) == state
    # booking stays open, from tomorrow
    chips = re.findall(r"day=([\d-]+)&amp;lang", httpx.get(f"{server.url}/book?service=kra-returns").text)
    assert chips and min(chips) > today().isoformat()


# ---------------------------------------------------------------- too late for today: book instead


@pytest.fixture(scope="module")
def too_late(tmp_path_factory):
    """Open, but every newcomer would be called after the last call (00:00: already past): a service with
    a counter open refuses tickets with after_last_call and offers tomorrow."""
    with serve_channels(tmp_path_factory.mktemp("too-late"), day={"last_call_time": '"00:00"'},
                        extra=ALL_DAYS) as server:
        c = clerk(server)
        assert c.post("/api/v1/counters/c07/open", json={"services": ["kra-returns"]}).status_code == 200
        yield server


def test_join_too_late_today_offers_a_booking_for_the_next_open_day(too_late, phone_page, shot, new_phone):
    server = too_late
    svc = {s["id"]: s for s in httpx.get(server.url + "/api/v1/services").json()}["kra-returns"]
    assert svc["accepting"] is False and svc["refusal"] == "after_last_call"
    tomorrow = today() + timedelta(days=1)
    page = phone_page
    for lang, name, label in (("en", "KRA tax returns (iTax)", "no more tickets today: book"),
                              ("sw", "Kuwasilisha ritani za kodi (iTax)", "tiketi zimekwisha leo: weka miadi")):
        page.goto(f"{server.url}/join?lang={lang}")
        option = page.locator('#service_id option[value="kra-returns"]')
        assert option.is_disabled() and label in option.text_content()
        link = page.locator('#book-next a[data-service="kra-returns"]')
        assert day_text(lang, tomorrow) in link.inner_text() and name in link.inner_text()
        assert link.get_attribute("href") == f"/book?service=kra-returns&day={tomorrow.isoformat()}&lang={lang}"
        no_horizontal_scroll(page)
        shot(page, f"join-book-instead-{lang}", full_page=False)
        link.click()
        page.wait_for_url(re.compile(r"/book\?"))
        assert name in page.locator("#chosen-service").inner_text()
        assert page.locator("a.day-chip.active").get_attribute("href").count(f"day={tomorrow.isoformat()}") == 1
        assert page.locator(".slot input:not([disabled])").count() > 0
        shot(page, f"book-prefilled-{lang}")
    # posted anyway: refused with the day to book and the link
    r = httpx.post(server.url + "/join", data={"service_id": "kra-returns", "phone": new_phone(),
                                                "nonce": uuid.uuid4().hex, "lang": "sw"})
    assert r.status_code == 409
    assert f"Weka miadi ya {day_text('sw', tomorrow)} badala yake" in r.text
    assert f'href="/book?service=kra-returns&amp;day={tomorrow.isoformat()}&amp;lang=sw"' in r.text
    assert remote_tickets_today(server) == {}


def test_ussd_too_late_today_books_a_visit_instead(too_late, new_phone):
    server = too_late
    tomorrow = today() + timedelta(days=1)
    for lang, cat, name, words in (("1", "Tax and business", "KRA tax returns", ("No more tickets today",
                                                                                "1. Book a visit for", "Booked:")),
                                   ("2", "Kodi na biashara", "Kuwasilisha ritani", ("Tiketi zimekwisha leo",
                                                                                    "1. Weka miadi ya", "Miadi:"))):
        phone = new_phone()
        answers = ussd_path_to(server, phone, lang, cat, name)
        confirm = ussd_screen(server, phone, answers)
        assert words[0] in confirm and words[1] in confirm, confirm
        assert day_text("en" if lang == "1" else "sw", tomorrow) in confirm
        session = uuid.uuid4().hex
        times = ussd_screen(server, phone, answers + ["1"], session)
        assert times.startswith("CON ") and re.search(r"\n1\. \d\d:\d\d", times), times
        first = re.search(r"\n1\. (\d\d:\d\d)", times).group(1)
        booked = ussd_screen(server, phone, answers + ["1", "1"], session)
        assert booked.startswith("END " + words[2]) and first in booked, booked
        code = re.search(r"(?:Code|Nambari) (\d+)\.", booked).group(1)
        assert code in server.aggregator.wait_for(phone, code)
        appts = clerk(server).get(f"/api/v1/appointments?day={tomorrow.isoformat()}").json()
        assert any(a["code"] == code and a["service_id"] == "kra-returns" for a in appts)
        # the aggregator retries the last answer: the same booking, not a second one
        assert ussd_screen(server, phone, answers + ["1", "1"], session) == booked
        assert len(clerk(server).get(f"/api/v1/appointments?day={tomorrow.isoformat()}").json()) == len(appts)
    assert remote_tickets_today(server) == {}


def test_sms_too_late_today_tells_how_to_book(too_late, new_phone):
    server = too_late
    tomorrow = today() + timedelta(days=1)
    url = server.url + "/sms/inbound"
    for text, lang, words in (("KR SW", "sw", "Huduma: tiketi za Kuwasilisha ritani za kodi (iTax) zimekwisha leo. "
                                              f"Weka miadi ya {day_text('sw', tomorrow)}: "),
                              ("kr", "en", "Huduma: no more tickets today for KRA tax returns (iTax). "
                                           f"Book a visit for {day_text('en', tomorrow)}: ")):
        phone = new_phone()
        assert httpx.post(url, data={"from": phone, "text": text}).text == "after_last_call"
        sms = server.aggregator.wait_for(phone, "Huduma:")
        assert sms.startswith(words), sms
        assert sms.endswith(f"/book?service=kra-returns&day={tomorrow.isoformat()}&lang={lang}"), sms
        assert len(sms) <= 306, (len(sms), sms)  # two SMS parts at most, even with a long service name
    assert remote_tickets_today(server) == {}


@pytest.fixture(scope="module")
def too_late_no_bookings(tmp_path_factory):
    """As ``too_late``, at a centre that takes no bookings: nothing to book, so it says which day to come."""
    with serve_channels(tmp_path_factory.mktemp("too-late-no-bookings"), day={"last_call_time": '"00:00"'},
                        extra=ALL_DAYS + "appointments_enabled = false\n") as server:
        assert clerk(server).post("/api/v1/counters/c07/open", json={"services": ["kra-returns"]}).status_code == 200
        yield server


def test_too_late_without_bookings_says_which_day_to_come(too_late_no_bookings, new_phone):
    server = too_late_no_bookings
    tomorrow = today() + timedelta(days=1)
    page = httpx.get(f"{server.url}/join?lang=sw").text
    option = re.search(r'<option value="kra-returns"[^>]*>([^<]*)</option>', page).group(0)
    assert "disabled" in option and "tiketi zimekwisha leo" in option and "weka miadi" not in option
    assert 'id="book-next"' not in page
    come = {"en": f"No more tickets today for this service: it could not be served before closing. "
                  f"Please come on {day_text('en', tomorrow)}.",
            "sw": f"Tiketi za huduma hii zimekwisha leo: isingeweza kuhudumiwa kabla ya kufunga. "
                  f"Tafadhali njoo {day_text('sw', tomorrow)}."}
    for text, lang in (("KR", "en"), ("KR SW", "sw")):
        phone = new_phone()
        assert httpx.post(server.url + "/sms/inbound", data={"from": phone, "text": text}).text == "after_last_call"
        assert server.aggregator.wait_for(phone, "Huduma:") == "Huduma: " + come[lang]
    phone = new_phone()
    answers = ussd_path_to(server, phone, "1", "Tax and business", "KRA tax returns")
    confirm = ussd_screen(server, phone, answers)
    assert "No more tickets today" in confirm and "1. " not in confirm.split("\n", 2)[-1], confirm
    assert ussd_screen(server, phone, answers + ["1"]) == "END " + come["en"]
    assert remote_tickets_today(server) == {}


# ---------------------------------------------------------------- near the close, nobody serving: no ticket


@pytest.fixture(scope="module")
def nobody_near_close(tmp_path_factory):
    """Closing in 30 minutes and no counter serves KRA tax returns (none open or on a break, no staffing
    plan): found at 11:34 (closing 11:40), tickets were issued that only the close would end."""
    _, closing = closing_ahead(30)  # 23:59 late in the evening: still within the hour before it
    with serve_channels(tmp_path_factory.mktemp("nobody-near-close"),
                        day={"closing_time": f'"{closing}"', "opening_time": '"00:00"'}, extra=ALL_DAYS) as server:
        yield server


def test_near_the_close_nobody_serving_refuses_on_every_channel_until_a_counter_opens(nobody_near_close,
                                                                                   new_phone):
    server = nobody_near_close
    tomorrow = today() + timedelta(days=1)
    svc = {s["id"]: s for s in httpx.get(server.url + "/api/v1/services").json()}["kra-returns"]
    assert svc["accepting"] is False and svc["refusal"] == "after_last_call" and svc["wait_unknown"] == "no_counter"
    # every channel says why: no counter serves it for the rest of today (not a bare "no more tickets")
    for lang, label in (("en", "no counter left today: book"), ("sw", "hakuna kaunta tena leo: weka miadi")):
        page = httpx.get(f"{server.url}/join?lang={lang}").text
        option = re.search(r'<option value="kra-returns"[^>]*>([^<]*)</option>', page).group(0)
        assert "disabled" in option and label in option, option
    for lang, said in (("en", "No counter serves this service for the rest of today: no more tickets today. "
                              f"Book a visit for {day_text('en', tomorrow)} instead."),
                       ("sw", "Hakuna kaunta itakayohudumia huduma hii tena leo: tiketi zimekwisha leo. "
                              f"Weka miadi ya {day_text('sw', tomorrow)} badala yake.")):
        r = httpx.post(server.url + "/join", data={"service_id": "kra-returns", "phone": new_phone(),
                                                    "nonce": uuid.uuid4().hex, "lang": lang})
        assert r.status_code == 409 and said in r.text, r.text
    for text, words in (("KR SW", "Huduma: hakuna kaunta itakayohudumia Kuwasilisha ritani za kodi (iTax) tena leo. "
                                  f"Weka miadi ya {day_text('sw', tomorrow)}: "),
                        ("kr", "Huduma: no counter serves KRA tax returns (iTax) for the rest of today. "
                               f"Book a visit for {day_text('en', tomorrow)}: ")):
        phone = new_phone()
        assert httpx.post(server.url + "/sms/inbound", data={"from": phone, "text": text}).text == "after_last_call"
        sms = server.aggregator.wait_for(phone, "Huduma:")
        assert sms.startswith(words) and len(sms) <= 306, sms
    for lang, cat, name, words in (("1", "Tax and business", "KRA tax returns", "No counter serves it for the rest"),
                                   ("2", "Kodi na biashara", "Kuwasilisha ritani", "Hakuna kaunta itakayoihudumia")):
        phone = new_phone()
        confirm = ussd_screen(server, phone, ussd_path_to(server, phone, lang, cat, name))
        assert words in confirm and day_text("en" if lang == "1" else "sw", tomorrow) in confirm, confirm
        assert len(confirm) <= 182, (len(confirm), confirm)
    assert remote_tickets_today(server) == {}
    # a clerk sits down for it: with nobody ahead, a newcomer is called well before the close
    assert clerk(server).post("/api/v1/counters/c07/open", json={"services": ["kra-returns"]}).status_code == 200
    svc = {s["id"]: s for s in httpx.get(server.url + "/api/v1/services").json()}["kra-returns"]
    assert svc["accepting"] is True and svc["estimated_wait_s"] is not None, svc
    phone = new_phone()
    assert httpx.post(server.url + "/sms/inbound", data={"from": phone, "text": "kr"}).text != "after_last_call"
    assert remote_tickets_today(server) != {}
