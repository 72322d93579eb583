"""The national catalogue at headquarters (issue 19): versions, audit, CSV, and the API centres sync from.

The store runs on the machine's PostgreSQL (a private schema); the API is a real
``huduma-hq serve`` process on that same schema, so what the test publishes
through the store is what a centre downloads.
"""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from centre_server.contract import DEMO_HQ_TOKEN
from centre_server.contract.catalogue import (
    CATALOGUE_EPOCH_HEADER,
    CATALOGUE_PATH,
    CATALOGUE_REPORT_PATH,
    CATALOGUE_VERSION_HEADER,
    Catalogue,
    Text,
    catalogue_etag,
    shipped_catalogue,
)
from centre_server.sim.daysim import simulate_engine_day
from hq.catalogue import COLUMNS, CatalogueError, CatalogueStore, flatten, parse_csv, seed_demo, to_csv
from hq.store import Store
from tests.conftest import free_port, wait_until
from tests.hq.conftest import HqProcess
from tests.hq.test_board import send


@pytest.fixture
def cats(pg_url: str) -> CatalogueStore:
    store = Store(pg_url)
    store.migrate()
    c = CatalogueStore(store)
    c.migrate()
    return c


def _with_fee(cats: CatalogueStore, service_id: str, fee: int, actor: str = "wanjiku") -> None:
    draft = cats.draft().catalogue
    old = draft.service(service_id)
    assert old is not None
    cats.save_service(actor, old.model_copy(update={"fee": old.fee.model_copy(update={"amount_ksh": fee})}),
                      original_id=service_id, base=flatten(old))


def test_versions_are_numbered_immutable_and_audited(cats: CatalogueStore) -> None:
    shipped = shipped_catalogue()
    assert cats.newest_version() == 0 and cats.published() is None
    assert seed_demo(cats) == 1
    assert seed_demo(cats) is None  # a restart of the demo publishes nothing new
    first = cats.published(1)
    assert first is not None and first.services == shipped.services and first.demo == shipped.demo
    assert first.published_by == "demo" and first.published_at is not None

    with pytest.raises(CatalogueError) as nothing:
        cats.publish("wanjiku", "no change")
    assert nothing.value.code == "nothing_changed"

    sid = shipped.services[0].id
    _with_fee(cats, sid, 1234)
    draft = cats.draft()
    assert draft.base_version == 1
    assert [(c.service_id, c.field, c.before, c.after) for c in draft.changes] == [
        (sid, "fee_ksh", str(shipped.services[0].fee.amount_ksh), "1234")]
    with pytest.raises(CatalogueError) as no_note:
        cats.publish("wanjiku", "   ")
    assert no_note.value.code == "note_required"
    assert cats.publish("wanjiku", "New fee for the ID card") == 2

    assert cats.published(1) == first  # version 1 unchanged
    second = cats.published(2)
    assert second.service(sid).fee.amount_ksh == 1234 and second.published_by == "wanjiku"
    assert [v.version for v in cats.versions()] == [2, 1]
    assert cats.versions()[0].note == "New fee for the ID card"

    log = cats.audit()
    edit = next(e for e in log if e["action"] == "edit")
    assert (edit["actor"], edit["service_id"], edit["field"], edit["after"]) == ("wanjiku", sid, "fee_ksh", "1234")
    assert [e["version"] for e in log if e["action"] == "publish"] == [2, 1]


def test_a_stale_form_never_overwrites_another_admins_change(cats: CatalogueStore) -> None:
    seed_demo(cats)
    service = cats.draft().catalogue.services[1]
    seen = flatten(service)  # what admin A's form shows
    _with_fee(cats, service.id, 999, actor="b")  # admin B saves first
    mine = service.model_copy(update={"fee": service.fee.model_copy(update={"amount_ksh": 5})})
    with pytest.raises(CatalogueError) as clash:
        cats.save_service("a", mine, original_id=service.id, base=seen)
    assert clash.value.code == "changed_meanwhile" and "fee_ksh" in clash.value.fields
    assert cats.draft().catalogue.service(service.id).fee.amount_ksh == 999


