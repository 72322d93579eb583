"""What the centre tells people is true: estimates never invented, closing honoured (issue 15).

Each test reproduces a defect a new user found on the first version, through the real app
(TestClient runs its lifespan on a real SQLite file) and, for restarts, a second app on the
same directory.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from centre_server.http.app import create_app
from tests.conftest import closing_ahead

NAIROBI = ZoneInfo("Africa/Nairobi")


def set_day(path: Path, **keys: str) -> None:
    """Rewrite keys of centre.toml's [day] table."""
    config = path / "centre.toml"
    text = config.read_text()
    for key, value in keys.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f'{key} = {value}', text)
        assert n == 1, key
    config.write_text(text)


@pytest.fixture
def app_for(centre_dir):
    clients: list[TestClient] = []

    def start() -> TestClient:
        client = TestClient(create_app(centre_dir.path), raise_server_exceptions=False)
        client.__enter__()
        client.centre = centre_dir
        clients.append(client)
        return client

    yield start
    for c in clients:
        c.__exit__(None, None, None)


def kiosk(api) -> dict:
    return {"Authorization": f"Bearer {api.centre.bundle('kiosk-1')['token']}"}


def manager(api) -> dict:
    r = api.post("/api/v1/auth/login", json={"username": "manager",
                                             "password": api.centre.staff_password("manager")})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def clerk(api) -> dict:
    r = api.post("/api/v1/auth/login", json={"username": "clerk", "password": api.centre.staff_password("clerk")})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def services(api) -> dict[str, dict]:
    return {s["id"]: s for s in api.get("/api/v1/services").json()}


def test_shared_busy_counter_gives_a_bounded_estimate_not_39444_hours(app_for):
    """Counter c22 serves DL, SD and MV: one DL ticket called left SD at 45,881,409 s."""
    api = app_for()
    staff = clerk(api)
    r = api.post("/api/v1/counters/c22/open", headers=staff)
    assert r.status_code == 200, r.text
    r = api.post("/api/v1/tickets", json={"service_id": "driving-licence"}, headers=kiosk(api))
    assert r.status_code == 201, r.text
    assert api.post("/api/v1/counters/c22/call-next", headers=staff).status_code == 200
    figures = services(api)
    for sid in ("smart-dl", "vehicle-transfer"):
        est = figures[sid]["estimated_wait_s"]
        # the counter finishes the DL citizen, then calls this newcomer: about one service time
        assert est is not None and 0 < est <= 2 * 3600, (sid, est)
        assert figures[sid]["wait_unknown"] is None and figures[sid]["accepting"]
    t = api.post("/api/v1/tickets", json={"service_id": "smart-dl"}, headers=kiosk(api)).json()
    assert 0 < t["estimated_wait_s"] <= 2 * 3600


def test_no_counter_open_means_no_number(app_for):
    """The kiosk said "You are next · Estimated wait: 6 min" with every counter closed."""
    api = app_for()
    t = api.post("/api/v1/tickets", json={"service_id": "passport"}, headers=kiosk(api)).json()
    assert t["position"] == 0 and t["estimated_wait_s"] is None and t["wait_unknown"] == "no_counter"
    assert api.get(f"/api/v1/tickets/{t['id']}").json()["estimated_wait_s"] is None
    s = services(api)["passport"]
    assert s["estimated_wait_s"] is None and s["wait_unknown"] == "no_counter" and s["accepting"]
    assert api.post("/api/v1/counters/c08/open", headers=clerk(api)).status_code == 200
    assert api.get(f"/api/v1/tickets/{t['id']}").json()["estimated_wait_s"] == 0  # a free counter: next


