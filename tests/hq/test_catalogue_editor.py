"""The HQ admin's catalogue editor in a real browser: log in, change a fee, publish, a centre sees it.

A real ``huduma-hq serve`` on PostgreSQL; the admin account made by ``huduma-hq
add-admin``; headless Chromium through Playwright. Screenshots of every page in
English and Kiswahili go to ``tests/artifacts/hq/``. Refusals (no session, a
viewer, a form without its CSRF token, a locked account) are checked over HTTP.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess

import httpx
import pytest

from centre_server.contract.catalogue import CATALOGUE_PATH, CATALOGUE_REPORT_PATH, Catalogue, shipped_catalogue
from hq.auth import Accounts, HqRole
from hq.catalogue import COLUMNS, CatalogueStore, seed_demo
from hq.store import Store
from tests.conftest import BIN, artifacts_dir
from tests.hq.conftest import HqProcess


def add_admin(hq: HqProcess, username: str) -> str:
    out = subprocess.run([str(BIN / "huduma-hq"), "add-admin", username, "--db", hq.db_url],
                         capture_output=True, text=True, timeout=60, cwd=hq.cwd)
    assert out.returncode == 0, out.stderr
    return re.search(r"^password: (\S+)$", out.stdout, re.M).group(1)


def login(hq: HqProcess, username: str, password: str) -> httpx.Client:
    """A client with a session, logged in through the form as a browser would."""
    client = httpx.Client(base_url=hq.url, follow_redirects=False)
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/admin/login", data={"username": username, "password": password, "csrf": csrf,
                                          "next": "/admin"})
    assert r.status_code == 303, r.text[:500]
    return client


def csrf_of(client: httpx.Client, path: str = "/admin") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


@pytest.fixture
def seeded(hq: HqProcess, pg_url: str) -> CatalogueStore:
    cats = CatalogueStore(Store(pg_url))
    cats.migrate()
    seed_demo(cats)
    return cats


def test_an_admin_changes_a_fee_publishes_and_a_centre_gets_it(hq: HqProcess, seeded: CatalogueStore,
                                                               browser) -> None:
    password = add_admin(hq, "wanjiku")
    token = hq.add_centre("nakuru", "Huduma Centre Nakuru")
    first = seeded.published(1).services[0]
    out = artifacts_dir("hq")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{hq.url}/admin?lang=en")
        assert "/admin/login" in page.url  # no session: the login form, then back
        page.fill("input[name=username]", "wanjiku")
        page.fill("input[name=password]", "not-the-password")
        page.click("button[type=submit]")
        assert "Wrong username or password" in page.locator("#login-error").inner_text()
        page.screenshot(path=str(out / "admin-login-refused-en.png"), full_page=True)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{hq.url}/admin?lang=en")  # back where the admin was going
        rows = page.locator("#services tbody tr")
        assert rows.count() == len(seeded.published(1).services)
        assert "The draft is the same as the newest version" in page.locator("#draft").inner_text()
        page.screenshot(path=str(out / "admin-catalogue-en.png"), full_page=True)

        page.fill("input[name=q]", first.name.en)
        page.click("text=Filter")
        assert page.locator(f'#services tr[data-service="{first.id}"]').count() == 1

        page.click(f'#services tr[data-service="{first.id}"] a')
        page.fill("input[name=fee_ksh]", "two thousand")
        page.fill("input[name=name_sw]", "")
        page.click("#save")
        assert page.locator("#form-errors").is_visible()
        assert page.locator('.field-error[data-field="fee_ksh"]').inner_text() == "a whole number"
        assert page.locator('.field-error[data-field="name_sw"]').inner_text() == "required"
        page.screenshot(path=str(out / "admin-service-errors-en.png"), full_page=True)
        page.fill("input[name=fee_ksh]", "2,500")  # as every page shows a fee: taken, not "a whole number"
        assert not page.locator("input[name=fee_paid_online]").is_checked()  # the first ID is free: nothing online
        page.fill("input[name=name_sw]", first.name.sw)
        page.click("#save")
        page.wait_for_url(re.compile(r".*/admin\?saved="))
        assert page.locator(f'#services tr[data-service="{first.id}"]').inner_text().count("2,500") == 1
        assert "Changes not yet published: 1" in page.locator("#draft").inner_text()

        page.fill("textarea[name=note]", "New fee from the agency's gazette notice")
        page.click("#publish")
        assert "Version 2 is published" in page.locator("#published").inner_text()
        page.screenshot(path=str(out / "admin-published-en.png"), full_page=True)

        got = httpx.get(hq.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {token}",
                                                          "If-None-Match": '"v1"'})
        assert got.status_code == 200 and got.headers["etag"] == f'"v2-{got.headers["X-Catalogue-Epoch"]}"'
        assert next(s for s in got.json()["services"] if s["id"] == first.id)["fee"]["amount_ksh"] == 2500

        page.goto(f"{hq.url}/admin/versions/2")
        change = page.locator('#changes tr[data-field="fee_ksh"]')
        assert change.locator(".before").inner_text() == str(first.fee.amount_ksh)
        assert change.locator(".after").inner_text() == "2500"
        page.screenshot(path=str(out / "admin-diff-en.png"), full_page=True)
        page.goto(f"{hq.url}/admin/audit")
        assert "wanjiku" in page.locator('#audit tr[data-action="edit"]').first.inner_text()
        assert page.locator('#audit tr[data-action="publish"]').count() == 2
        page.screenshot(path=str(out / "admin-audit-en.png"), full_page=True)

        # the centre says it still runs version 1 and has suspended a service: HQ shows it
        sid = seeded.published(2).services[1].id
        report = {"version": 1, "offerings": [
            {"service_id": sid, "status": "suspended", "since": "2026-04-06T10:00:00+03:00",
             "reason": {"en": "The agency's system is down", "sw": "Mfumo wa wakala haufanyi kazi"}},
            {"service_id": first.id, "status": "not_offered",
             "reason": {"en": "No agency desk here", "sw": "Hakuna dawati la wakala hapa"}}]}
        assert httpx.put(hq.url + CATALOGUE_REPORT_PATH, json=report,
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page.goto(f"{hq.url}/admin/centres")
        row = page.locator('#by-centre tr[data-centre="nakuru"]')
        assert "behind" in row.first.inner_text() and "The agency's system is down" in row.first.inner_text()
        assert "No agency desk here" in row.nth(1).inner_text()
        page.screenshot(path=str(out / "admin-by-centre-en.png"), full_page=True)
        page.goto(f"{hq.url}/?lang=en")
        assert "Catalogue v1 (behind)" in page.locator('#centres tr[data-centre="nakuru"]').inner_text()

        for path, name in [("/admin", "catalogue"), (f"/admin/services/{first.id}", "service"),
                           ("/admin/versions/2", "diff"), ("/admin/audit", "audit"), ("/admin/centres", "by-centre"),
                           ("/admin/standards", "standards"), ("/admin/import", "import")]:
            page.goto(f"{hq.url}{path}?lang=sw")
            assert page.locator("html").get_attribute("lang") == "sw"
            page.screenshot(path=str(out / f"admin-{name}-sw.png"), full_page=True)
        page.goto(f"{hq.url}/admin/centres")
        assert "Imesimamishwa" in page.locator("#by-centre").inner_text()
        assert "Mfumo wa wakala haufanyi kazi" in page.locator("#by-centre").inner_text()
    finally:
        page.close()


def test_csv_import_shows_each_wrong_line_and_changes_nothing_until_all_are_right(
        hq: HqProcess, seeded: CatalogueStore, browser, tmp_path) -> None:
    password = add_admin(hq, "otieno")
    client = login(hq, "otieno", password)
    exported = client.get("/admin/catalogue.csv", params={"version": "1"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    rows[0]["fee_ksh"] = "-5"
    rows[2]["documents_sw"] = ""
    bad = tmp_path / "bad.csv"
    good = tmp_path / "good.csv"
    for path, data in ((bad, rows), (good, None)):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        if data is None:
            fixed = list(csv.DictReader(io.StringIO(exported.text)))
            fixed[0]["target_wait_min"] = "17"
            w.writerows(fixed)
        else:
            w.writerows(data)
        path.write_text(buf.getvalue(), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{hq.url}/admin/login?next=/admin/import")
        page.fill("input[name=username]", "otieno")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{hq.url}/admin/import")
        page.set_input_files("input[name=file]", str(bad))
        page.click("#import")
        errors = page.locator("#import-errors")
        assert "Nothing was imported. Lines with a problem: 2." in errors.inner_text()
        fee = page.locator('#import-errors tr[data-line="2"][data-field="fee_ksh"]')
        assert fee.inner_text().endswith("at least 0")
        assert page.locator('#import-errors tr[data-line="4"][data-field="documents_sw"]').count() == 1
        page.screenshot(path=str(artifacts_dir("hq") / "admin-import-errors-en.png"), full_page=True)
        assert seeded.draft().changes == []  # nothing half-imported
        page.set_input_files("input[name=file]", str(good))
        page.click("#import")
        assert "Changes made to the draft: 1." in page.locator("#imported").inner_text()
    finally:
        page.close()
    [change] = seeded.draft().changes
    assert (change.field, change.after) == ("target_wait_min", "17")
    assert seeded.audit()[0]["action"] == "import" and seeded.audit()[0]["note"] == "good.csv"


def test_without_a_session_a_role_or_a_csrf_token_nothing_changes(hq: HqProcess, seeded: CatalogueStore,
                                                                   pg_url: str) -> None:
    anonymous = httpx.Client(base_url=hq.url, follow_redirects=False)
    r = anonymous.get("/admin/services/new")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?next=")
    r = anonymous.post("/admin/publish", data={"note": "x", "csrf": "x"})
    assert r.status_code == 303 and "/admin/login" in r.headers["location"]
    assert anonymous.get("/admin/catalogue.csv").status_code == 303

    accounts = Accounts(Store(pg_url))
    accounts.add("viewer1", HqRole.viewer, "viewer-password-1")
    viewer = login(hq, "viewer1", "viewer-password-1")
    assert viewer.get("/admin").status_code == 403
    assert viewer.get("/admin/centres").status_code == 200  # any headquarters role may look
    csrf = csrf_of(viewer, "/admin/centres")
    refused = viewer.post("/admin/publish", data={"note": "sneaky", "csrf": csrf})
    assert refused.status_code == 403 and "Your role does not allow this page" in refused.text

    password = add_admin(hq, "kamau")
    admin = login(hq, "kamau", password)
    first = seeded.published(1).services[0]
    form = {"csrf": "", **dict.fromkeys(COLUMNS, ""), "name_en": "X", "fee_ksh": "1"}
    for bad in ("", "forged"):
        r = admin.post(f"/admin/services/{first.id}", data={**form, "csrf": bad})
        assert r.status_code == 403 and "nothing was changed" in r.text
    r = admin.post("/admin/publish", data={"note": "no token"})
    assert r.status_code == 403
    assert seeded.draft().changes == [] and seeded.newest_version() == 1
    assert [e for e in seeded.audit() if e["action"] != "publish"] == []

    cookie = admin.cookies.get("hq_session")
    assert cookie
    login_page = admin.get("/admin/login")
    assert login_page.status_code == 200
    set_cookie = httpx.post(hq.url + "/admin/login", data={"username": "kamau", "password": password})
    assert set_cookie.status_code == 403  # a login form that did not come from the page
    log = hq.log_path.read_text()
    assert "Traceback" not in log and "refused a form without its CSRF token from kamau" in log


def test_a_session_cookie_is_httponly_strict_and_logins_lock_out(hq: HqProcess, seeded: CatalogueStore) -> None:
    password = add_admin(hq, "akinyi")
    client = httpx.Client(base_url=hq.url, follow_redirects=False)
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/admin/login", data={"username": "akinyi", "password": password, "csrf": csrf})
    raw = r.headers["set-cookie"]
    assert "hq_session=" in raw and "HttpOnly" in raw and "SameSite=strict" in raw.replace("Strict", "strict")

    answers = []
    for _ in range(6):
        page = client.get("/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post("/admin/login", data={"username": "akinyi", "password": "wrong", "csrf": csrf})
        answers.append(r.status_code)
    assert answers == [401] * 5 + [429]
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/admin/login", data={"username": "akinyi", "password": password, "csrf": csrf})
    assert r.status_code == 429 and "try again in 15 minutes" in r.text  # locked even with the right password
    # an unknown name answers the same way
    unknown = []
    for _ in range(6):
        page = client.get("/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        unknown.append(client.post("/admin/login", data={"username": "nobody", "password": "x",
                                                         "csrf": csrf}).status_code)
    assert unknown == answers


def test_standards_a_new_service_and_retiring_one_through_the_forms(hq: HqProcess, seeded: CatalogueStore) -> None:
    password = add_admin(hq, "mwangi")
    admin = login(hq, "mwangi", password)
    csrf = csrf_of(admin, "/admin/standards")
    bad = admin.post("/admin/standards", data={"csrf": csrf, "priority_classes": ["elderly"],
                                               "priority_streak_limit": "0", "target_share": "150"})
    assert bad.status_code == 422 and "at least 1" in bad.text and "at most 100" in bad.text
    assert seeded.draft().changes == []
    ok = admin.post("/admin/standards", data={"csrf": csrf, "priority_classes": ["elderly", "disability"],
                                              "priority_streak_limit": "4", "target_share": "85"})
    assert ok.status_code == 303
    std = seeded.draft().catalogue.standards
    assert [str(p) for p in std.priority_classes] == ["elderly", "disability"]
    assert std.priority_streak_limit == 4 and std.target_share == 0.85

    taken = seeded.published(1).services[0]
    row = {**dict.fromkeys(COLUMNS, ""), "id": "hq-land-rent-clearance", "prefix": taken.prefix,
           "name_en": "Land rent clearance", "name_sw": "Kibali cha kodi ya ardhi", "category_en": "Land",
           "category_sw": "Ardhi", "description_en": "A clearance certificate for land rent",
           "description_sw": "Cheti cha kibali cha kodi ya ardhi", "agency": "Ministry of Lands",
           "documents_en": "Title deed\r\nNational ID card", "documents_sw": "Hati miliki\r\nKitambulisho cha taifa",
           "fee_ksh": "1000", "typical_duration_min": "12", "target_wait_min": "30"}
    clash = admin.post("/admin/services/new", data={"csrf": csrf, **row})
    assert clash.status_code == 422 and "another service has this ticket letter" in clash.text
    free = next(p for p in ("QZ", "QY", "QX") if p not in {s.prefix for s in seeded.draft().catalogue.services})
    added = admin.post("/admin/services/new", data={"csrf": csrf, **row, "prefix": free})
    assert added.status_code == 303, added.text[:400]
    new = seeded.draft().catalogue.service("hq-land-rent-clearance")
    assert new is not None and [d.sw for d in new.documents] == ["Hati miliki", "Kitambulisho cha taifa"]
    again = admin.post("/admin/services/new", data={"csrf": csrf, **row, "prefix": "ZZ"})
    assert again.status_code == 422 and "exists already" in again.text

    assert admin.post(f"/admin/services/{taken.id}/retire", data={"csrf": csrf}).status_code == 303
    assert seeded.draft().catalogue.service(taken.id) is None
    assert admin.get(f"/admin/services/{taken.id}").status_code == 404
    assert admin.post("/admin/services/nothing-here/retire", data={"csrf": csrf}).status_code == 404
    assert {e["action"] for e in seeded.audit()} >= {"standards", "add", "retire"}

    assert admin.post("/admin/logout", data={"csrf": csrf}).status_code == 303
    assert admin.get("/admin").status_code == 303  # the session ended


def test_a_new_headquarters_starts_from_the_shipped_catalogue_and_publishes_version_1(
        hq: HqProcess, pg_url: str, browser) -> None:
    password = add_admin(hq, "njeri")
    token = hq.add_centre("embu", "Huduma Centre Embu")
    assert httpx.get(hq.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {token}"}).status_code == 404
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{hq.url}/admin/login?lang=en")
        page.fill("input[name=username]", "njeri")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        assert "The draft has no services yet" in page.locator("#draft").inner_text()
        assert page.locator("#publish").count() == 0
        page.screenshot(path=str(artifacts_dir("hq") / "admin-first-morning-en.png"), full_page=True)
        page.click("#start-from-shipped")
        page.fill("textarea[name=note]", "First national catalogue")
        page.click("#publish")
        assert "Version 1 is published" in page.locator("#published").inner_text()
        page.goto(f"{hq.url}/admin/centres?lang=sw")
        assert "haijaripoti" in page.locator('#by-centre tr[data-centre="embu"]').inner_text()
        page.screenshot(path=str(artifacts_dir("hq") / "admin-by-centre-first-morning-sw.png"), full_page=True)
    finally:
        page.close()
    got = httpx.get(hq.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.headers["etag"] == f'"v1-{got.headers["X-Catalogue-Epoch"]}"'
    assert Catalogue.model_validate(got.json()).services == shipped_catalogue().services


def test_publishing_nothing_or_without_a_note_is_said_on_the_page(hq: HqProcess, seeded: CatalogueStore) -> None:
    password = add_admin(hq, "chebet")
    admin = login(hq, "chebet", password)
    csrf = csrf_of(admin)
    same = admin.post("/admin/publish", data={"csrf": csrf, "note": "again"})
    assert same.status_code == 409 and "The draft is the same as the newest version" in same.text
    first = seeded.published(1).services[0]
    row = {**seeded_row(seeded, first.id), "target_wait_min": str(first.target_wait_min + 5)}
    assert admin.post(f"/admin/services/{first.id}", data={"csrf": csrf, **row}).status_code == 303
    blank = admin.post("/admin/publish", data={"csrf": csrf, "note": "  "})
    assert blank.status_code == 422 and 'aria-invalid="true"' in blank.text
    assert seeded.newest_version() == 1
    sw = admin.post("/admin/publish?lang=sw", data={"csrf": csrf, "note": "Lengo jipya"})
    assert sw.status_code == 303 and seeded.newest_version() == 2


def seeded_row(cats: CatalogueStore, service_id: str) -> dict[str, str]:
    from hq.catalogue import flatten

    return flatten(cats.draft().catalogue.service(service_id))
