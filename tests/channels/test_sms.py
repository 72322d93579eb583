"""SMS through a fake Africa's Talking on loopback: every step of a remote ticket, retries, replies that rate."""

from __future__ import annotations

import re
import sqlite3
import time

import httpx

from tests.channels.conftest import book_confirmed, clerk, free_slots, kiosk_ticket, whole_day


def join(server, service_id: str, phone: str, lang: str = "en") -> tuple[str, str]:
    """Take a remote ticket through the /join form, as a phone browser posts it; (ticket id, check-in code)."""
    r = httpx.post(server.url + "/join", data={"service_id": service_id, "phone": phone, "lang": lang,
                                               "nonce": f"n{time.monotonic_ns()}"}, timeout=10)
    assert r.status_code == 303, r.text
    tid = r.headers["location"].split("/")[2].split("?")[0]
    page = httpx.get(server.url + r.headers["location"], timeout=10)
    code = re.search(r'id="check-in-code">(\d{6})<', page.text).group(1)
    return tid, code


def test_a_remote_ticket_gets_an_sms_at_every_step_and_a_reply_rates_it(channel_server, new_phone):
    agg = channel_server.aggregator
    phone = new_phone()
    local = "0" + phone[4:]  # typed the way people write it: 07...
    tid, code = join(channel_server, "kra-pin", local)
    issued = agg.wait_for(phone, "Check-in code " + code)
    assert f"/t/{tid}" in issued and issued.startswith("Huduma: ticket K")
    sent = [m for m in agg.sent if m["to"] == phone][0]
    assert sent["username"] == "huduma-test"  # the Africa's Talking form: username, to, message

    ticket = httpx.get(f"{channel_server.url}/api/v1/tickets/{tid}").json()
    assert ticket["channel"] == "web" and ticket["state"] == "waiting"
    number = ticket["number"]

    # at the kiosk: check in by code
    r = channel_server.kiosk().post("/api/v1/check-in", json={"code": code})
    assert r.status_code == 200, r.text
    assert r.json()["tickets"][0]["id"] == tid and number in r.json()["message_en"]

    c = clerk(channel_server)
    assert c.post("/api/v1/counters/c05/open", json={"services": ["kra-pin"]}).status_code == 200
    called = c.post("/api/v1/counters/c05/call-next").json()
    assert called["id"] == tid
    assert agg.wait_for(phone, "Counter 5") == f"Huduma: {number}, please go to Counter 5 now."
    assert c.post("/api/v1/counters/c05/complete").status_code == 200
    ask = agg.wait_for(phone, "reply 1 Poor")
    assert f"/t/{tid}/feedback" in ask

    # the citizen replies "3 ..." by SMS: the ticket, its counter and clerk get the rating
    r = httpx.post(channel_server.url + "/sms/inbound", data={"from": phone, "to": "40482", "text": "3 quick, thanks",
                                                              "id": "abc", "date": "2026-11-22"})
    assert r.status_code == 200 and r.text == "rated_3"
    t = httpx.get(f"{channel_server.url}/api/v1/tickets/{tid}").json()
    assert t["rating"] == 3 and t["counter_id"] == "c05"
    agg.wait_for(phone, "thank you for rating " + number)
    c.post("/api/v1/counters/c05/close")


