"""The real display app in a real window (Xvfb) against a real broker, and against the real server.

Each scenario runs the app in its own process (driver.py) and reads back what
the model holds and what the widgets on screen say; screenshots and the audio
of a call are saved under tests/artifacts/counter_display/.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
import wave
from pathlib import Path

import httpx
import pytest

from centre_server.contract import Topics
from provisioning.staff import add_staff
from tests.conftest import artifacts_dir, need_tool, wait_until
from tests.counter_display import samples
from tests.counter_display.conftest import Listener

ARROW = "\u2192"


def ids(state: dict) -> dict:
    return state["screen"]["ids"]


def test_hall_board_from_retained_state_and_saying_when_it_is_not_live(
        display_factory, display_bundle, publisher, mosquitto):
    topics = Topics("test-centre")
    everything = Listener(mosquitto.url, topics.base + "/#")
    try:
        d = display_factory(display_bundle, "hall-no-server", page_size=10)  # one page: paging is timed
        s = d.wait_for(lambda s: s["link"] == "up", what="the broker link")
        assert ids(s)["status.status_en"] == "Waiting for the centre server..."
        assert not s["live"]

        samples.publish_centre(publisher, topics)
        s = d.wait_for(lambda s: s["live"] and ids(s)["now_number"] == "B042" and len(s["screen"]["services"]) == 10,
                       what="the retained centre state on screen")
        assert ids(s)["now_counter_en"] == f"{ARROW} Counter 7" and ids(s)["now_counter_sw"] == "Kaunta 7"
        assert s["screen"]["recent"][:2] == [["A017", "Counter 3", "Kaunta 3"], ["C005", "Counter 12", "Kaunta 12"]]
        assert s["screen"]["services"][1] == ["B", "Birth certificate", "7", "8 min"]
        assert ids(s)["status.status_en"] == "" and ids(s)["top.centre_name"] == "Huduma Centre Test"
        assert "Karibu. Kuwa na kitambulisho" in ids(s)["notice.line"]
        assert ids(s)["page"] == ""  # a single page needs no page number

        # a live call: the hall state first, then the event (as the server sends them)
        publisher.publish(topics.hall_state, samples.hall([("B043", "c07", "7", 13), ("B042", "c07", "7", 12)])
                          .to_bytes())
        publisher.publish(topics.event("ticket_called"), samples.call_event(13, "B043", "c07", "7").to_bytes(),
                          retain=False)
        s = d.wait_for(lambda s: ids(s)["now_number"] == "B043" and s["view"]["blinking"], what="the new call")
        assert s["screen"]["recent"][0][0] == "B042"

        # the server goes away: the board says so instead of showing old numbers as live
        publisher.publish(topics.server_availability, "offline")
        s = d.wait_for(lambda s: not s["live"], what="server offline on screen")
        assert ids(s)["status.status_en"] == "Centre server offline: numbers are not live"
        assert ids(s)["status.status_sw"] == "Seva ya kituo haipatikani: namba si za sasa"
        assert ids(s)["now_number"] == "--"

        assert d.stop() == 0
        availability = topics.device_availability("display-t")
        wait_until(lambda: [m[1] for m in everything.messages if m[0] == availability][-1:] == [b"offline"],
                   what="offline on a clean stop")
        said = [m[1] for m in everything.messages if m[0] == availability]
        assert said == [b"online", b"offline"]
        published_by_test = {topics.server_availability, topics.hall_state, topics.event("ticket_called")} | {
            topics.service_state(sid) for sid, *_ in samples.SERVICES} | {
            topics.counter_state("c07"), topics.counter_state("c03")}
        assert {m[0] for m in everything.messages} - published_by_test == {availability}  # it only listens
    finally:
        everything.close()


def test_its_last_will_says_offline_when_it_dies(display_factory, display_bundle, mosquitto):
    topics = Topics("test-centre")
    availability = topics.device_availability("display-t")
    listener = Listener(mosquitto.url, availability)
    try:
        d = display_factory(display_bundle, "hall-killed")
        wait_until(lambda: [m[1] for m in listener.messages][-1:] == [b"online"], 30, "online")
        d.kill()
        wait_until(lambda: [m[1] for m in listener.messages][-1:] == [b"offline"], 10, "the last will")
    finally:
        listener.close()


def _display_bundle(centre_dir, mosquitto, tmp_path: Path) -> Path:
    bundle = centre_dir.bundle("display-1")
    bundle["mqtt_url"] = mosquitto.url
    path = tmp_path / "display-1.json"
    path.write_text(json.dumps(bundle))
    return path


def _issue(client: httpx.Client, service_id: str) -> dict:
    r = client.post("/api/v1/tickets", json={"service_id": service_id, "channel": "staff"},
                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.text
    return r.json()


def _ok(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def test_hall_and_counter_displays_against_the_real_server(
        centre_server, centre_dir, mosquitto, display_factory, tmp_path):
    need_tool("espeak-ng")
    out = artifacts_dir("counter_display")
    bundle = _display_bundle(centre_dir, mosquitto, tmp_path)
    clerk = centre_server.client(centre_server.login("clerk"))
    manager = centre_server.client(centre_server.login("manager"))
    public = centre_server.client()

    # ten services get a line (open counters or people waiting): one page of ten, so none hides on page 2
    hall = display_factory(bundle, "hall", audio_dir=tmp_path / "audio", page_size=10)
    s = hall.wait_for(lambda s: s["live"], 30, "the hall board live")
    assert ids(s)["top.centre_name"] == "Huduma Centre GPO (demo)"

    for counter_id in ("c01", "c02", "c07", "c12"):  # one clerk holds one counter: a clerk each, a manager acts
        name = f"clerk-{counter_id}"
        password = add_staff(centre_server.centre.path, name, "clerk")["password"]
        _ok(centre_server.client(centre_server.login(name, password)).post(f"/api/v1/counters/{counter_id}/open"))
    births = [_issue(clerk, "birth-cert") for _ in range(4)]
    kra = [_issue(clerk, "kra-pin") for _ in range(3)]
    ids_new = [_issue(clerk, "id-card-new") for _ in range(3)]
    _ok(manager.put("/api/v1/hall/notice", json={
        "notice_en": "The centre closes at 5 pm today.", "notice_sw": "Kituo kitafungwa saa kumi na moja jioni leo."}))

    earlier = [_ok(manager.post(f"/api/v1/counters/{cid}/call-next")) for cid in ("c01", "c12", "c02")]
    assert [t["number"] for t in earlier] == [ids_new[0]["number"], kra[0]["number"], ids_new[1]["number"]]
    first = _ok(manager.post("/api/v1/counters/c07/call-next"))
    assert first["number"] == births[0]["number"]
    s = hall.wait_for(lambda s: ids(s)["now_number"] == first["number"] and len(s["announcements"]) == 4, 30,
                      "the call on the hall board, announced")
    assert ids(s)["now_counter_en"] == f"{ARROW} Counter 7" and ids(s)["now_counter_sw"] == "Kaunta 7"
    assert [a["number"] for a in s["announcements"]] == [t["number"] for t in earlier + [first]]
    assert s["announcements"][3]["counter"] == "7" and s["announcements"][3]["error"] is None
    assert s["announcements"][3]["played"] is False  # no sound card here: the WAV is still written

    _ok(manager.post("/api/v1/counters/c07/recall"))

    rows: dict[str, list] = {}  # the board pages (more pages while the "Did you bring" panel shows)

    def waits_match(s: dict) -> bool:
        api = {x["prefix"]: x for x in public.get("/api/v1/services").json()}
        rows.update({row[0]: row for row in s["screen"]["services"]})
        prefixes = {t["number"].rstrip("0123456789") for t in (births[0], kra[0], ids_new[0])}
        return all(rows.get(p) and rows[p][2] == str(api[p]["waiting"]) for p in prefixes)

    s = hall.wait_for(lambda s: len(s["announcements"]) == 5 and ids(s)["now_number"] == first["number"]
                      and waits_match(s), 30, "the recall announced again and the waits of the API on screen")
    assert [(a["number"], a["recall"]) for a in s["announcements"][3:]] == [
        (first["number"], False), (first["number"], True)]
    assert ids(s)["now_title"] == "Recall  /  Mwito tena"
    assert [r[:2] for r in s["screen"]["recent"]] == [
        [earlier[2]["number"], "Counter 2"], [earlier[1]["number"], "Counter 12"], [earlier[0]["number"], "Counter 1"]]
    assert "Kituo kitafungwa" in ids(s)["notice.line"]
    hall.screenshot("hall", out / "hall.png")

    wav = Path(s["announcements"][3]["wav"])
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 1.0
    shutil.copy(wav, out / f"call-{first['number']}-counter-7.wav")

    # a display that starts late shows the truth from retained state alone
    counter = display_factory(bundle, "counter", mode="counter", counter="c07")
    s = counter.wait_for(lambda s: s["live"] and ids(s)["number"] == first["number"], 30, "the counter screen")
    assert (ids(s)["counter_en"], ids(s)["counter_sw"]) == ("Counter 7", "Kaunta 7")
    assert (ids(s)["state_en"], ids(s)["state_sw"]) == (births[0]["service_name_en"], births[0]["service_name_sw"])
    counter.screenshot("counter", out / "counter.png")

    # the broker restarts: both recover from what the server republishes as retained state
    mosquitto.restart()
    back = time.monotonic()
    for d in (hall, counter):
        s = d.wait_for(lambda s: s["connects"] >= 2 and s["live"], 30, "recovery after the broker restart")
    print(f"displays live again {time.monotonic() - back:.2f} s after the broker came back")  # a figure, not a test
    s = hall.wait_for(lambda s: ids(s)["now_number"] == first["number"] and waits_match(s), 10, "the same numbers")
    assert counter.wait_for(lambda s: ids(s)["number"] == first["number"], 10)

    _ok(manager.post("/api/v1/counters/c07/start"))  # the first came (a call over one only called is refused)
    third = _ok(manager.post("/api/v1/counters/c07/call-next"))
    assert third["number"] == births[1]["number"]
    hall.wait_for(lambda s: ids(s)["now_number"] == third["number"] and len(s["announcements"]) == 6, 20)
    counter.wait_for(lambda s: ids(s)["number"] == third["number"] and s["view"]["blinking"], 20)

    # the server dies: its last will makes every display say so
    centre_server.kill9()
    s = hall.wait_for(lambda s: not s["live"], 20, "server offline on the hall board")
    assert ids(s)["status.status_en"] == "Centre server offline: numbers are not live"
    assert ids(s)["now_number"] == "--"
    s = counter.wait_for(lambda s: not s["live"], 20, "server offline on the counter screen")
    assert ids(s)["status.status_sw"] == "Seva ya kituo haipatikani: namba si za sasa"
    hall.screenshot("hall-server-offline", out / "hall-server-offline.png")
    counter.screenshot("counter-server-offline", out / "counter-server-offline.png")


@pytest.mark.parametrize("stop_signal", ["SIGTERM", "SIGINT"])
def test_the_huduma_display_command_runs_and_stops_cleanly(xvfb, display_bundle, mosquitto, tmp_path, stop_signal):
    """``huduma-display --demo`` itself (not the test driver): online when up, offline on SIGTERM or Ctrl+C."""
    import os
    import signal
    import subprocess

    from tests.conftest import BIN

    availability = Topics("test-centre").device_availability("display-t")
    listener = Listener(mosquitto.url, availability)
    env = dict(os.environ, KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(tmp_path / "kivy-home"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    log = tmp_path / "display.log"
    demo = tmp_path / "repo"  # --demo reads demo-centre/devices/display-1.json from where it runs
    (demo / "demo-centre" / "devices").mkdir(parents=True)
    (demo / "demo-centre" / "devices" / "display-1.json").write_bytes(display_bundle.read_bytes())
    proc = subprocess.Popen([str(BIN / "huduma-display"), "--demo", "--mode", "hall", "--window", "1280x800"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=demo)
    try:
        wait_until(lambda: [m[1] for m in listener.messages][-1:] == [b"online"] or proc.poll() is not None,
                   30, "the display online")
        assert proc.poll() is None, log.read_text()[-2000:]
        proc.send_signal(getattr(signal, stop_signal))
        assert proc.wait(15) == 0, log.read_text()[-2000:]
        wait_until(lambda: [m[1] for m in listener.messages][-1:] == [b"offline"], 10, f"offline on {stop_signal}")
        assert "Traceback" not in log.read_text() and " ERROR " not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()


def test_a_display_that_starts_before_its_broker_says_so_then_connects(display_factory, publisher, tmp_path):
    """Power cut: the screens come up before the server box. They must say so, then catch up alone."""
    from centre_server.contract import DeviceBundle, Role
    from tests.conftest import Mosquitto, free_port

    port = free_port()
    bundle = DeviceBundle(centre_id="test-centre", centre_name="Huduma Centre Test", device_id="display-early",
                          kind="display", role=Role.display, token="t" * 32, server_url="http://127.0.0.1:9",
                          mqtt_url=f"mqtt://127.0.0.1:{port}")
    path = tmp_path / "early.json"
    path.write_text(bundle.model_dump_json())
    d = display_factory(path, "hall-early")
    s = d.wait_for(lambda s: s["link"] == "down", 30, "no connection on screen")
    assert ids(s)["status.status_en"] == "No connection to the centre: numbers are not live"
    assert ids(s)["status.status_sw"] == "Hakuna mawasiliano na kituo: namba si za sasa"

    broker = Mosquitto(port=port, workdir=tmp_path)
    broker.start()
    try:
        from tests.counter_display.conftest import Publisher

        pub = Publisher(broker.url)
        try:
            samples.publish_centre(pub, Topics("test-centre"))
            s = d.wait_for(lambda s: s["live"] and ids(s)["now_number"] == "B042", 20, "the centre once it is up")
            assert ids(s)["status.status_en"] == ""
        finally:
            pub.close()
    finally:
        d.stop()
        broker.stop()


def test_the_demo_setup_with_the_embedded_broker_and_its_acl(centre_dir, display_factory, tmp_path):
    """As `make run` runs it: the server's own broker, which checks the display's credentials and ACL."""
    from tests.conftest import CentreProcess, free_port

    mqtt_port = free_port()
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt-port", str(mqtt_port)],
                           log_path=tmp_path / "centre-embedded.log")
    server.start()
    try:
        bundle = centre_dir.bundle("display-1")
        assert bundle["mqtt_username"] and bundle["mqtt_password"]
        bundle["mqtt_url"] = f"mqtt://127.0.0.1:{mqtt_port}"
        path = tmp_path / "display-1-embedded.json"
        path.write_text(json.dumps(bundle))
        hall = display_factory(path, "hall-embedded", audio_dir=tmp_path / "audio-embedded")
        hall.wait_for(lambda s: s["live"], 30, "live through the embedded broker")
        clerk = server.client(server.login("clerk"))
        _ok(clerk.post("/api/v1/counters/c12/open"))
        ticket = _issue(clerk, "kra-pin")
        called = _ok(clerk.post("/api/v1/counters/c12/call-next"))
        assert called["number"] == ticket["number"]
        s = hall.wait_for(lambda s: ids(s)["now_number"] == ticket["number"] and s["announcements"], 20,
                          "the call through the embedded broker")
        assert ids(s)["now_counter_sw"] == "Kaunta 12"
        assert s["announcements"][0]["wav"] and s["announcements"][0]["error"] is None
        assert "refused" not in (hall.out / "display.log").read_text()
    finally:
        server.stop()


def test_a_counter_display_started_before_the_server_never_says_not_known(
        centre_dir, mosquitto, display_factory, tmp_path):
    """The issue: a red "Counter c12 is not known" for seconds while the server was starting.

    The broker is up, the server is not: the counter screen must wait ("Waiting for
    the server"), then show the counter's real state once the server publishes it.
    Every text its big line showed is recorded by the driver, so a short flash counts too.
    """
    from tests.conftest import CentreProcess, free_port

    bundle = _display_bundle(centre_dir, mosquitto, tmp_path)
    counter = display_factory(bundle, "counter-early", mode="counter", counter="c12")
    ghost = display_factory(bundle, "counter-ghost", mode="counter", counter="c99")  # no such counter
    s = counter.wait_for(lambda s: s["link"] == "up", 30, "the broker link")
    assert ids(s)["number"] == "Waiting for the server" and ids(s)["number_sw"] == "Inasubiri seva"
    assert ids(s)["status.status_en"] == "Waiting for the centre server..."
    counter.screenshot("counter-waiting", artifacts_dir("counter_display") / "counter-waiting.png")

    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre-late.log")
    server.start()
    try:
        s = counter.wait_for(lambda s: s["live"] and ids(s)["number"] == "Closed", 30, "counter 12's real state")
        assert ids(s)["number_sw"] == "Imefungwa"
        assert "Counter c12 is not known" not in s["seen"], s["seen"]
        assert s["seen"][0] in ("Connecting...", "Waiting for the server"), s["seen"]
        clerk = server.client(server.login("clerk"))
        _ok(clerk.post("/api/v1/counters/c12/open"))
        s = counter.wait_for(lambda s: ids(s)["number"] == "Open", 20, "counter 12 open")
        assert "Counter c12 is not known" not in s["seen"], s["seen"]

        # a counter the centre really does not have is said to be unknown, once the server has spoken
        s = ghost.wait_for(lambda s: ids(s)["number"] == "Counter c99 is not known", 30, "the unknown counter")
        assert ids(s)["number_sw"] == "Kaunta c99 haijulikani"
        assert s["seen"][-2] == "Waiting for the server", s["seen"]
    finally:
        server.stop()


def test_the_hall_shows_what_the_server_says_no_estimate_and_the_closed_day(
        centre_server, centre_dir, mosquitto, display_factory, tmp_path):
    """The issue: the hall showed a wait with no counter open, and absurd waits. It must show the
    server's own figure, and when the server has none (null), say why in both languages; once the
    manager closes the day, say so with when the centre opens next."""
    out = artifacts_dir("counter_display")
    bundle = _display_bundle(centre_dir, mosquitto, tmp_path)
    clerk = centre_server.client(centre_server.login("clerk"))
    manager = centre_server.client(centre_server.login("manager"))
    public = centre_server.client()
    hall = display_factory(bundle, "hall-truth", page_size=10)
    hall.wait_for(lambda s: s["live"], 30, "the hall board live")

    tickets = [_issue(clerk, "kra-pin") for _ in range(2)]
    prefix = tickets[0]["number"].rstrip("0123456789")
    api = {x["id"]: x for x in public.get("/api/v1/services").json()}
    assert api["kra-pin"]["estimated_wait_s"] is None and api["kra-pin"]["wait_unknown"] == "no_counter"

    def row(s: dict) -> list | None:
        return next((r for r in s["screen"]["services"] if r[0] == prefix), None)

    s = hall.wait_for(lambda s: (row(s) or [""] * 4)[2:] == ["2", "No counter open"], 20,
                      "two waiting, no counter open, and no number")
    line = next(x for x in s["texts"] if x["text"] == "Hakuna kaunta wazi")
    assert not line["cut"]
    hall.screenshot("hall-no-counter", out / "hall-no-counter.png")

    _ok(clerk.post("/api/v1/counters/c12/open"))  # now the server has a figure: the board shows that one
    from counter_display import i18n

    def the_servers_figure(s: dict) -> bool:
        api_now = {x["id"]: x for x in public.get("/api/v1/services").json()}["kra-pin"]
        return (api_now["estimated_wait_s"] is not None
                and (row(s) or [""] * 4)[3] == i18n.wait_text(api_now["estimated_wait_s"], "en"))

    s = hall.wait_for(the_servers_figure, 20, "the server's own estimate")
    hall.screenshot("hall-estimates", out / "hall-estimates.png")

    r = manager.post("/api/v1/day/close")
    assert r.status_code == 200, r.text
    day = public.get("/api/v1/day").json()
    assert day["open"] is False and day["opens_at"]
    s = hall.wait_for(lambda s: s["screen"]["ids"].get("day.day_en", "").startswith(
        "The centre is closed for today. It opens again on "), 20, "the closed day on the hall board")
    assert s["screen"]["ids"]["day.day_sw"].startswith("Kituo kimefungwa kwa leo. Kitafunguliwa tena ")
    # the same sentence as the server's (the board's, the pages', the SMS's): contract.opens_again
    assert s["screen"]["ids"]["day.day_en"] == "The centre is closed for today. " + day["opens_again_en"]
    assert s["screen"]["ids"]["day.day_sw"] == "Kituo kimefungwa kwa leo. " + day["opens_again_sw"]
    assert day["opens_again_en"].endswith(" at 08:00.") and "(08:00)." in day["opens_again_sw"]
    assert not [x for x in s["texts"] if x["cut"]]
    hall.screenshot("hall-day-closed", out / "hall-day-closed.png")
