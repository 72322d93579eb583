"""The catalogue end to end: a real centre process on a real broker (and, below, a real headquarters on
PostgreSQL). A suspension refuses issue through the API, shows on retained state, and survives a restart."""

from __future__ import annotations

import json
import re

import pytest

from centre_server.catalogue.offerings import set_offering
from centre_server.catalogue.sync import CatalogueSync, SyncError, SyncResult
from centre_server.config import load_settings
from centre_server.contract import Topics
from centre_server.contract.catalogue import CatalogueStatePayload, OfferingStatus, Text
from centre_server.dayclose import closing, upstream
from centre_server.runtime.centre import Centre
from centre_server.store import catalogue as catalogue_store
from hq.catalogue import CatalogueStore, flatten, seed_demo
from hq.store import Store
from tests.centre_server.test_server_process import Listener
from tests.conftest import CentreProcess, free_port, wait_until
from tests.hq.conftest import hq, pg_url  # noqa: F401  (fixtures: a real headquarters on PostgreSQL)

REASON = {"en": "KRA's iTax system is down", "sw": "Mfumo wa iTax wa KRA haufanyi kazi"}


def retained(port: int, topic: str, pred=lambda payload: True, timeout: float = 10.0) -> dict:
    """What a device that connects now reads on ``topic`` (retained state alone), once ``pred`` holds."""
    sub = Listener(port, topic)
    try:
        msg = sub.wait_for(lambda m: m[0] == topic and m[2] and pred(json.loads(m[1])), timeout)
        return json.loads(msg[1])
    finally:
        sub.close()


def test_a_suspension_refuses_issue_shows_on_retained_state_and_survives_a_restart(centre_dir, mosquitto, tmp_path):
    toml = centre_dir.path / "centre.toml"
    toml.write_text(toml.read_text().replace('hq_url = ""', f'hq_url = "http://127.0.0.1:{free_port()}"'))
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    topics = Topics("demo")
    server.start()
    try:
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        manager = server.client(server.login("manager"))
        assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).status_code == 201
        events = Listener(mosquitto.port, topics.event("service_suspended"))
        r = manager.post("/api/v1/catalogue/kra-pin/offering", json={"status": "suspended", "reason": REASON})
        assert r.status_code == 200, r.text
        told = json.loads(events.wait_for(lambda m: True)[1])
        events.close()
        assert told["service_id"] == "kra-pin" and told["reason_sw"] == REASON["sw"] and told["waiting"] == 1
        refused = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert refused.status_code == 409 and refused.json()["error"]["reason_en"] == REASON["en"]
        state = retained(mosquitto.port, topics.service_state("kra-pin"), lambda p: p["accepting"] is False)
        assert state["refusal"] == "service_suspended" and state["waiting"] == 1
        cat = CatalogueStatePayload.model_validate(retained(mosquitto.port, topics.catalogue_state))
        assert cat.info("kra-pin").offering.status == "suspended"
        assert cat.info("kra-pin").offering.reason.sw == REASON["sw"]
    finally:
        server.stop()
    mosquitto.restart()  # nothing retained survives: what the server says after its restart is its own truth
    server.start()
    try:
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        refused = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "service_suspended"
        state = retained(mosquitto.port, topics.service_state("kra-pin"))
        assert state["accepting"] is False and state["refusal"] == "service_suspended" and state["waiting"] == 1
        cat = CatalogueStatePayload.model_validate(retained(mosquitto.port, topics.catalogue_state))
        assert cat.info("kra-pin").offering.status == "suspended" and cat.info("kra-pin").offering.by == "manager"
    finally:
        server.stop()


# ---------------------------------------------------------------- with a real headquarters


def point_at(centre_dir, url: str, token: str) -> None:
    """The centre's [upstream] link: headquarters' address and this centre's token (as provisioning writes it)."""
    toml = centre_dir.path / "centre.toml"
    text = re.sub(r'(?m)^hq_url = .*$', f'hq_url = "{url}"', toml.read_text())
    text = re.sub(r'(?m)^hq_token = .*$', f'hq_token = "{token}"', text)
    toml.write_text(text)


def publish_fee(cats: CatalogueStore, service_id: str, fee: int, actor: str = "wanjiku") -> int:
    """An HQ admin changes one fee and publishes: the next version's number."""
    old = cats.draft().catalogue.service(service_id)
    assert old is not None
    cats.save_service(actor, old.model_copy(update={"fee": old.fee.model_copy(update={"amount_ksh": fee})}),
                      original_id=service_id, base=flatten(old))
    return cats.publish(actor, f"New fee for {service_id}: KSh {fee}")


