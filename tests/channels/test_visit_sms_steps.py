"""A three-service visit by SMS: after each service the citizen hears the next one and where, with the same
number, in their language and within one SMS; where no counter is open for the next service, the counters
that serve it. The real server and its outbox, through the fake aggregator."""

from __future__ import annotations

import uuid

from tests.channels.conftest import clerk

PLAN = ["id-card-new", "kra-pin", "sha-registration"]  # the demo menu: KRA after a new ID, SHA after KRA


def test_each_step_of_a_visit_says_the_next_one_and_where_in_kiswahili(channel_server, new_phone):
    agg = channel_server.aggregator
    phone = new_phone()
    r = channel_server.kiosk().post("/api/v1/tickets", json={"service_id": PLAN[0], "phone": phone, "language": "sw",
                                                             "then": PLAN[1:]},
                                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    ticket = r.json()
    number = ticket["number"]
    c = clerk(channel_server)  # one member of staff holds one counter: the manager takes the second
    m = channel_server.client(channel_server.login("manager"))
    at = {"c01": c, "c12": m}
    assert c.post("/api/v1/counters/c01/open", json={"services": ["id-card-new"]}).status_code == 200
    assert m.post("/api/v1/counters/c12/open", json={"services": ["kra-pin"]}).status_code == 200
    try:
        for counter_id in ("c01", "c12"):  # this ticket, whatever else waits in the shared demo's queues
            called = at[counter_id].post(f"/api/v1/counters/{counter_id}/call/{ticket['id']}")
            assert called.status_code == 200, called.text
            assert at[counter_id].post(f"/api/v1/counters/{counter_id}/complete").status_code == 200
            if counter_id == "c01":
                text = agg.wait_for(phone, "Inayofuata: Usajili wa PIN ya KRA")
                assert text.startswith(f"Huduma: {number} imekamilika. Inayofuata: Usajili wa PIN ya KRA, Kaunta 12.")
            else:  # nobody serves SHA now: the counters that serve it (17 and 18 in the demo; the shared demo's
                # earlier tests may have opened another for SHA today, which is then named first)
                text = agg.wait_for(phone, "Inayofuata: Usajili wa bima ya afya ya SHA")
                assert "17, 18." in text.split("Kaunta ", 1)[1] and text.endswith("namba ileile."), text
            assert len(text) <= 160, text
    finally:
        c.post("/api/v1/counters/c01/close")
        m.post("/api/v1/counters/c12/close")
        c.post(f"/api/v1/tickets/{ticket['id']}/cancel")
