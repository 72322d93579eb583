"""One rating per ticket on one scale, across the feedback unit, the web form and SMS (issue 15, item 4).

The real server (with a fake SMS aggregator), the real bridge on a simulated
line, the citizen's feedback page in a phone-sized Chromium. Before the fix the
unit's "very happy" button was stored as 1 (Poor on the web form's scale) and a
later SMS silently replaced a web rating.
"""

from __future__ import annotations

import json

import httpx

from centre_server.contract import FeedbackCommand, Reply, Satisfaction, Topics
from tests.channels.conftest import channel_server, clerk, kiosk_ticket, new_phone  # noqa: F401 (fixtures)
from tests.channels.test_pages import PHONE
from tests.conftest import artifacts_dir, wait_until
from tests.firmware_bridge.conftest import device_online, status_of

PORT_DEVICES = [
    {"address": 1, "kind": "keypad", "counter_id": "c01"},
    {"address": 2, "kind": "led", "counter_id": "c01"},
    {"address": 3, "kind": "feedback", "counter_id": "c01"},
]


def rating_of(server, tid: str) -> int | None:
    return httpx.get(f"{server.url}/api/v1/tickets/{tid}", timeout=10).json()["rating"]


def sms(server, phone: str, text: str) -> str:
    r = httpx.post(server.url + "/sms/inbound", data={"from": phone, "text": text}, timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def web_rate(server, tid: str, rating: int, lang: str = "en") -> httpx.Response:
    return httpx.post(f"{server.url}/t/{tid}/feedback", data={"rating": str(rating), "lang": lang}, timeout=10)


def test_the_first_rating_stands_on_every_channel(channel_server, new_phone, probe_factory,  # noqa: F811
                                                   bridge_factory, sim_factory, browser):
    server, agg = channel_server, channel_server.aggregator
    broker_url = server.args[server.args.index("--mqtt") + 1]
    bundle = dict(server.centre.bundle("bridge-1"), mqtt_url=broker_url, server_url=server.url)
    topics = Topics(bundle["centre_id"])
    probe = probe_factory(broker_url, topics.all_device_status, topics.reply("bridge-1"))
    sim = sim_factory("keypad:1,led:2,feedback:3")
    bridge = bridge_factory(bundle, [{"url": sim.link, "devices": PORT_DEVICES}])
    wait_until(lambda: device_online(status_of(probe, topics, "bridge-1"), 3), what=f"devices\n{bridge.log()}")

    c = clerk(server)
    assert c.post("/api/v1/counters/c01/open", json={"services": ["id-card-new"]}).status_code == 200
    phones = [new_phone() for _ in range(3)]
    tickets = [kiosk_ticket(server, "id-card-new", p) for p in phones]

    def serve(t: dict) -> None:
        assert c.post("/api/v1/counters/c01/call-next").json()["id"] == t["id"]
        assert c.post("/api/v1/counters/c01/complete").status_code == 200

    def unit(button: int, answers: int) -> str:
        sim.rate(button)
        assert sim.wait_for(lambda: len(sim.devices[3].acks) == answers), bridge.log()
        return sim.devices[3].acks[-1]

    # 1. The feedback unit first: its very happy button (1) is Excellent (4), not Poor.
    t1 = tickets[0]
    serve(t1)
    ctx = browser.new_context(locale="en-GB", **PHONE)
    page = ctx.new_page()
    try:
        page.goto(f"{server.url}/t/{t1['id']}/feedback")  # the citizen opens the SMS link meanwhile
        assert unit(1, 1) == "ACK,RATE"
        wait_until(lambda: rating_of(server, t1["id"]) == Satisfaction.excellent, what="the unit's rating")
        page.click("label.rating.r1")
        page.click("#send-button")  # the form was loaded before the unit's rating: the server refuses it
        assert page.locator("#error").inner_text() == (
            f"Ticket {t1['number']} was already rated (Excellent). A ticket is rated once: the first rating stands.")
        assert page.locator("#already-rated").inner_text() == "You rated: Excellent"
        assert page.locator("#feedback-form").count() == 0
        page.screenshot(path=str(artifacts_dir("channels") / "feedback-already-rated-en.png"), full_page=True)
    finally:
        ctx.close()
    assert sms(server, phones[0], "1 too slow") == "already_rated"
    agg.wait_for(phones[0], "was already rated (Excellent)")
    assert rating_of(server, t1["id"]) == 4

    # 2. The web form first (Poor): the unit and a later SMS are refused, the web rating stays.
    t2 = tickets[1]
    serve(t2)
    r = web_rate(server, t2["id"], 1, "sw")
    assert r.status_code == 303, r.text
    assert unit(1, 2) == "NAK,ALREADY_RATED"
    assert sms(server, phones[1], "4") == "already_rated"
    agg.wait_for(phones[1], f"Ticket {t2['number']} was already rated (Poor)")
    assert rating_of(server, t2["id"]) == Satisfaction.poor

    # 3. SMS first (3 Good): the web form (in Kiswahili) and the unit are refused.
    t3 = tickets[2]
    serve(t3)
    assert "3 Good" in agg.wait_for(phones[2], "reply 1 Poor, 2 Fair, 3 Good, 4 Excellent")
    assert sms(server, phones[2], "3 thank you") == "rated_3"
    r = web_rate(server, t3["id"], 4, "sw")
    assert r.status_code == 409 and f"Tiketi {t3['number']} tayari imetathminiwa (Nzuri)." in r.text
    assert unit(2, 3) == "NAK,ALREADY_RATED"
    assert rating_of(server, t3["id"]) == Satisfaction.good
    ctx = browser.new_context(locale="sw-KE", **PHONE)
    page = ctx.new_page()
    try:  # the page from the SMS link, after the rating: what was given, no second form
        page.goto(f"{server.url}/t/{t3['id']}/feedback?lang=sw")
        assert page.locator("#already-rated").inner_text() == "Ulitathmini: Nzuri"
        assert page.locator("#feedback-form").count() == 0
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["viewport"]["width"], width
        page.screenshot(path=str(artifacts_dir("channels") / "feedback-rated-sw.png"), full_page=True)
    finally:
        ctx.close()
    c.post("/api/v1/counters/c01/close")

    # A bridge naming a counter outside its bundle is refused by the server.
    foreign = next(cid for cid in ("c05", "c11", "c12") if cid not in bundle["counters"])
    probe.publish(topics.cmd_feedback(foreign), FeedbackCommand(counter_id=foreign, rating=Satisfaction.excellent,
                                                       request_id="foreign-1", device_id="bridge-1").to_bytes())
    reply = wait_until(lambda: next((Reply.model_validate_json(p) for p in probe.on(topics.reply("bridge-1"))
                                     if json.loads(p).get("request_id") == "foreign-1"), None),
                       what="the server's answer to a foreign counter")
    assert reply.status == "error" and reply.data == {"code": "not_your_counter"}
    # A rating off the scale is answered too (it used to be dropped without a word: the unit timed out).
    probe.publish(topics.cmd_feedback("c01"), json.dumps({"counter_id": "c01", "rating": 7, "request_id": "off-scale",
                                                   "device_id": "bridge-1"}))
    reply = wait_until(lambda: next((Reply.model_validate_json(p) for p in probe.on(topics.reply("bridge-1"))
                                     if json.loads(p).get("request_id") == "off-scale"), None),
                       what="the server's answer to a rating off the scale")
    assert reply.status == "error" and reply.data == {"code": "bad_rating"}
    assert "Traceback" not in bridge.log()