def test_the_client_fetches_only_what_it_lacks_and_reports_to_a_real_headquarters(hq, pg_url, centre_dir) -> None:
    point_at(centre_dir, hq.url, hq.add_centre("demo", "Huduma Centre GPO (demo)"))
    cats = CatalogueStore(Store(pg_url))
    centre = Centre(load_settings(centre_dir.path))
    sync = CatalogueSync.for_centre(centre)
    try:
        result = sync.sync_once()  # nothing published yet: the centre keeps the shipped version
        assert (result.version, result.applied) == (0, False) and sync.last_error is None
        assert seed_demo(cats) == 1
        assert publish_fee(cats, "kra-pin", 250) == 2
        result = sync.sync_once()
        assert (result.version, result.applied, result.reported) == (2, True, True)
        assert centre.catalogue_payload().info("kra-pin").service.fee.amount_ksh == 250
        assert catalogue_store.report_due(centre.db) is None
        reports = cats.centre_reports()["demo"]
        assert reports["version"] == 2 and reports["running"] == 2
        assert sync.sync_once() == SyncResult(version=2, applied=False, reported=False)  # a 304: nothing to do

        set_offering(centre, "kra-pin", OfferingStatus.suspended,
                     Text(en=REASON["en"], sw=REASON["sw"]), by="manager")
        assert sync.sync_once().reported is True
        offered = {o["service_id"]: o for o in cats.centre_reports()["demo"]["offerings"]}
        assert offered["kra-pin"]["status"] == "suspended" and offered["kra-pin"]["reason"]["sw"] == REASON["sw"]
        assert offered["birth-cert"]["status"] == "offered"

        wrong = CatalogueSync(centre, hq.url, "not-the-token")
        with pytest.raises(SyncError) as err:
            wrong.sync_once()
        assert "401" in str(err.value) and centre.catalogue.version == 2
        wrong.close()
    finally:
        sync.close()
        centre.close()
    # the nightly summary says so too (X-Catalogue-Version), for HQ's uniformity page
    settings = load_settings(centre_dir.path)
    closing.close_offline(settings)
    sender = upstream.Sender.for_settings(settings)
    try:
        assert sender.send_due() == 1
    finally:
        sender.close()
    with cats.store.tx() as cur:
        cur.execute("SELECT seen_version, seen_at >= reported_at FROM centre_catalogue WHERE centre_id='demo'")
        assert tuple(cur.fetchone()) == (2, True)


def test_a_centre_cut_off_from_headquarters_picks_up_the_new_fee_when_the_link_returns(
        hq, pg_url, centre_dir, mosquitto, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HUDUMA_SYNC_RETRY_MIN_S", "0.2")  # the server's backoff while HQ is away: short, for a test
    monkeypatch.setenv("HUDUMA_SYNC_RETRY_MAX_S", "1")
    point_at(centre_dir, hq.url, hq.add_centre("demo", "Huduma Centre GPO (demo)"))
    toml = centre_dir.path / "centre.toml"  # ask every 5 s (the least centre.toml allows) instead of 5 minutes
    toml.write_text(re.sub(r"(?m)^catalogue_every_s = \d+", "catalogue_every_s = 5", toml.read_text()))
    cats = CatalogueStore(Store(pg_url))
    assert seed_demo(cats) == 1
    topics = Topics("demo")
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        health = server.client()
        wait_until(lambda: health.get("/healthz").json()["catalogue_version"] == 1, 15, "version 1 at the centre")
        manager = server.client(server.login("manager"))
        hq.stop()  # the link is cut: the centre keeps running version 1
        wait_until(lambda: manager.get("/api/v1/catalogue/sync").json()["last_error"], 15, "the failure seen")
        assert publish_fee(cats, "kra-pin", 350) == 2  # published at HQ while the centre cannot see it
        assert health.get("/healthz").json()["catalogue_version"] == 1
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        assert kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"}).status_code == 201  # it still works
        hq.start()  # the link returns
        wait_until(lambda: health.get("/healthz").json()["catalogue_version"] == 2, 20, "version 2 at the centre")
        cat = CatalogueStatePayload.model_validate(
            retained(mosquitto.port, topics.catalogue_state, lambda p: p["version"] == 2))
        assert cat.info("kra-pin").service.fee.amount_ksh == 350 and cat.applied_at is not None
        assert manager.get("/api/v1/catalogue/kra-pin").json()["service"]["fee"]["amount_ksh"] == 350
        wait_until(lambda: cats.centre_reports().get("demo", {}).get("version") == 2, 15, "HQ told of version 2")

        r = manager.post("/api/v1/catalogue/kra-pin/offering", json={"status": "suspended", "reason": REASON})
        assert r.status_code == 200, r.text
        refused = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "service_suspended"
        state = retained(mosquitto.port, topics.service_state("kra-pin"), lambda p: p["accepting"] is False)
        assert state["refusal"] == "service_suspended" and state["waiting"] == 1
        wait_until(lambda: {o["service_id"]: o["status"] for o in
                            cats.centre_reports()["demo"]["offerings"] or []}.get("kra-pin") == "suspended",
                   15, "HQ told of the suspension")
    finally:
        server.stop()
    hq.stop()  # a restart with headquarters away: the centre runs what it stored
    server.start()
    try:
        health = server.client().get("/healthz").json()
        assert health["catalogue_version"] == 2
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        refused = kiosk.post("/api/v1/tickets", json={"service_id": "kra-pin"})
        assert refused.status_code == 409 and refused.json()["error"]["reason_sw"] == REASON["sw"]
        cat = CatalogueStatePayload.model_validate(
            retained(mosquitto.port, topics.catalogue_state, lambda p: p["version"] == 2))
        assert cat.info("kra-pin").offering.status == "suspended"
        assert cat.info("kra-pin").service.fee.amount_ksh == 350
    finally:
        server.stop()
