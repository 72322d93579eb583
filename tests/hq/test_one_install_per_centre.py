"""Headquarters takes one server per centre id (newuser finding 1b).

A second server using a centre's id and token (a copied test centre, a stray bench left pointed at the demo
headquarters) used to be taken as the centre itself: its live figures overwrote the real ones and it was
handed a caller's booking. Each install of a centre sends its own random id; headquarters binds the first
and refuses any other with a 409 JSON, logged and shown on the centres page, until an admin re-binds.
Real parts: a real centre server process, a real ``huduma-hq serve`` on PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest

from centre_server.contract import INSTALL_HEADER
from centre_server.contract.national import INBOX_PATH
from tests.conftest import CentreProcess, artifacts_dir, free_port, set_upstream, wait_until


@pytest.fixture
def centre_and_hq(centre_dir, mosquitto, hq, tmp_path):
    token = hq.add_centre("demo", "Huduma Centre GPO (demo)")
    set_upstream(centre_dir.path, hq.url, token)
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server, hq, token
    server.stop()


def _install_of(server: CentreProcess) -> str:
    db = sqlite3.connect(server.centre.path / "centre.db")
    try:
        row = db.execute("SELECT value FROM meta WHERE key='install_id'").fetchone()
    finally:
        db.close()
    return row[0] if row else ""


def test_a_second_server_with_the_same_centre_id_is_refused_until_an_admin_rebinds(centre_and_hq, browser) -> None:
    server, hq, token = centre_and_hq
    admin = hq.client("admin")
    mine = wait_until(lambda: _install_of(server), timeout=30, what="the centre's install id")
    # the real centre's links bind its install: the centres page names it
    wait_until(lambda: f"install {mine[:12]}" in admin.get("/admin/centres").text, timeout=30,
               what="the centre's install bound at headquarters")

    stranger = {"Authorization": f"Bearer {token}", INSTALL_HEADER: "stranger0install"}
    r = httpx.post(hq.url + INBOX_PATH, headers=stranger, timeout=10)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "other_install"
    assert "demo" in r.json()["error"]["message"]
    # the stranger is told nothing of the callers' requests, and the refusal is logged and shown to the admin
    assert "requests" not in r.json()
    assert "stranger0install" in (hq.log_path.read_text())
    page = admin.get("/admin/centres").text
    assert "another server (install stranger0ins" in page and f"belongs to install {mine[:12]}" in page
    page_sw = admin.get("/admin/centres?lang=sw").text
    assert "seva nyingine (usakinishaji stranger0ins" in page_sw
    admin.get("/admin/centres?lang=en")
    # what the admin sees, in both languages (a red note under the centre, and the re-bind button)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    hq.log_in_browser(context, "admin")
    tab = context.new_page()
    for lang in ("en", "sw"):
        tab.goto(f"{hq.url}/admin/centres?lang={lang}")
        assert tab.locator("tr[data-centre='demo'] .install-refused").is_visible()
        tab.screenshot(path=str(artifacts_dir("hq") / f"admin-centres-install-refused-{lang}.png"), full_page=True)
    context.close()
    # the real centre keeps going: its next inbox poll is answered
    r = httpx.post(hq.url + INBOX_PATH, headers={"Authorization": f"Bearer {token}", INSTALL_HEADER: mine},
                   timeout=10)
    assert r.status_code == 200, r.text

    # a viewer sees the refusal but may not re-bind; the admin re-binds (the centre moved to a new server)
    viewer_page = hq.client("viewer").get("/admin/centres").text
    assert "Re-bind" not in viewer_page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = admin.post("/admin/centres/demo/rebind", data={"csrf": csrf})
    assert r.status_code == 303 and "rebound=demo" in r.headers["location"]
    assert "Re-bound: the next server" in admin.get(r.headers["location"]).text
    # whichever calls first after the re-bind is bound; here the new server, and then the old one is refused
    server.stop()
    r = httpx.post(hq.url + INBOX_PATH, headers=stranger, timeout=10)
    assert r.status_code == 200, r.text
    r = httpx.post(hq.url + INBOX_PATH, headers={"Authorization": f"Bearer {token}", INSTALL_HEADER: mine},
                   timeout=10)
    assert r.status_code == 409


def test_a_rebind_without_the_form_token_changes_nothing(centre_and_hq) -> None:
    server, hq, token = centre_and_hq
    admin = hq.client("admin")
    mine = wait_until(lambda: _install_of(server), timeout=30, what="the centre's install id")
    wait_until(lambda: f"install {mine[:12]}" in admin.get("/admin/centres").text, timeout=30, what="bound")
    r = admin.post("/admin/centres/demo/rebind", data={})
    assert r.status_code in (403, 303) and "rebound" not in r.headers.get("location", "")
    r = httpx.post(hq.url + INBOX_PATH, headers={"Authorization": f"Bearer {token}", INSTALL_HEADER: "other"},
                   timeout=10)
    assert r.status_code == 409
