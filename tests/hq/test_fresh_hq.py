"""A centre posting to a rebuilt headquarters (a new database) that has published no catalogue yet.

The centre ran version 3 of the old headquarters. The new one must take its night summary and its catalogue
report (what it runs and offers is still true) instead of refusing the report until someone publishes; the
centre then takes the new history's version 1 as soon as it is published.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from centre_server.catalogue.sync import CatalogueSync
from centre_server.config import load_settings
from centre_server.contract.catalogue import CATALOGUE_REPORT_PATH
from centre_server.dayclose import closing
from centre_server.runtime.centre import Centre
from centre_server.store import catalogue as catalogue_store
from hq.catalogue import CatalogueStore, seed_demo
from hq.store import Store
from tests.centre_server.test_catalogue_e2e import point_at, publish_fee
from tests.centre_server.test_dayclose import Day
from tests.hq.conftest import HqProcess, pg_schema
from tests.hq.test_sync import outbox, sender_for


def test_a_centre_of_the_old_history_posts_to_a_fresh_headquarters_before_anything_is_published(
        hq: HqProcess, pg_url: str, centre_dir, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old_token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    point_at(centre_dir, hq.url, old_token)
    old = CatalogueStore(Store(pg_url))
    assert seed_demo(old) == 1 and publish_fee(old, "kra-pin", 250) == 2 and publish_fee(old, "kra-pin", 350) == 3
    centre = Centre(load_settings(centre_dir.path))
    sync = CatalogueSync.for_centre(centre)
    try:
        assert sync.sync_once().version == 3
    finally:
        sync.close()
        centre.close()
    hq.stop()

    with pg_schema() as new_url:
        fresh = HqProcess(db_url=new_url, port=hq.port, log_path=tmp_path / "hq-fresh.log", cwd=tmp_path)
        fresh.start()
        try:
            token = fresh.add_centre("demo", "Huduma Centre GPO (demo)")
            point_at(centre_dir, fresh.url, token)

            # the night: the centre closes its day and sends the summary, then (a restart) its catalogue report
            day = Day(centre_dir.path)
            day.build()
            result = closing.close_with_centre(day.centre)
            day.centre.close()
            sender = sender_for(centre_dir.path, fresh.url, token)
            try:
                assert sender.send_due() == 1
            finally:
                sender.close()
            [row] = outbox(centre_dir.path)
            assert row["sent_at"] is not None and row["attempts"] == 1
            held = fresh.client().get(f"/api/v1/summaries/demo/{result.date}").json()
            assert held["summary"] == result.summary

            centre = Centre(load_settings(centre_dir.path))
            assert centre.catalogue.version == 3
            catalogue_store.set_report_due(centre.db, centre.clock())  # as every start of the server does
            sync = CatalogueSync(centre, fresh.url, token)
            try:
                with caplog.at_level(logging.WARNING):
                    result_sync = sync.sync_once()  # raised SyncError("report: HTTP 409 ...") before
                assert (result_sync.version, result_sync.applied, result_sync.reported) == (3, False, True)
                assert sync.last_error is None and catalogue_store.report_due(centre.db) is None
                assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

                # the receipt says plainly that this version is not one of this headquarters
                receipt = httpx.put(fresh.url + CATALOGUE_REPORT_PATH,
                                    content=centre.catalogue_report().model_dump_json(),
                                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                assert receipt.status_code == 200
                assert receipt.json() == {"centre_id": "demo", "version": 3, "newest": 0, "behind": False,
                                          "published_here": False}

                # a version no headquarters could have numbered is still refused, never stored (nor a 500)
                absurd = httpx.put(fresh.url + CATALOGUE_REPORT_PATH, json={"version": 2**41, "offerings": []},
                                   headers={"Authorization": f"Bearer {token}"})
                assert absurd.status_code == 409 and absurd.json()["error"]["code"] == "unknown_version"

                # headquarters' staff see it, in both languages, without a red "behind"
                admin = fresh.client("admin")
                page = admin.get("/admin/centres", params={"lang": "en"}).text
                assert "v3: not published here" in page
                assert "v3: haijachapishwa hapa" in admin.get("/admin/centres", params={"lang": "sw"}).text

                # headquarters publishes its first version: the centre takes it at its next pass and says so
                new = CatalogueStore(Store(new_url))
                assert seed_demo(new) == 1
                after = sync.sync_once()
                assert (after.version, after.applied, after.reported) == (1, True, True)
                assert new.centre_reports()["demo"]["version"] == 1
                page = admin.get("/admin/centres", params={"lang": "en"}).text
                assert "not published here" not in page and "v1" in page
            finally:
                sync.close()
                centre.close()
            assert "Traceback" not in (tmp_path / "hq-fresh.log").read_text()
        finally:
            fresh.stop()
    hq.start()  # the fixture stops it at the end

