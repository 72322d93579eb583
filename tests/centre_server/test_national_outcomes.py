"""Outcome codes from the national catalogue: an HQ admin sets a service's codes in the editor (a real
headquarters on PostgreSQL), two centres with different menus sync it, and both record the same national codes
with the same labels in both languages; a centre's menu only adds codes of its own after them."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

from centre_server.catalogue.sync import CatalogueSync
from centre_server.config import load_settings
from centre_server.menu import builtin_menu
from centre_server.queue import engine
from centre_server.runtime.centre import Centre
from centre_server.store import database as storage
from centre_server.web.reports import report
from hq.catalogue import CatalogueStore, flatten, seed_demo
from hq.store import Store
from tests.centre_server.test_catalogue_e2e import point_at
from tests.conftest import Centre as CentreDir, provision
from tests.hq.conftest import hq, pg_url  # noqa: F401  (fixtures: a real headquarters on PostgreSQL)
from tests.hq.test_catalogue_editor import add_admin, csrf_of, login

NATIONAL_KRA = ["served", "documents_missing", "system_down", "application_lodged"]


def with_menu_outcomes(path, service_id: str, outcomes: tuple[str, ...]) -> None:
    """The centre's own menu lists ``outcomes`` for the service (as a technician's menu import would)."""
    db = storage.connect(path / "centre.db")
    try:
        storage.save_menu(db, [dataclasses.replace(s, outcomes=outcomes) if s.id == service_id else s
                               for s in builtin_menu()])
    finally:
        db.conn.close()


def synced(path) -> Centre:
    centre = Centre(load_settings(path))
    sync = CatalogueSync.for_centre(centre)
    try:
        sync.sync_once()
    finally:
        sync.close()
    return centre


def codes(centre: Centre, service_id: str) -> list[tuple[str, str, str, bool]]:
    return [(o.code, o.label_en, o.label_sw, o.reason_required) for o in engine.outcomes_of(centre.state, service_id)]


def test_two_centres_record_the_nations_codes_for_a_service_and_their_menus_only_add(
        hq, pg_url, centre_dir, tmp_path) -> None:  # noqa: F811
    cats = CatalogueStore(Store(pg_url))
    cats.migrate()
    assert seed_demo(cats) == 1
    # the HQ admin's editor: kra-pin's outcome codes, one unknown code refused on the field in both languages
    admin = login(hq, "akinyi", add_admin(hq, "akinyi"))
    csrf = csrf_of(admin)
    row = flatten(cats.draft().catalogue.service("kra-pin"))
    base = {f"base_{k}": v for k, v in row.items()}
    bad = admin.post("/admin/services/kra-pin?lang=sw", data={"csrf": csrf, **row, **base,
                                                             "outcomes": "served; pin_printed"})
    assert bad.status_code == 422 and "si msimbo wa matokeo wa kitaifa" in bad.text
    no_served = admin.post("/admin/services/kra-pin?lang=en",
                           data={"csrf": csrf, **row, **base, "outcomes": "referred"})
    assert no_served.status_code == 422 and "the list must include &#39;served&#39;" in no_served.text
    ok = admin.post("/admin/services/kra-pin", data={"csrf": csrf, **row, **base,
                                                     "outcomes": "; ".join(NATIONAL_KRA)})
    assert ok.status_code == 303, ok.text[:400]
    assert admin.post("/admin/publish", data={"csrf": csrf, "note": "KRA PIN outcome codes"}).status_code == 303
    assert cats.published(2).service("kra-pin").outcomes == NATIONAL_KRA  # type: ignore[union-attr]
    assert "outcomes" in admin.get("/admin/catalogue.csv").text.splitlines()[0]

    # centre A: the demo menu (kra-pin lists referred and not_eligible too); centre B: its own "fee_unpaid"
    point_at(centre_dir, hq.url, hq.add_centre("demo", "Huduma Centre GPO (demo)"))
    b_path = tmp_path / "thika"
    provision(b_path, "init", str(b_path), "--demo", "--centre-id", "demo-thika", "--mqtt-port", "1884")
    with_menu_outcomes(b_path, "kra-pin", ("served", "fee_unpaid"))
    b_dir = CentreDir(path=b_path, credentials={})
    point_at(b_dir, hq.url, hq.add_centre("demo-thika", "Huduma Centre Thika (demo)"))

    a, b = synced(centre_dir.path), synced(b_path)
    try:
        assert a.catalogue.version == b.catalogue.version == 2
        national = codes(a, "kra-pin")[:4]
        assert [c[0] for c in national] == NATIONAL_KRA and national == codes(b, "kra-pin")[:4]
        assert ("application_lodged", "Application lodged", "Maombi yamewasilishwa", False) in national
        assert ("documents_missing", "Documents missing", "Hati hazijakamilika", True) in national
        assert [c[0] for c in codes(a, "kra-pin")[4:]] == ["referred", "not_eligible"]  # A's menu adds these
        assert [c[0] for c in codes(b, "kra-pin")[4:]] == ["fee_unpaid"]  # B's menu adds its own, drops none
        # a service the nation gives codes to, and one it leaves to the menus
        assert [c[0] for c in codes(b, "id-card-new")] == ["served", "documents_missing", "referred",
                                                            "not_eligible", "application_lodged"]
        assert [c[0] for c in codes(b, "birth-cert")] == list(engine.DEFAULT_OUTCOMES)

        # a clerk at centre B records a national code: the report names it in both languages
        b.execute(engine.IssueTicket(str(uuid.uuid4()), "kra-pin"))
        b.execute(engine.OpenCounter("c12", clerk="clerk"))
        b.execute(engine.CallNext("c12", clerk="clerk"))
        b.execute(engine.Complete("c12", "application_lodged"))
        day = report(b, date.fromisoformat(b.state.day), date.fromisoformat(b.state.day))
        assert day["outcome_labels"]["application_lodged"] == {"en": "Application lodged",
                                                               "sw": "Maombi yamewasilishwa"}
        assert day["clerks"][0]["outcomes"] == {"application_lodged": 1}
    finally:
        a.close()
        b.close()
    # a restart runs the stored national version: the same codes, and the menu on disk is still the centre's own
    again = Centre(load_settings(b_path))
    try:
        assert [c[0] for c in codes(again, "kra-pin")] == [*NATIONAL_KRA, "fee_unpaid"]
    finally:
        again.close()
    db = storage.connect(b_path / "centre.db")
    try:
        menu = db.execute("SELECT outcomes FROM services WHERE id='kra-pin'").fetchone()[0]
        assert menu == '["served", "fee_unpaid"]'
    finally:
        db.conn.close()


def test_headquarters_retires_a_code_no_centre_offers_it_and_the_records_keep_its_words(
        hq, pg_url, centre_dir) -> None:  # noqa: F811
    cats = CatalogueStore(Store(pg_url))
    cats.migrate()
    assert seed_demo(cats) == 1
    listing = [s.id for s in cats.draft().catalogue.services if "not_eligible" in s.outcomes]
    assert listing  # the shipped catalogue gives it to services
    admin = login(hq, "wanjiru", add_admin(hq, "wanjiru"))
    csrf = csrf_of(admin, "/admin/outcomes")
    assert admin.post("/admin/outcomes/not_eligible/retire", data={}).status_code == 403  # no form token
    served = admin.post("/admin/outcomes/served/retire?lang=sw", data={"csrf": csrf})
    assert served.status_code == 409 and "hauwezi kustaafishwa" in served.text and "Traceback" not in served.text
    unknown = admin.post("/admin/outcomes/walked_out/retire?lang=en", data={"csrf": csrf})
    assert unknown.status_code == 404 and "There is no outcome code walked_out" in unknown.text

    # the CSV the admin exports carries each service's codes; it reads back as the same draft
    before_csv = admin.get("/admin/catalogue.csv").text
    assert "not_eligible" in before_csv
    again = admin.post("/admin/import", data={"csrf": csrf}, files={"file": ("catalogue.csv", before_csv.encode())})
    assert again.status_code == 200, again.text[:400]
    assert cats.draft().catalogue.service(listing[0]).outcomes == cats.published(1).service(listing[0]).outcomes  # type: ignore[union-attr]

    retired = admin.post("/admin/outcomes/not_eligible/retire", data={"csrf": csrf})
    assert retired.status_code == 303 and retired.headers["location"] == "/admin/outcomes?retired=not_eligible"
    page = admin.get("/admin/outcomes?retired=not_eligible&lang=sw").text
    assert "Msimbo wa matokeo not_eligible umeondolewa" in page
    draft = cats.draft().catalogue
    assert draft.outcome("not_eligible") is not None  # kept: its labels, for the records
    assert not any("not_eligible" in s.outcomes for s in draft.services)
    assert "not_eligible" not in admin.get("/admin/catalogue.csv").text  # the export says so too
    twice = admin.post("/admin/outcomes/not_eligible/retire", data={"csrf": csrf})
    assert twice.headers["location"] == "/admin/outcomes?unused=not_eligible"
    log = admin.get("/admin/audit?lang=en").text
    assert "outcome code retired" in log
    assert admin.post("/admin/publish", data={"csrf": csrf, "note": "not_eligible retired"}).status_code == 303

    # the demo centre's own menu lists not_eligible for kra-pin: it is not offered through the menu either,
    # while a clerk's earlier record of it still reads in both languages
    point_at(centre_dir, hq.url, hq.add_centre("demo", "Huduma Centre GPO (demo)"))
    earlier = Centre(load_settings(centre_dir.path))
    try:
        assert "not_eligible" in [c[0] for c in codes(earlier, "kra-pin")]  # before the sync: the menu's
        earlier.execute(engine.IssueTicket(str(uuid.uuid4()), "kra-pin"))
        earlier.execute(engine.OpenCounter("c12", clerk="clerk"))
        earlier.execute(engine.CallNext("c12", clerk="clerk"))
        earlier.execute(engine.Complete("c12", "not_eligible", reason="not a taxpayer yet"))
    finally:
        earlier.close()
    a = synced(centre_dir.path)
    try:
        assert a.catalogue.version == 2
        for sid in {*listing, "kra-pin"}:
            assert "not_eligible" not in [c[0] for c in codes(a, sid)], sid
        day = report(a, date.fromisoformat(a.state.day), date.fromisoformat(a.state.day))
        assert day["outcome_labels"]["not_eligible"] == {"en": "Could not be served", "sw": "Hakuweza kuhudumiwa"}
        assert day["clerks"][0]["outcomes"] == {"not_eligible": 1}
    finally:
        a.close()