def test_a_managers_close_closes_the_day_for_every_issue_and_survives_a_restart(app_for):
    """After "Close the day" the kiosk went on issuing (K005)."""
    api = app_for()
    staff = clerk(api)
    api.post("/api/v1/counters/c10/open", headers=staff)
    served = api.post("/api/v1/tickets", json={"service_id": "good-conduct"}, headers=kiosk(api)).json()
    api.post("/api/v1/counters/c10/call-next", headers=staff)
    r = api.post("/api/v1/day/close", headers=manager(api))
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/tickets/{served['id']}").json()["state"] == "cancelled"  # only called
    refused = api.post("/api/v1/tickets", json={"service_id": "good-conduct"}, headers=kiosk(api))
    assert refused.status_code == 409, refused.text
    err = refused.json()["error"]
    assert err["code"] == "day_closed" and "opens again" in err["message"]
    opens = datetime.fromisoformat(err["opens_at"])
    now = datetime.now(NAIROBI)
    assert opens > now and opens.strftime("%H:%M") == "08:00" and opens.date() == now.date() + timedelta(days=1)
    assert err["book_day"] == opens.date().isoformat()
    day = api.get("/api/v1/day").json()
    assert day["open"] is False and day["reason"] == "closed_by_manager"
    s = services(api)["good-conduct"]
    assert s["estimated_wait_s"] is None and s["wait_unknown"] == "closed"
    assert s["accepting"] is False and s["refusal"] == "day_closed"
    api.__exit__(None, None, None)
    again = app_for()
    assert again.post("/api/v1/tickets", json={"service_id": "good-conduct"},
                      headers=kiosk(again)).json()["error"]["code"] == "day_closed"
    assert again.get("/api/v1/day").json()["open"] is False


def test_after_closing_time_nothing_is_issued(centre_dir, app_for):
    """At 18:03, after a 16:30 closing time, tickets were still issued."""
    past = "00:00"  # a closing time already behind today, whatever the hour the test runs (a minute ago at 00:01)
    set_day(centre_dir.path, closing_time=f'"{past}"', opening_time='"00:00"')
    api = app_for()
    r = api.post("/api/v1/tickets", json={"service_id": "kra-pin"}, headers=kiosk(api))
    assert r.status_code == 409 and r.json()["error"]["code"] == "day_closed"
    day = api.get("/api/v1/day").json()
    assert day["open"] is False and day["reason"] == "closing_time" and day["closing_time"] == past


def test_a_newcomer_who_would_not_be_called_before_the_last_call_is_offered_a_booking(centre_dir, app_for):
    now, closing = closing_ahead(40)
    set_day(centre_dir.path, closing_time=f'"{closing}"', opening_time='"00:00"')
    api = app_for()
    staff = clerk(api)
    api.post("/api/v1/counters/c10/open", json={"services": ["good-conduct"]}, headers=staff)
    issued = []
    while True:
        r = api.post("/api/v1/tickets", json={"service_id": "good-conduct"}, headers=kiosk(api))
        if r.status_code != 201:
            break
        issued.append(r.json())
        assert len(issued) < 40, "the last-call rule never refused"
    err = r.json()["error"]
    assert r.status_code == 409 and err["code"] == "after_last_call", r.text
    assert err["book_day"] == (now.date() + timedelta(days=1)).isoformat()
    # every ticket that was issued would be called before closing, by its own estimate
    closes = datetime.strptime(closing, "%H:%M").replace(year=now.year, month=now.month, day=now.day, tzinfo=NAIROBI)
    assert all(datetime.fromisoformat(t["issued_at"]) + timedelta(seconds=t["estimated_wait_s"]) <= closes
               for t in issued)
    s = services(api)["good-conduct"]
    assert s["accepting"] is False and s["refusal"] == "after_last_call" and s["estimated_wait_s"] is not None