def test_add_and_retire_services_and_standards(cats: CatalogueStore) -> None:
    seed_demo(cats)
    first = cats.draft().catalogue.services[0]
    copy = first.model_copy(update={"id": "hq-test-service", "prefix": first.prefix})
    with pytest.raises(CatalogueError) as dup:
        cats.save_service("a", copy)
    assert "prefix appears twice" in dup.value.message
    free = next(p for p in ("QZ", "QY", "QX") if p not in {s.prefix for s in cats.draft().catalogue.services})
    cats.save_service("a", copy.model_copy(update={"prefix": free, "name": Text(en="Land search", sw="Upekuzi")}))
    cats.retire_service("a", first.id)
    std = cats.draft().catalogue.standards.model_copy(update={"priority_streak_limit": 5})
    cats.set_standards("a", std)
    fields = {(c.service_id, c.field) for c in cats.draft().changes}
    assert {("hq-test-service", "service"), (first.id, "service"), (None, "priority_streak_limit")} <= fields
    number = cats.publish("a", "Land search added")
    published = cats.published(number)
    assert published.service(first.id) is None and published.service("hq-test-service") is not None
    assert published.standards.priority_streak_limit == 5
    assert cats.published(1).service(first.id) is not None  # history keeps it
    assert {e["action"] for e in cats.audit()} >= {"add", "retire", "standards", "publish"}


def test_csv_round_trip_is_exact(cats: CatalogueStore) -> None:
    seed_demo(cats)
    services = cats.published(1).services
    tricky = services[0].model_copy(update={"documents": [Text(en="- a copy of the =ID", sw="@nakala ya kitambulisho"),
                                                          Text(en="Photo, passport size", sw="Picha, pasipoti")]})
    services = [tricky, *services[1:]]
    text = to_csv(services)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS and len(rows) == len(services) + 1
    assert not any(c.startswith(("=", "+", "-", "@")) for r in rows for c in r)  # no formula reaches a spreadsheet
    parsed = parse_csv(text)
    assert parsed.errors == [] and parsed.services == services


def test_a_bad_csv_says_which_line_and_column(cats: CatalogueStore) -> None:
    seed_demo(cats)
    services = cats.published(1).services[:4]
    rows = list(csv.DictReader(io.StringIO(to_csv(services))))
    rows[0]["fee_ksh"] = "free"
    rows[1]["name_sw"] = ""
    rows[2]["documents_sw"] += " | hati ya ziada"
    rows[3]["id"] = rows[0]["id"]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    parsed = parse_csv(out.getvalue())
    by_line = {e.line: e.fields for e in parsed.errors}
    assert by_line[2] == {"fee_ksh": "whole_number"}
    assert by_line[3] == {"name_sw": "required"}
    assert "documents_sw" in by_line[4] and by_line[4]["documents_sw"].startswith("documents_pair|")
    assert by_line[5] == {"id": "also_on_line|2"}
    assert parse_csv("name,fee\nx,1\n").errors[0].fields["header"].startswith("missing_columns|id")
    assert parse_csv("").errors


def test_a_ticket_letter_held_by_another_service_of_the_draft_is_told_on_its_own_line(cats: CatalogueStore) -> None:
    """One row giving birth-cert-collect the KRA PIN's letter was told as "line 1, no id", after the others."""
    seed_demo(cats)
    draft = cats.draft().catalogue
    kra, collect, birth = draft.service("kra-pin"), draft.service("birth-cert-collect"), draft.service("birth-cert")
    rows = [flatten(birth), flatten(collect)]
    rows[0]["fee_ksh"] = "free"  # a wrong line beside it: both are told in one round
    rows[1]["prefix"] = kra.prefix
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    parsed = parse_csv(out.getvalue())
    assert [e.line for e in parsed.errors] == [2]
    assert [(e.line, e.service_id, e.fields) for e in parsed.clashes_with(draft)] == [
        (3, "birth-cert-collect", {"prefix": "duplicate_prefix"})]
    rows[1]["prefix"], rows[0]["prefix"] = birth.prefix, collect.prefix  # two swapping letters is no clash
    rows[0]["fee_ksh"] = "0"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    swapped = parse_csv(out.getvalue())
    assert not swapped.errors and not swapped.clashes_with(draft)


