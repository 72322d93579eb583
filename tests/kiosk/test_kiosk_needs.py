"""What you need before the ticket (issue 19): the real kiosk under Xvfb against a real centre server and
Mosquitto, with a catalogue on ``state/catalogue`` holding the longest texts the contract allows, a typical
service and a suspended one; on a bare X screen of each orientation."""

from __future__ import annotations

import json
import re

import pytest

from centre_server.contract import Topics
from centre_server.contract.catalogue import CatalogueStatePayload
from tests.kiosk import catalogue_samples
from tests.kiosk.conftest import ARTIFACTS, kiosk_config
from tests.kiosk.escpos_decode import decode, render
from tests.kiosk.test_kiosk_app import tickets_in_db

pytestmark = pytest.mark.timeout(400)

LONGEST, TYPICAL, SUSPENDED = "passport", "good-conduct", "kra-pin"


def publish_catalogue(centre_server, mosquitto) -> CatalogueStatePayload:
    """The centre's own catalogue, with the test's texts, retained on state/catalogue (as the server would)."""
    import paho.mqtt.client as mqtt

    from centre_server.contract import QOS, parse_mqtt_url

    with centre_server.client() as http:
        r = http.get("/api/v1/catalogue")
    assert r.status_code == 200, r.text
    catalogue = catalogue_samples.sample_catalogue(CatalogueStatePayload.model_validate(r.json()),
                                                   LONGEST, TYPICAL, SUSPENDED)
    topics = Topics(centre_server.centre.bundle("kiosk-1")["centre_id"])
    host, port = parse_mqtt_url(mosquitto.url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    try:
        client.publish(topics.catalogue_state, catalogue.model_dump_json(), qos=QOS, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
    return catalogue


def plain(markup: str) -> str:
    """A label's text without Kivy markup tags."""
    return re.sub(r"\[/?(?:b|i|color|font|size)(?:=[^\]]*)?\]", "", markup).replace("&bl;", "[").replace(
        "&br;", "]").replace("&amp;", "&")


@pytest.mark.parametrize("size", [(1280, 800), (1080, 1920)], ids=["landscape-1280x800", "portrait-1080x1920"])
def test_what_you_need_before_the_ticket(size, centre_server, mosquitto, tmp_path, run_kiosk, screen_of):
    width, height = size
    tag = "portrait" if height > width else "landscape"
    tickets = tmp_path / "tickets.bin"
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tickets)},
                          fullscreen=True)
    catalogue = publish_catalogue(centre_server, mosquitto)
    with centre_server.client() as http:
        waiting_before = {s["id"]: s["waiting"] for s in http.get("/api/v1/services").json()}
    run = run_kiosk(config, "needs_tour", env={
        "DISPLAY": screen_of(width, height), "KIOSK_TAG": tag, "KIOSK_LONGEST": LONGEST, "KIOSK_TYPICAL": TYPICAL,
        "KIOSK_SUSPENDED": SUSPENDED, "KIOSK_CATALOGUE_VERSION": str(catalogue.version)})
    data = run.result()["data"]
    (ARTIFACTS / f"needs-{tag}.json").write_text(json.dumps(data, indent=1, default=str))
    assert data["window"] == [width, height]
    longest = catalogue.info(LONGEST).service
    pages = data["pages"]

    # every text inside its place, in large type; the buttons inside the screen
    for t in data["texts"]:
        (tw, th), (rw, rh) = t["texture"], t["room"]
        assert tw <= rw + 1 and th <= rh + 1, t
        assert t["font"] >= 20, t
    for lang in ("en", "sw"):
        for kind in ("longest", "typical"):
            page = pages[f"needs-{kind}-{tag}-{lang}"]
            for x, y, w, h in page["buttons"]:
                assert x >= 0 and y >= 0 and x + w <= width and y + h <= height and h >= 90, (page, x, y, w, h)
            assert page["font"] >= (30 if tag == "portrait" else 24)
        # the longest texts: every document, the fee with who pays and the waivers, eligibility, in person
        long_page = pages[f"needs-longest-{tag}-{lang}"]
        docs, facts = plain(long_page["documents"]), plain(long_page["facts"])
        for doc in longest.documents:
            assert doc.get(lang) in docs
        assert "KSh 12,050" in facts
        for text in (longest.fee.payer, longest.fee.waivers, longest.eligibility, longest.in_person):
            assert text.get(lang) in facts
        assert long_page["overflow"] and long_page["more"]  # it scrolls, and says so
        assert long_page["scroll_after_update"] == 0  # a live wait arriving does not scroll the citizen back
        typical_page = pages[f"needs-typical-{tag}-{lang}"]
        assert "KSh 1,050" in plain(typical_page["facts"])
        if tag == "portrait":  # a tall screen holds a typical service whole, without scrolling
            assert not typical_page["overflow"]
        # "I don't have these": where to get them, and no ticket
        nodocs = pages[f"no-documents-{lang}"]
        assert longest.where_to_get.get(lang) in plain(nodocs["where"])
    assert pages[f"needs-longest-{tag}-en"]["have"] == "I have these \u2014 get my ticket"
    assert pages[f"needs-longest-{tag}-sw"]["have"] == "Ninavyo \u2014 nipe tiketi yangu"
    assert pages[f"needs-longest-{tag}-en"]["dont_have"] == "I don't have these"
    assert pages["no-documents-en"]["no_ticket"].startswith("No ticket was issued")
    assert pages["no-documents-sw"]["no_ticket"].startswith("Hakuna tiketi iliyotolewa")

    # the suspended service says why, in the chosen language, and gives no ticket
    assert plain(data["suspended_en"]["reason"]) == catalogue_samples.SUSPENSION.en
    assert plain(data["suspended_sw"]["reason"]) == catalogue_samples.SUSPENSION.sw
    assert "Imesitishwa sasa" in data["suspended_button"]
    assert data["issue_calls_before_ticket"] == 0

    # the server issued exactly one ticket: the one asked for after "I have these"
    rows = tickets_in_db(centre_server)
    assert [(r["service_id"], r["language"]) for r in rows] == [(LONGEST, "sw")] and data["issue_calls"] == 1
    with centre_server.client() as http:
        waiting_after = {s["id"]: s["waiting"] for s in http.get("/api/v1/services").json()}
    assert waiting_after[SUSPENDED] == waiting_before[SUSPENDED]
    assert waiting_after[TYPICAL] == waiting_before[TYPICAL]

    # the paper: a short checklist (four documents, wrapped to the paper) and the fee, in Kiswahili
    raw = tickets.read_bytes()
    printed = decode(raw)
    render(printed).save(ARTIFACTS / f"kiosk-printed-checklist-{tag}.png")
    texts = printed.texts
    assert "LETA:" in texts and "Ada: KSh 12,050 kwa eCitizen" in texts  # paid when applying (finding 2)
    start = texts.index("LETA:") + 1
    boxes = [i for i, line in enumerate(texts) if line.startswith("[ ] ")]
    more = next(i for i, line in enumerate(texts) if line.strip().startswith("na 4 zaidi"))  # 8 documents, 4 printed
    assert len(boxes) == 4 and boxes[0] == start
    for n, doc in enumerate(longest.documents[:4]):
        end = boxes[n + 1] if n + 1 < len(boxes) else more
        assert " ".join(x[4:].strip() for x in texts[boxes[n]:end]) == doc.sw
    assert all(len(line.text) * line.width <= 48 for line in printed.lines)


def test_without_the_documents_the_next_citizen_finds_welcome(centre_server, mosquitto, tmp_path, run_kiosk):
    """The shipped catalogue, as the server publishes it; the citizen leaves "I don't have these" untouched."""
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          idle_timeout_s=4)
    data = run_kiosk(config, "no_documents_idle", env={"KIOSK_SERVICE": "birth-cert"}).result()["data"]
    assert data["service_on_screen"] == "birth-cert"
    assert (data["language_after"], data["service_after"], data["issue_calls"]) == ("en", None, 0)
    assert tickets_in_db(centre_server) == []
