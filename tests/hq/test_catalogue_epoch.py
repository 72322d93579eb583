"""A rebuilt headquarters numbers its catalogue versions from 1 again: a centre that ran version 3 of the old
one takes version 1 of the new one (a new epoch), keeps it across a restart, and follows it from there."""

from __future__ import annotations

from pathlib import Path

import httpx

from centre_server.catalogue.sync import CatalogueSync
from centre_server.config import load_settings
from centre_server.contract.catalogue import CATALOGUE_EPOCH_HEADER, CATALOGUE_PATH
from centre_server.runtime.centre import Centre
from centre_server.store import catalogue as catalogue_store
from hq.catalogue import CatalogueStore, seed_demo
from hq.store import Store
from tests.centre_server.test_catalogue_e2e import point_at, publish_fee
from tests.hq.conftest import HqProcess, pg_schema


def fee(centre: Centre, service_id: str = "kra-pin") -> int:
    info = centre.catalogue_payload().info(service_id)
    assert info is not None
    return info.service.fee.amount_ksh


def epoch_of(hq: HqProcess, token: str) -> str:
    r = httpx.get(hq.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["ETag"].endswith(f'-{r.headers[CATALOGUE_EPOCH_HEADER]}"')
    return r.headers[CATALOGUE_EPOCH_HEADER]


def test_a_centre_takes_version_1_of_a_rebuilt_headquarters_after_version_3_of_the_old(
        hq: HqProcess, pg_url: str, centre_dir, tmp_path: Path) -> None:
    old_token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    point_at(centre_dir, hq.url, old_token)
    old = CatalogueStore(Store(pg_url))
    assert seed_demo(old) == 1
    assert publish_fee(old, "kra-pin", 250) == 2
    assert publish_fee(old, "kra-pin", 350) == 3
    centre = Centre(load_settings(centre_dir.path))
    sync = CatalogueSync.for_centre(centre)
    try:
        assert sync.sync_once().version == 3 and fee(centre) == 350
        old_epoch = catalogue_store.epoch(centre.db)
        assert old_epoch == epoch_of(hq, old_token)
    finally:
        sync.close()
    hq.stop()

    # headquarters rebuilt: a new database (a schema of its own), the same address, the centre registered again
    with pg_schema() as new_url:
        rebuilt = HqProcess(db_url=new_url, port=hq.port, log_path=tmp_path / "hq-rebuilt.log", cwd=tmp_path)
        rebuilt.start()
        try:
            new_token = rebuilt.add_centre("demo", "Huduma Centre GPO (demo)")
            point_at(centre_dir, rebuilt.url, new_token)
            new = CatalogueStore(Store(new_url))
            assert seed_demo(new) == 1  # version 1 again, with the shipped fee
            shipped_fee = new.published(1).service("kra-pin").fee.amount_ksh  # type: ignore[union-attr]
            assert shipped_fee != 350
            new_epoch = epoch_of(rebuilt, new_token)
            assert new_epoch != old_epoch

            sync = CatalogueSync(centre, rebuilt.url, new_token)  # the running centre, told its new token
            try:
                result = sync.sync_once()
                assert (result.version, result.applied, result.reported) == (1, True, True)
                assert fee(centre) == shipped_fee and catalogue_store.epoch(centre.db) == new_epoch
                assert new.centre_reports()["demo"]["version"] == 1  # the rebuilt HQ knows what runs here
                assert sync.sync_once().applied is False  # now a 304, as for any centre up to date
            finally:
                sync.close()
                centre.close()

            # a restart runs the new history's version 1, not the old version 3 it once stored
            centre = Centre(load_settings(centre_dir.path))
            sync = CatalogueSync.for_centre(centre)
            try:
                assert centre.catalogue.version == 1 and fee(centre) == shipped_fee
                assert [v[0] for v in catalogue_store.versions(centre.db)] == [1]
                assert publish_fee(new, "kra-pin", 400) == 2  # and it follows the new history from there
                assert sync.sync_once().version == 2 and fee(centre) == 400
            finally:
                sync.close()
                centre.close()
            assert "Traceback" not in (tmp_path / "hq-rebuilt.log").read_text()
        finally:
            rebuilt.stop()
    hq.start()  # the fixture stops it at the end


def test_headquarters_answers_an_old_historys_etag_with_the_new_catalogue(hq: HqProcess, pg_url: str) -> None:
    """An If-None-Match of another epoch never matches (no 304 across a rebuild); a centre that knows no epoch
    yet (the bare "v<N>") gets the catalogue once, and with it the epoch."""
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    seed_demo(CatalogueStore(Store(pg_url)))
    epoch = epoch_of(hq, token)
    headers = {"Authorization": f"Bearer {token}"}
    for tag, status in ((f'"v1-{epoch}"', 304), ('"v1-0123456789abcdef"', 200), ('"v1"', 200), ('"v9"', 200)):
        r = httpx.get(hq.url + CATALOGUE_PATH, headers={**headers, "If-None-Match": tag})
        assert r.status_code == status, (tag, r.status_code)
