"""USSD sessions driven step by step through the real server's /ussd, in both languages, and hostile input."""

from __future__ import annotations

import uuid

import httpx

from tests.channels.conftest import ussd_ok


def walk(server, phone: str, answers: list[str]) -> list[str]:
    """Play a session as an aggregator does: each request carries every answer so far."""
    session = uuid.uuid4().hex
    screens = [ussd_ok(server.ussd(session, phone, ""))]
    for i in range(len(answers)):
        screens.append(ussd_ok(server.ussd(session, phone, "*".join(answers[: i + 1]))))
    return screens


def find_option(screen: str, label: str) -> str:
    """The number in front of the line containing ``label``."""
    for line in screen.splitlines():
        if label in line and ". " in line:
            return line.split(". ", 1)[0].strip().removeprefix("CON ")
    raise AssertionError(f"{label!r} not on screen:\n{screen}")


def test_english_session_takes_a_ticket_asks_its_position_and_cancels_it(channel_server, new_phone):
    phone = new_phone()
    s = walk(channel_server, phone, [])
    assert s[0].startswith("CON ") and "1. English" in s[0] and "2. Kiswahili" in s[0]
    answers = ["1"]
    main = walk(channel_server, phone, answers)[-1]
    assert "Take a ticket" in main and "My ticket" in main and "Cancel my ticket" in main
    answers.append("1")
    cats = walk(channel_server, phone, answers)[-1]
    assert cats.startswith("CON Choose a category") and "98. More" in cats
    answers.append("98")  # page two of the categories: Enquiries and help is there
    page2 = walk(channel_server, phone, answers)[-1]
    answers.append(find_option(page2, "Enquiries and help"))
    services = walk(channel_server, phone, answers)[-1]
    answers.append(find_option(services, "Enquiries and customer care"))
    confirm = walk(channel_server, phone, answers)[-1]
    assert "Enquiries and customer care" in confirm and "waiting" in confirm and "1. Take ticket" in confirm
    answers.append("1")
    screens = walk(channel_server, phone, answers)
    issued = screens[-1]
    assert issued.startswith("END Ticket Q")
    number = issued.split()[2].rstrip(".")
    code = issued.split("code ")[1].split(".")[0]
    assert len(code) == 6 and code.isdigit()
    # the SMS with the status link reached the aggregator
    sms = channel_server.aggregator.wait_for(phone, number)
    assert code in sms and "/t/" in sms

    status = walk(channel_server, phone, ["1", "2"])[-1]
    assert status.startswith("END ") and number in status and "ahead" in status and code in status

    ask = walk(channel_server, phone, ["1", "3"])[-1]
    assert ask.startswith("CON Cancel " + number) and "1. Yes, cancel" in ask
    kept = walk(channel_server, phone, ["1", "3", "2"])[-1]
    assert kept == f"END Ticket {number} is kept."
    done = walk(channel_server, phone, ["1", "3", "1"])[-1]
    assert done == f"END Ticket {number} is cancelled."
    assert walk(channel_server, phone, ["1", "2"])[-1] == "END You have no ticket waiting today."
    assert walk(channel_server, phone, ["1", "3"])[-1] == "END You have no ticket waiting today."


def test_kiswahili_session_and_the_same_session_replayed_takes_one_ticket(channel_server, new_phone):
    phone = new_phone()
    session = uuid.uuid4().hex
    path = ["2", "1"]
    screen = ussd_ok(channel_server.ussd(session, phone, "2"))
    assert "Chukua tiketi" in screen and "Tiketi yangu" in screen and "0. Rudi" in screen
    cats = ussd_ok(channel_server.ussd(session, phone, "*".join(path)))
    assert cats.startswith("CON Chagua kundi") and "98. Zaidi" in cats
    path.append(find_option(cats, "Usafiri"))
    svcs = ussd_ok(channel_server.ussd(session, phone, "*".join(path)))
    assert svcs.startswith("CON Chagua huduma")
    path.append(find_option(svcs, "Kufanya upya leseni"))
    confirm = ussd_ok(channel_server.ussd(session, phone, "*".join(path)))
    assert "subiri" in confirm and "1. Chukua tiketi" in confirm  # wanasubiri, anasubiri or anayesubiri
    assert "Kufanya upya leseni ya udereva\n" in confirm, confirm  # the whole name where it fits
    # the list cuts a long name; the confirmation names it whole ("Kitambulisho badala ya..." told nothing)
    ids = ussd_ok(channel_server.ussd(uuid.uuid4().hex, phone, "2*1*1"))
    lost = ussd_ok(channel_server.ussd(uuid.uuid4().hex, phone, "2*1*1*" + find_option(ids, "Kitambulisho badala")))
    assert "Kitambulisho badala ya kilichopotea\n" in lost and len(lost) <= 182, lost
    path.append("1")
    first = ussd_ok(channel_server.ussd(session, phone, "*".join(path)))
    again = ussd_ok(channel_server.ussd(session, phone, "*".join(path)))  # the aggregator retried
    # the licence's fee is paid on eCitizen when renewing: the ticket, and never "Pay now" for it (finding 2)
    assert first.startswith("END Tiketi DL") and "Thibitisha kufika kwenye kioski" in first and "Lipa sasa" not in first
    assert again == first
    sms = channel_server.aggregator.wait_for(phone, first.split()[2].rstrip("."))
    assert "tiketi" in sms and "mbele" in sms  # the SMS is in the session's language
    status = walk(channel_server, phone, ["2", "2"])[-1]
    assert "mbele" in status and first.split()[2].rstrip(".") in status