def test_a_device_never_sees_a_secret_ticket_id_in_the_counters(app_for):
    """Issue 16: GET /api/v1/counters gave device tokens the secret id (the key to /t/ and /join/)."""
    api = app_for()
    staff = clerk(api)
    api.post("/api/v1/counters/c12/open", headers=staff)
    t = api.post("/api/v1/tickets", json={"service_id": "kra-pin"}, headers=kiosk(api)).json()
    assert api.post("/api/v1/counters/c12/call-next", headers=staff).status_code == 200
    for device in ("kiosk-1", "display-1", "bridge-1"):
        token = {"Authorization": f"Bearer {api.centre.bundle(device)['token']}"}
        listed = api.get("/api/v1/counters", headers=token)
        one = api.get("/api/v1/counters/c12", headers=token)
        assert listed.status_code == one.status_code == 200, (device, listed.text)
        assert t["id"] not in listed.text and t["id"] not in one.text, device
        assert one.json()["serving"]["number"] == t["number"]
    # the clerk still gets the real id (the terminal calls by it)
    assert api.get("/api/v1/counters/c12", headers=staff).json()["serving"]["id"] == t["id"]


def test_a_closing_time_set_by_mistake_can_be_undone_by_a_manager(centre_dir, app_for):
    """A typo ("07:00" for "19:00") closed the day at once, and nothing could reopen it until midnight."""
    set_day(centre_dir.path, closing_time='"00:00"', opening_time='"00:00"')  # already past, at any hour
    api = app_for()
    assert api.post("/api/v1/tickets", json={"service_id": "kra-pin"},
                    headers=kiosk(api)).json()["error"]["code"] == "day_closed"
    assert api.post("/api/v1/day/reopen", headers=clerk(api)).status_code == 403  # a manager's decision
    r = api.post("/api/v1/day/reopen", headers=manager(api))
    assert r.status_code == 200 and r.json()["open"] is True, r.text
    t = api.post("/api/v1/tickets", json={"service_id": "kra-pin"}, headers=kiosk(api))
    assert t.status_code == 201, t.text
    assert api.post("/api/v1/day/reopen", headers=manager(api)).json()["error"]["code"] == "day_open"
    # the reopened day survives a restart, and a manager's close still closes it
    api.__exit__(None, None, None)
    again = app_for()
    assert again.get("/api/v1/day").json()["open"] is True
    assert again.post("/api/v1/day/close", headers=manager(again)).status_code == 200
    assert again.post("/api/v1/tickets", json={"service_id": "kra-pin"},
                      headers=kiosk(again)).json()["error"]["code"] == "day_closed"


def test_near_the_close_a_service_nobody_serves_gives_no_ticket(centre_dir, app_for):
    """At 11:34 with closing at 11:40, D001 and B001 were issued though no counter served them and no
    staffing plan brought one: the close cancelled them. Early in the day (a clerk may still sit down),
    or with a counter on a break, the ticket is issued."""
    now, closing = closing_ahead(30)  # within the hour before it (unserved_minutes)
    set_day(centre_dir.path, closing_time=f'"{closing}"', opening_time='"00:00"')
    api = app_for()
    r = api.post("/api/v1/tickets", json={"service_id": "birth-cert"}, headers=kiosk(api))
    err = r.json()["error"]
    assert r.status_code == 409 and err["code"] == "after_last_call", r.text
    assert "no counter" in err["message"] and err["book_day"] == (now.date() + timedelta(days=1)).isoformat()
    s = services(api)["birth-cert"]
    assert s["accepting"] is False and s["refusal"] == "after_last_call" and s["wait_unknown"] == "no_counter"
    # a counter on a break is expected back: its service still takes tickets
    staff = clerk(api)
    assert api.post("/api/v1/counters/c10/open", json={"services": ["birth-cert"]}, headers=staff).status_code == 200
    assert api.post("/api/v1/counters/c10/pause", headers=staff).status_code == 200
    assert services(api)["birth-cert"]["accepting"] is True
    t = api.post("/api/v1/tickets", json={"service_id": "birth-cert"}, headers=kiosk(api))
    assert t.status_code == 201, t.text


def test_early_in_the_day_a_service_nobody_serves_yet_still_gives_a_ticket(centre_dir, app_for):
    """The first morning: no counter open yet, closing hours away. Refusing then would turn away the
    day's first citizens before the clerks sit down."""
    now, closing = closing_ahead(150)
    # hours away from the last call; late in the evening (closing 23:59) the hour before it is cut to what
    # is left, so that now is still before that window as it is on a morning
    left = (now.replace(hour=23, minute=59) - now).total_seconds() // 60
    set_day(centre_dir.path, closing_time=f'"{closing}"', opening_time='"00:00"',
            unserved_minutes=str(int(min(60, left - 2))))
    api = app_for()
    r = api.post("/api/v1/tickets", json={"service_id": "birth-cert"}, headers=kiosk(api))
    assert r.status_code == 201 and r.json()["estimated_wait_s"] is None, r.text


