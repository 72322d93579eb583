"""The intruder's attack as written (issue 16, item 6): a real server's day, a manager's close over HTTP, then grep.

Remote tickets on /join and by SMS to /sms/inbound, a kiosk ticket with a
phone, a booking on /book confirmed with the code the SMS log received, the
clerk serving, every SMS sent through the log gateway (DIR/sms.log); then
``POST /api/v1/day/close`` as the manager, and the numbers are searched for in
every table of the centre's database and in the log.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from centre_server.reports import figures
from tests.channels.conftest import clerk, free_slots, kiosk_ticket, serve_channels
from tests.channels.test_phone_erasure import where_numbers_are


def _pending(db_path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT COUNT(*) FROM sms_outbox WHERE sent_at IS NULL AND failed_at IS NULL "
                            "AND phone != ''").fetchone()[0]
    finally:
        conn.close()


def test_after_a_managers_close_no_table_and_no_log_line_holds_a_number(tmp_path) -> None:
    with serve_channels(tmp_path, channels={"sms_gateway": '"log"', "remote_per_service_per_hour": "50"}) as s:
        path = s.centre.path
        log, db_path = path / "sms.log", path / "centre.db"
        phones = {"web": "+254722000201", "sms": "+254722000202", "kiosk": "+254722000203",
                  "booked": "+254722000204"}
        c = clerk(s)
        assert c.post("/api/v1/counters/c05/open", json={"services": ["kra-pin"]}).status_code == 200
        r = httpx.post(s.url + "/join", data={"service_id": "kra-pin", "phone": phones["web"],
                                              "nonce": uuid.uuid4().hex, "lang": "en"})
        assert r.status_code == 303, r.text
        prefix = {x["id"]: x for x in httpx.get(s.url + "/api/v1/services").json()}["kra-pin"]["prefix"]
        r = httpx.post(s.url + "/sms/inbound", data={"from": phones["sms"], "text": prefix})
        assert r.status_code == 200 and r.text == "joined", r.text
        kiosk_ticket(s, "kra-pin", phones["kiosk"])
        for who in ("web", "sms"):  # the remote citizens arrive and check in by phone at the kiosk
            assert s.kiosk().post("/api/v1/check-in", json={"phone": phones[who]}).status_code == 200
        slot = free_slots(s, "tsc")[0]  # on a later day, whatever the hour (one for today: test_phone_erasure.py)
        r = httpx.post(s.url + "/book", data={"service_id": "tsc", "slot": slot, "phone": phones["booked"]})
        assert r.status_code == 303, r.text
        appt_id = r.headers["location"].split("/book/")[1].split("?")[0]
        deadline = time.monotonic() + 20
        while not (m := re.search(r"(?:code|nambari) (\d{6}) ", log.read_text() if log.exists() else "")):
            assert time.monotonic() < deadline, "no confirmation code in the SMS log"
            time.sleep(0.1)
        assert httpx.post(f"{s.url}/book/{appt_id}/confirm", data={"code": m.group(1)}).status_code == 303
        for _ in range(3):
            assert c.post("/api/v1/counters/c05/call-next").status_code == 200
            assert c.post("/api/v1/counters/c05/complete").status_code == 200
        deadline = time.monotonic() + 30
        while _pending(db_path):
            assert time.monotonic() < deadline, "SMS still pending"
            time.sleep(0.1)
        before = where_numbers_are(db_path, log, list(phones.values()))
        assert {"web", "sms", "kiosk"} <= {k for k, p in phones.items() if any(x.startswith("sms.log") for x in
                                                                             before.get(p, []))}

        manager = s.client(s.login("manager"))
        r = manager.post("/api/v1/day/close")
        assert r.status_code == 200, r.text
        assert r.json()["phones_erased"] >= 3
        today = datetime.now(ZoneInfo("Africa/Nairobi")).date().isoformat()
        after = where_numbers_are(db_path, log, list(phones.values()))
        assert int(slot) >= figures.day_bounds(today, "Africa/Nairobi")[1]
        # a booking for a later day keeps its number (the check-in and the reminder need it), in its row only
        assert after.pop(phones["booked"], []) == ["appointments.phone"]
        assert after == {}, after
        assert "Traceback" not in (tmp_path / "centre.log").read_text()