def test_every_screen_of_the_menus_fits_in_both_languages(channel_server, new_phone):
    """Every category page, every service page and every confirmation, walked without taking a ticket."""
    phone = new_phone()
    seen = 0
    for lang in ("1", "2"):
        more = "98"
        cat_pages = [[lang, "1"]]
        while more in walk_one(channel_server, phone, cat_pages[-1]):
            cat_pages.append(cat_pages[-1] + [more])
        for cat_path in cat_pages:
            cat_screen = walk_one(channel_server, phone, cat_path)
            for n in option_numbers(cat_screen):
                svc_path = cat_path + [n]
                while True:
                    svc_screen = walk_one(channel_server, phone, svc_path)
                    for m in option_numbers(svc_screen):
                        confirm = walk_one(channel_server, phone, svc_path + [m])
                        assert confirm.startswith("CON ") and ("1. Take ticket" in confirm or "1. Chukua" in confirm)
                        if m == "1":
                            back = walk_one(channel_server, phone, svc_path + [m, "0"])
                            assert back == svc_screen  # 0 goes back to the same page
                        seen += 1
                    if more not in svc_screen:
                        break
                    svc_path = svc_path + [more]
    assert seen == 2 * 39  # every service of the demo menu, in each language


def walk_one(server, phone: str, path: list[str]) -> str:
    return ussd_ok(server.ussd(uuid.uuid4().hex, phone, "*".join(path)))


def option_numbers(screen: str) -> list[str]:
    out = []
    for line in screen.splitlines()[1:]:
        head = line.split(". ", 1)[0]
        if head.isdigit() and head not in ("0", "98"):
            out.append(head)
    return out


def test_hostile_input_gets_a_clean_answer_never_a_500(channel_server, new_phone):
    url = channel_server.url + "/ussd"
    phone = new_phone()
    ok = {"sessionId": "s-" + uuid.uuid4().hex, "serviceCode": "*384*482#", "phoneNumber": phone}
    cases = [
        {**ok, "text": "1*" * 3000},  # huge
        {**ok, "text": "1*\u00e9\u4e2d*\U0001F600"},  # odd characters
        {**ok, "text": "1*'; DROP TABLE tickets;--"},
        {**ok, "text": "\x00\x01"},
        {**ok, "text": "1*1*1*1*1*1*1*1*1*1*1"},  # past the end of a session: nothing is taken
        {**ok, "text": "9*9*9*9"},  # choices that fit nothing
        {**ok, "text": "**1***"},
        {**ok, "sessionId": "", "text": "1"},
        {**ok, "sessionId": "x" * 500, "text": "1"},
        {**ok, "phoneNumber": "+15555550100", "text": "1"},
        {**ok, "phoneNumber": "", "text": ""},
        {"text": "1"},
        {},
    ]
    for form in cases:
        r = httpx.post(url, data=form, timeout=10)
        assert r.status_code < 500, (form, r.status_code, r.text)
        assert r.status_code in (200, 400), (form, r.text)
        assert r.text.startswith(("CON ", "END ")) and len(r.text) <= 182, (form, r.text)
        assert r.text.isascii()
    # nothing above took a ticket for that phone
    status = ussd_ok(channel_server.ussd("s-" + uuid.uuid4().hex, phone, "1*2"))
    assert status == "END You have no ticket waiting today."
    # not a form at all, a body far too big, the wrong method: clean 4xx
    r = httpx.post(url, content=b'{"sessionId": "1"}', headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code in (200, 400) and r.text.startswith("END ")
    r = httpx.post(url, content=b"text=" + b"1" * 100_000,
                   headers={"content-type": "application/x-www-form-urlencoded"},
                   timeout=10)
    assert r.status_code == 400 and r.text.startswith("END ")
    r = httpx.get(url, timeout=10)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
