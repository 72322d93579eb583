"""The manager's board and reports in a real browser against a real centre server process."""

from __future__ import annotations

import csv
import io

import httpx
import paho.mqtt.client as mqtt
from playwright.sync_api import expect

from centre_server.contract import DeviceStatusPayload, PrinterStatus, Topics, parse_mqtt_url
from tests.conftest import wait_until
from tests.web.conftest import issue, login_page


def publish_retained(broker_url: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish retained device messages as a kiosk and a display would."""
    host, port = parse_mqtt_url(broker_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_board_live_move_counter_notice_and_reports(centre_server, centre_dir, mosquitto, context_factory, shots,
                                                    tmp_path):
    kiosk = centre_dir.bundle("kiosk-1")["token"]
    clerk = centre_server.client(centre_server.login("clerk"))
    second = centre_server.client(centre_server.login("admin"))  # one member of staff holds one counter
    # a morning's work so far: two counters open, tickets in several services
    for sid in ["id-card-new"] * 3 + ["birth-cert"] * 2 + ["kra-pin"] * 2 + ["good-conduct"]:
        issue(centre_server, kiosk, sid)
    assert clerk.post("/api/v1/counters/c01/open").status_code == 200
    assert second.post("/api/v1/counters/c05/open").status_code == 200
    first = clerk.post("/api/v1/counters/c01/call-next")
    assert first.status_code == 200
    assert clerk.post("/api/v1/counters/c01/complete", json={"outcome": "served"}).status_code == 200
    rated = httpx.post(f"{centre_server.url}/t/{first.json()['id']}/feedback", data={"rating": "4"})
    assert rated.status_code == 303, rated.text
    assert clerk.post("/api/v1/counters/c01/call-next").status_code == 200
    assert second.post("/api/v1/counters/c05/call-next").status_code == 200
    assert second.post("/api/v1/counters/c05/start").status_code == 200

    page = context_factory().new_page()
    login_page(page, centre_server, "manager", centre_dir.staff_password("manager"))
    page.wait_for_url("**/board")
    expect(page.locator("#kpi-waiting")).to_have_text("5")
    expect(page.locator("#kpi-served")).to_have_text("1")
    expect(page.locator("#kpi-counters")).to_have_text("2 / 30")
    expect(page.locator("#kpi-satisfaction")).to_have_text("4.0")  # on the one scale, 4 is the best
    expect(page.locator("#kpi-satisfaction-scale")).to_have_text("1 Poor – 4 Excellent")
    expect(page.locator(".counter-card[data-counter='c01'] .cc-ticket")).to_have_count(1)
    expect(page.locator("#alerts .alert.ok")).to_have_count(1)

    # live: a ticket issued through the API reaches the board with no reload
    page.evaluate("window.__no_reload = 1")
    before = int(page.locator("#service-rows tr[data-service='kra-pin'] td.num.big").inner_text())
    issue(centre_server, kiosk, "kra-pin")
    expect(page.locator("#service-rows tr[data-service='kra-pin'] td.num.big")).to_have_text(str(before + 1))
    expect(page.locator("#kpi-waiting")).to_have_text("6")
    assert page.evaluate("window.__no_reload") == 1

    # devices: a kiosk printer low on paper and an offline display become alerts
    topics = Topics(centre_dir.bundle("kiosk-1")["centre_id"])
    status = DeviceStatusPayload(device_id="kiosk-1", kind="kiosk", printer=PrinterStatus.paper_low)
    publish_retained(mosquitto.url, [(topics.device_availability("kiosk-1"), b"online"),
                                     (topics.device_status("kiosk-1"), status.to_bytes()),
                                     (topics.device_availability("display-1"), b"offline")])
    manager = centre_server.client(centre_server.login("manager"))
    wait_until(lambda: len(manager.get("/api/v1/stats/live").json()["alerts"]) >= 2, what="device alerts on the server")
    issue(centre_server, kiosk, "good-conduct")  # any change refreshes the board at once
    expect(page.locator("#alerts li[data-kind='device_offline']")).to_contain_text("display-1")
    expect(page.locator("#alerts li[data-kind='printer']")).to_have_text("Printer of kiosk-1: paper low")
    expect(page.locator("#devices li[data-device='kiosk-1']")).to_have_text("kiosk-1 · online · paper low")
    expect(page.locator("#devices li[data-device='display-1']")).to_have_text("display-1 · offline")

    # the chart of today by hour is drawn by the shipped Chart.js
    wait_until(lambda: page.evaluate("!!(window.Chart && Chart.getChart('chart-hours'))"), what="chart drawn")
    total_arrivals = "Chart.getChart('chart-hours').data.datasets[0].data.reduce((a, b) => a + b, 0)"
    wait_until(lambda: page.evaluate(total_arrivals) == 10, what="10 arrivals in the chart")
    page.evaluate("window.scrollTo(0, 0)")
    shots(page, "web-board", full_page=True)

    # move counter 2 to passports from the board
    page.click(".counter-card[data-counter='c02'] button")
    expect(page.locator("#move-dialog")).to_be_visible()
    for value in page.locator("#move-services input:checked").evaluate_all("bs => bs.map(b => b.value)"):
        page.uncheck(f"#move-services input[value='{value}']")
    page.check("#move-services input[value='passport']")
    page.click("#move-save")
    expect(page.locator("#move-dialog")).to_be_hidden()
    assert manager.get("/api/v1/counters/c02").json()["services"] == ["passport"]
    expect(page.locator(".counter-card[data-counter='c02'] .cc-services")).to_have_text("P")

    # the hall's notice line
    page.fill("#notice-en", "Passports are served at counter 2 today")
    page.fill("#notice-sw", "Pasipoti zinahudumiwa kaunta 2 leo")
    page.click("#notice-save")
    expect(page.locator("#toast")).to_have_text("Saved")
    hall = httpx.get(centre_server.url + "/api/v1/hall").json()
    assert hall["notice_en"] == "Passports are served at counter 2 today"
    assert hall["notice_sw"] == "Pasipoti zinahudumiwa kaunta 2 leo"

    # reports: today per service and per hour, with its CSV
    page.click("nav a[href='/reports']")
    page.wait_for_url("**/reports")
    expect(page.locator("#report-total tbody td").first).to_have_text("10")
    expect(page.locator("#report-services tr[data-service='id-card-new'] td").first).to_have_text("3")
    expect(page.locator("#satisfaction-note")).to_have_text(
        "Satisfaction: the mean rating, 1 Poor, 2 Fair, 3 Good, 4 Excellent (number of ratings).")
    shots(page, "web-reports", full_page=True)
    with page.expect_download() as dl:
        page.click("#csv-link")
    path = tmp_path / "report.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    total = next(r for r in rows if r["scope"] == "total")
    assert (total["arrived"], total["served"]) == ("10", "1")
    idc = next(r for r in rows if r["scope"] == "service" and r["key"] == "id-card-new")
    assert (idc["arrived"], idc["served"], idc["served_pct"]) == ("3", "1", "33.3")

    # the board in Kiswahili
    page.goto(centre_server.url + "/board?lang=sw")
    expect(page.locator(".services-card h2")).to_have_text("Huduma")
    expect(page.locator(".counter-card[data-counter='c01'] .pill")).to_have_text("Wazi")
    expect(page.locator("#kpi-satisfaction-scale")).to_have_text("1 Mbaya – 4 Bora sana")
    page.evaluate("window.scrollTo(0, 0)")
    shots(page, "web-board-sw")
    # a manager's 1366-pixel laptop: every column of the services, the target last, without scrolling
    page.set_viewport_size({"width": 1366, "height": 768})
    expect(page.locator(".services-table tbody tr").first).to_be_visible()
    fits = page.evaluate("(() => { const e = document.querySelector('.table-scroll'); "
                         "return [e.scrollWidth, e.clientWidth]; })()")
    assert fits[0] <= fits[1], fits
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(centre_server.url + "/board?lang=en")

    # the manager closes the day from the board: what waits is cancelled, counters close, the day is summarised
    live = manager.get("/api/v1/stats/live").json()
    assert live["waiting"] == 7
    # a ticket called but never started at the close is cancelled too (c01's), not counted as served
    called = sum(1 for c in live["counters"] if c["ticket_state"] == "called")
    assert called == 1
    page.once("dialog", lambda d: d.accept())
    page.click("#close-day")
    today = live["day"]
    from centre_server.web.i18n import STRINGS

    expect(page.locator("#toast")).to_have_text(STRINGS.tr("day_closed_msg", "en", date=today,
                                                           n=live["waiting"] + called))
    expect(page.locator("#day-banner")).to_be_visible()
    # a closed day offers only "Reopen today", not "Close the day" beside it
    expect(page.locator("#reopen-day")).to_be_visible()
    expect(page.locator("#close-day")).to_be_hidden()
    expect(page.locator("#kpi-waiting")).to_have_text("0")
    expect(page.locator("#kpi-counters")).to_have_text("0 / 30")
    assert [d["date"] for d in manager.get("/api/v1/day/summaries").json()] == [today]
    # a close pressed too soon is undone from the same banner: tickets again, until closed again
    page.once("dialog", lambda d: d.accept())
    page.click("#reopen-day")
    expect(page.locator("#toast")).to_have_text("The centre takes tickets again today.")
    expect(page.locator("#day-banner")).to_be_hidden()
    expect(page.locator("#close-day")).to_be_visible()
    assert manager.get("/api/v1/day").json()["open"] is True
    again = httpx.post(centre_server.url + "/api/v1/tickets", json={"service_id": "kra-pin"},
                       headers={"Authorization": f"Bearer {kiosk}"})
    assert again.status_code == 201, again.text