def test_a_reopened_day_takes_tickets_past_its_closing_and_last_call(centre_dir, app_for):
    """At 11:41 (closing 11:40) a reopened day said open:true yet refused tickets with after_last_call.
    The README's promise: a reopened day takes tickets until it is closed again or midnight."""
    past = "00:00"  # a closing time already behind today, whatever the hour the test runs (a minute ago at 00:01)
    set_day(centre_dir.path, closing_time=f'"{past}"', opening_time='"00:00"')
    api = app_for()
    assert api.post("/api/v1/day/reopen", headers=manager(api)).status_code == 200
    staff = clerk(api)
    assert api.post("/api/v1/counters/c10/open", json={"services": ["good-conduct"]}, headers=staff).status_code == 200
    for _ in range(6):  # people ahead: each newcomer's estimate is past the (set aside) closing time
        r = api.post("/api/v1/tickets", json={"service_id": "good-conduct"}, headers=kiosk(api))
        assert r.status_code == 201, r.text
    assert r.json()["position"] >= 5
    for sid in ("good-conduct", "birth-cert"):  # served, and nobody serving: the day is open, both take tickets
        s = services(api)[sid]
        assert s["accepting"] is True and s["refusal"] is None, s
    assert api.post("/api/v1/tickets", json={"service_id": "birth-cert"}, headers=kiosk(api)).status_code == 201


def test_at_a_shared_counter_the_people_ahead_are_everyone_it_calls_first(app_for):
    """A citizen for a service only a shared counter serves was told "You are next / Estimated wait: 73 min"
    with eleven others of the counter's two other services ahead of them at that counter (one counter, c22,
    serving DL, SD and MV, calling the longest-waiting first)."""
    api = app_for()
    staff = clerk(api)
    assert api.post("/api/v1/counters/c22/open", headers=staff).status_code == 200
    for sid in ("driving-licence", "vehicle-transfer", "driving-licence", "vehicle-transfer"):
        assert api.post("/api/v1/tickets", json={"service_id": sid}, headers=kiosk(api)).status_code == 201
    assert services(api)["smart-dl"]["ahead"] == 4  # what the kiosk's confirmation says before the ticket
    told = api.post("/api/v1/tickets", json={"service_id": "smart-dl"}, headers=kiosk(api)).json()
    assert told["position"] == 4 and told["estimated_wait_s"] > 0, told  # not "You are next"
    assert api.get(f"/api/v1/tickets/{told['id']}").json()["position"] == 4  # the ticket page says the same
    # a priority citizen goes before every normal one, at any of the counter's services
    elderly = api.post("/api/v1/tickets", json={"service_id": "vehicle-transfer", "priority": "elderly"},
                       headers=kiosk(api)).json()
    assert elderly["position"] == 0
    assert api.get(f"/api/v1/tickets/{told['id']}").json()["position"] == 5
    # the counter calls the elderly citizen, then the first driving-licence one: three left before SD001
    for first in ("vehicle-transfer", "driving-licence"):
        r = api.post("/api/v1/counters/c22/call-next", headers=staff)
        assert r.status_code == 200 and r.json()["service_id"] == first, r.text
        for step in ("start", "complete"):
            assert api.post(f"/api/v1/counters/c22/{step}", headers=staff).status_code == 200
    assert api.get(f"/api/v1/tickets/{told['id']}").json()["position"] == 3
    # a newcomer of another of the counter's services stands behind SD001: SD001 is ahead of them
    later = api.post("/api/v1/tickets", json={"service_id": "driving-licence"}, headers=kiosk(api)).json()
    assert later["position"] == 4