def test_the_api_serves_the_newest_version_with_etag_and_304(hq: HqProcess, pg_url: str) -> None:
    token = hq.add_centre("nakuru", "Huduma Centre Nakuru")
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(hq.url + CATALOGUE_PATH).status_code == 401
    empty = httpx.get(hq.url + CATALOGUE_PATH, headers=auth)
    assert empty.status_code == 404 and empty.json()["error"]["code"] == "no_catalogue"

    cats = CatalogueStore(Store(pg_url))
    seed_demo(cats)
    r = httpx.get(hq.url + CATALOGUE_PATH, headers=auth)
    epoch = r.headers[CATALOGUE_EPOCH_HEADER]  # this database's history (a rebuilt HQ numbers anew)
    assert r.status_code == 200 and r.headers["etag"] == catalogue_etag(1, epoch) == f'"v1-{epoch}"'
    assert Catalogue.model_validate(r.json()).services == shipped_catalogue().services
    again = httpx.get(hq.url + CATALOGUE_PATH, headers={**auth, "If-None-Match": f'"v1-{epoch}"'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == f'"v1-{epoch}"'

    _with_fee(cats, shipped_catalogue().services[0].id, 1500)
    cats.publish("wanjiku", "fee")
    newer = httpx.get(hq.url + CATALOGUE_PATH, headers={**auth, "If-None-Match": f'"v1-{epoch}"'})
    assert newer.status_code == 200 and newer.headers["etag"] == f'"v2-{epoch}"'
    assert newer.json()["version"] == 2 and newer.json()["services"][0]["fee"]["amount_ksh"] == 1500
    assert cats.centre_reports()["nakuru"]["running"] == 1  # its If-None-Match said what it ran


def test_a_centres_report_is_stored_and_bad_ones_refused(hq: HqProcess, pg_url: str) -> None:
    token = hq.add_centre("nakuru", "Huduma Centre Nakuru")
    auth = {"Authorization": f"Bearer {token}"}
    cats = CatalogueStore(Store(pg_url))
    seed_demo(cats)
    sid = shipped_catalogue().services[0].id
    report = {"version": 1, "applied_at": "2026-04-06T09:00:00+03:00", "offerings": [
        {"service_id": sid, "status": "suspended", "since": "2026-04-06T10:00:00+03:00",
         "reason": {"en": "The agency's system is down", "sw": "Mfumo wa wakala haufanyi kazi"}}]}
    r = httpx.put(hq.url + CATALOGUE_REPORT_PATH, json=report, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"centre_id": "nakuru", "version": 1, "newest": 1, "behind": False, "published_here": True}
    held = cats.centre_reports()["nakuru"]
    assert held["running"] == 1 and held["offerings"][0]["status"] == "suspended"
    assert held["offerings"][0]["reason"]["sw"] == "Mfumo wa wakala haufanyi kazi"

    too_new = httpx.put(hq.url + CATALOGUE_REPORT_PATH, json={**report, "version": 7}, headers=auth)
    assert too_new.status_code == 409 and too_new.json()["error"]["code"] == "unknown_version"
    no_reason = {"version": 1, "offerings": [{"service_id": sid, "status": "suspended"}]}
    for bad in (no_reason, {"version": -1}, {"version": 1, "surprise": True}, [1, 2]):
        r = httpx.put(hq.url + CATALOGUE_REPORT_PATH, json=bad, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", (bad, r.text)
    assert httpx.put(hq.url + CATALOGUE_REPORT_PATH, json=report).status_code == 401
    assert cats.centre_reports()["nakuru"]["offerings"][0]["status"] == "suspended"  # nothing lost


def test_a_summary_upload_says_which_version_the_centre_runs(hq: HqProcess, pg_url: str) -> None:
    token = hq.add_centre("thika", "Huduma Centre Thika")
    data = simulate_engine_day("2026-04-06", centre_id="thika", centre_name="Huduma Centre Thika", citizens=10,
                               seed=1)
    key = "thika:2026-04-06:1"
    body = {"key": key, "centre_id": "thika", "centre_name": "Huduma Centre Thika", "date": "2026-04-06",
            "revision": 1, "summary": data}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    bad = httpx.post(hq.url + "/api/v1/summaries", json=body, headers={**headers, CATALOGUE_VERSION_HEADER: "x"})
    assert bad.status_code == 422
    r = httpx.post(hq.url + "/api/v1/summaries", json=body, headers={**headers, CATALOGUE_VERSION_HEADER: "3"})
    assert r.status_code == 201, r.text
    assert CatalogueStore(Store(pg_url)).centre_reports()["thika"]["running"] == 3
    assert send(hq, token, data).status_code == 200  # without the header: still accepted (a duplicate)


def test_the_demo_headquarters_serves_the_shipped_catalogue_as_version_1(tmp_path) -> None:
    server = HqProcess(db_url="", port=free_port(), log_path=tmp_path / "hq.log", cwd=tmp_path, demo=True)
    server.start()
    try:
        r = httpx.get(server.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {DEMO_HQ_TOKEN}"})
        epoch = r.headers[CATALOGUE_EPOCH_HEADER]
        assert r.status_code == 200 and r.headers["etag"] == f'"v1-{epoch}"'
        assert r.json()["services"] == shipped_catalogue().model_dump(mode="json")["services"]
        banner = wait_until(lambda: re.search(r"demo admin +admin / (\S+)", server.log_path.read_text()),
                            what="the demo admin's password in the banner")
        password = banner.group(1)
        page = httpx.get(server.url + "/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        logged = httpx.post(server.url + "/admin/login", cookies=page.cookies,
                            data={"username": "admin", "password": password, "csrf": csrf})
        assert logged.status_code == 303 and "hq_session" in logged.cookies
        # one demo account per role, each landing on its own start page
        for role, home in (("agent", "/callcentre"), ("viewer", "/")):
            found = re.search(rf"demo {role} +{role} / (\S+)", server.log_path.read_text())
            assert found, server.log_path.read_text()[-1500:]
            page = httpx.get(server.url + "/admin/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            logged = httpx.post(server.url + "/admin/login", cookies=page.cookies,
                                data={"username": role, "password": found.group(1), "csrf": csrf, "next": "/admin"})
            assert logged.status_code == 303 and logged.headers["location"] == home
    finally:
        server.stop()
    server.start()  # a restart publishes nothing new and keeps the admin's password
    try:
        r = httpx.get(server.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {DEMO_HQ_TOKEN}",
                                                            "If-None-Match": f'"v1-{epoch}"'})
        assert r.status_code == 304
        assert server.log_path.read_text().count(f"admin / {password}") == 2
    finally:
        server.stop()


def test_where_a_fee_is_paid_goes_through_old_versions_the_csv_and_the_editor(cats: CatalogueStore) -> None:
    """Finding 2: the catalogue says where a fee is paid (``fee_paid_online``); a version published before the
    column, and a CSV exported before it, still load and mean the centre; "4,550" is a fee as pages show it."""
    import json

    from centre_server.contract.catalogue import FeePaid

    seed_demo(cats)
    old = shipped_catalogue().model_dump(mode="json")
    for s in old["services"]:
        del s["fee"]["paid"]
    with cats.store.tx() as cur:  # version 1 as an older headquarters published it
        cur.execute("UPDATE catalogue_versions SET body=? WHERE version=1", [json.dumps(old)])
    first = cats.published(1)
    assert first is not None and first.service("passport").fee.paid == FeePaid.centre
    assert flatten(old["services"][0])["fee_paid_online"] == "0"

    rows = list(csv.DictReader(io.StringIO(to_csv(cats.draft().catalogue.services))))
    assert {r["id"]: r["fee_paid_online"] for r in rows}["passport"] == "1"  # the draft is the shipped catalogue
    older = [c for c in COLUMNS if c != "fee_paid_online"]  # a file exported before the column
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=older, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "fee_ksh": "4,550"} if r["id"] == "passport" else r)
    parsed = parse_csv(out.getvalue())
    assert parsed.errors == []
    passport = next(s for s in parsed.services if s.id == "passport")
    assert (passport.fee.amount_ksh, passport.fee.paid) == (4550, FeePaid.centre)
    assert parse_csv(to_csv(cats.draft().catalogue.services)).services == cats.draft().catalogue.services

    # the editor: the draft (the shipped text) says the passport is paid online where version 1 said nothing;
    # unticking it for the business name leaves that service as version 1 had it; published, centres get both
    changes = {(c.service_id, c.field): (c.before, c.after) for c in cats.draft().changes}
    assert changes[("passport", "fee_paid_online")] == ("0", "1")
    name = cats.draft().catalogue.service("business-name")
    cats.save_service("wanjiku", name.model_copy(update={"fee": name.fee.model_copy(update={"paid": FeePaid.centre})}),
                      original_id="business-name", base=flatten(name))
    assert ("business-name", "fee_paid_online") not in {(c.service_id, c.field) for c in cats.draft().changes}
    assert cats.publish("wanjiku", "Say where each fee is paid") == 2
    second = cats.published(2)
    assert second.service("passport").fee.paid_online and not second.service("business-name").fee.paid_online