def test_inbound_sms_that_rates_nothing_is_answered_cleanly(channel_server, new_phone):
    url = channel_server.url + "/sms/inbound"
    phone = new_phone()
    assert httpx.post(url, data={"from": phone, "text": "4"}).text == "nothing_to_rate"
    channel_server.aggregator.wait_for(phone, "no served ticket")
    # an SMS nobody understood is answered with how to use the number, in Kiswahili when it is written so,
    # once a day a phone (an automatic reply from another machine never starts a loop)
    assert httpx.post(url, data={"from": phone, "text": "hello there"}).text == "not_a_rating"
    help_en = channel_server.aggregator.wait_for(phone, "to join a queue send a service's letter")
    assert "INFO " in help_en and "/join?lang=en" in help_en and len(help_en) <= 160, help_en
    assert httpx.post(url, data={"from": phone, "text": "hello again"}).text == "not_a_rating"
    other = new_phone()
    assert httpx.post(url, data={"from": other, "text": "Habari, naomba msaada"}).text == "not_a_rating"
    help_sw = channel_server.aggregator.wait_for(other, "kupanga foleni tuma herufi")
    assert "TAARIFA " in help_sw and len(help_sw) <= 160, help_sw
    time.sleep(1.0)  # the outbox would have sent a second help by now: none
    assert len([m for m in channel_server.aggregator.messages_to(phone) if "to join a queue" in m]) == 1
    assert httpx.post(url, data={"from": "not-a-phone", "text": "2"}).text == "bad_phone"
    assert httpx.post(url, data={"text": "2"}).status_code == 400
    r = httpx.post(url, content=b"x" * 50_000, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400


def test_n_ahead_message_and_a_remote_ticket_not_checked_in_is_passed_over(channel_server, new_phone):
    agg = channel_server.aggregator
    # counter 6 serves water bills alone today (counter 27, closed, would share them with KPLC's citizens)
    c = clerk(channel_server)
    assert c.post("/api/v1/counters/c06/open", json={"services": ["water-bill"]}).status_code == 200
    walkers = [new_phone() for _ in range(3)]
    for p in walkers:
        kiosk_ticket(channel_server, "water-bill", p)
    late = new_phone()
    tid, code = join(channel_server, "water-bill", late)  # 3 ahead: more than sms_notify_ahead = 2
    first = agg.wait_for(late, "3 ahead")
    assert code in first
    assert c.post("/api/v1/counters/c06/call-next").status_code == 200  # now 2 ahead
    near = agg.wait_for(late, "only 2 ahead")
    assert f"code {code}" in near  # not checked in yet: the message says to
    assert not [m for m in agg.messages_to(walkers[2]) if "only" in m]  # it was told at issue (2 ahead)
    for _ in range(2):  # each citizen called comes (started), then the next is called
        assert c.post("/api/v1/counters/c06/start").status_code == 200
        assert c.post("/api/v1/counters/c06/call-next").status_code == 200
    assert c.post("/api/v1/counters/c06/start").status_code == 200
    # the remote ticket reaches the front without checking in: passed over (kept in its place, told to check
    # in within the grace), not a no-show; nothing else waits
    r = c.post("/api/v1/counters/c06/call-next")
    assert r.status_code == 404 and r.json()["error"]["passed_over"] == 1
    t = httpx.get(f"{channel_server.url}/api/v1/tickets/{tid}").json()
    assert t["state"] == "waiting" and t["check_in_by"]
    agg.wait_for(late, f"your turn has come. Check in at the kiosk with code {code}")
    # arriving within the grace, checking in by phone: called next
    r = channel_server.kiosk().post("/api/v1/check-in", json={"phone": "0" + late[4:]})
    assert r.status_code == 200, r.text
    assert r.json()["tickets"][0]["state"] == "waiting"
    again = channel_server.kiosk().post("/api/v1/check-in", json={"phone": late})
    assert again.status_code == 200 and "already checked in" in again.json()["message_en"]
    called = c.post("/api/v1/counters/c06/call-next").json()
    assert called["id"] == tid
    agg.wait_for(late, "Counter 6")
    c.post("/api/v1/counters/c06/close")


def pending(server) -> int:
    db = sqlite3.connect(server.centre.path / "centre.db", timeout=10)
    try:
        return db.execute("SELECT COUNT(*) FROM sms_outbox WHERE sent_at IS NULL AND failed_at IS NULL").fetchone()[0]
    finally:
        db.close()


def test_a_failing_gateway_is_retried_and_never_blocks_tickets_or_other_messages(channel_server, new_phone):
    agg = channel_server.aggregator
    deadline = time.monotonic() + 20
    while pending(channel_server) and time.monotonic() < deadline:  # earlier tests' messages are out first
        time.sleep(0.1)
    blocked = new_phone()
    agg.blacklisted.add(blocked)
    phones = [new_phone() for _ in range(2)]
    agg.fail_for.update({phones[0]: 2, phones[1]: 1})  # their first requests get HTTP 500
    numbers = [kiosk_ticket(channel_server, "posta", p)["number"] for p in [blocked, *phones]]  # 201 each
    for p, n in zip(phones, numbers[1:]):
        agg.wait_for(p, n, timeout=20)
    assert agg.fail_for[phones[0]] == 0 and agg.fail_for[phones[1]] == 0
    assert not agg.messages_to(blocked)  # a permanent refusal is given up, not retried for ever
    def outbox() -> dict:
        db = sqlite3.connect(channel_server.centre.path / "centre.db", timeout=10)
        try:
            rows = db.execute("SELECT phone, attempts, sent_at, failed_at, last_error FROM sms_outbox WHERE phone IN "
                              "(?, ?, ?)", [blocked, *phones]).fetchall()
        finally:
            db.close()
        return {r[0]: r for r in rows}

    # the aggregator hears a message a moment before the server records it as sent: wait for both records
    deadline = time.monotonic() + 20
    while (outbox()[blocked][3] is None or any(outbox()[p][2] is None for p in phones)) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    by_phone = outbox()
    assert by_phone[blocked][3] is not None and "UserInBlacklist" in by_phone[blocked][4]
    assert all(by_phone[p][2] is not None for p in phones)
    db = sqlite3.connect(channel_server.centre.path / "centre.db", timeout=10)
    try:
        attempts = dict(db.execute("SELECT phone, SUM(attempts) FROM sms_outbox WHERE phone IN (?, ?) GROUP BY phone",
                                   phones).fetchall())
    finally:
        db.close()
    assert attempts[phones[0]] >= 3 and attempts[phones[1]] >= 2  # the HTTP 500s were retried
    r = clerk(channel_server).get("/api/v1/tickets/" + kiosk_ticket(channel_server, "posta")["id"])
    assert r.status_code == 200


def test_check_in_needs_a_kiosk_or_staff_token(channel_server):
    url = channel_server.url + "/api/v1/check-in"
    assert httpx.post(url, json={"code": "1234"}).status_code == 401
    display = channel_server.client(channel_server.centre.bundle("display-1")["token"])
    assert display.post("/api/v1/check-in", json={"code": "1234"}).status_code == 403
    k = channel_server.kiosk()
    r = k.post("/api/v1/check-in", json={"code": "0001"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_code"
    assert "message_sw" in r.json()["error"]
    assert k.post("/api/v1/check-in", json={"phone": "12345"}).status_code == 422
    assert k.post("/api/v1/check-in", json={}).status_code == 422
    assert k.post("/api/v1/check-in", json={"code": "1" * 100}).status_code == 422
    assert k.post("/api/v1/check-in", json={"code": "12ab"}).status_code == 422
    assert k.post("/api/v1/check-in", json={"code": None}).status_code == 422
    assert k.post("/api/v1/check-in", json={"code": "98765432"}).status_code == 404


def test_staff_see_the_sms_queue_and_the_days_appointments(channel_server, new_phone):
    u = channel_server.url
    told = new_phone()
    channel_server.aggregator.wait_for(told, kiosk_ticket(channel_server, "enquiries", told)["number"])
    manager = channel_server.client(channel_server.login("manager"))
    status = manager.get("/api/v1/channels/status").json()
    assert status["sms_gateway"] == "africastalking"
    assert status["sms"]["sent"] >= 1 and set(status["sms"]) == {"pending", "sent", "failed"}
    assert clerk(channel_server).get("/api/v1/channels/status").status_code == 403
    with channel_server.aggregator.lock:
        texts = [m["message"] for m in channel_server.aggregator.sent]
    assert texts and all(len(t) <= 160 for t in texts), max(texts, key=len)  # one SMS each
    day = whole_day(channel_server, "tsc")  # not today, where late in the afternoon a slot closes any minute
    slot = free_slots(channel_server, "tsc", day)[0]
    phone = new_phone()
    stranger = new_phone()  # a booking nobody confirmed is not listed to the clerks
    assert httpx.post(u + "/book", data={"service_id": "tsc", "slot": slot, "phone": stranger}).status_code == 303
    book_confirmed(channel_server, "tsc", slot, phone)
    listed = clerk(channel_server).get(f"/api/v1/appointments?day={day}").json()
    assert all(a["state"] != "pending" for a in listed)
    mine = [a for a in listed if a["service_id"] == "tsc"]
    assert len(mine) == 1 and mine[0]["phone"].endswith(phone[-3:]) and phone not in str(listed)
    assert clerk(channel_server).get("/api/v1/appointments?day=tomorrow").status_code == 422
    no_such_day = clerk(channel_server).get("/api/v1/appointments?day=2030-02-31")
    assert no_such_day.status_code == 422 and no_such_day.json()["error"]["code"] == "bad_day"
    assert httpx.get(u + "/api/v1/appointments").status_code == 401


def test_an_sms_with_a_service_prefix_takes_a_ticket(channel_server, new_phone):
    url = channel_server.url + "/sms/inbound"
    phone = new_phone()
    assert httpx.post(url, data={"from": phone, "text": "ts sw"}).text == "joined"
    sms = channel_server.aggregator.wait_for(phone, "tiketi TS")
    code = re.search(r"Nambari (\d{6})", sms).group(1)
    r = channel_server.kiosk().post("/api/v1/check-in", json={"code": code})
    assert r.status_code == 200 and r.json()["tickets"][0]["channel"] == "sms"
    assert r.json()["tickets"][0]["language"] == "sw"
    # the same phone again for the same service: its ticket, not a second one
    assert httpx.post(url, data={"from": phone, "text": "TS"}).text == "joined"
    issued = [m for m in channel_server.aggregator.messages_to(phone) if "tiketi TS" in m and "Nambari" in m]
    assert len(issued) == 1  # (the fee, when it does not fit that SMS, comes in one more: not a second ticket)
