"""The reports say what each wait figure counts (newuser finding 3).

"% within target" counts, as misses, citizens not yet called who have waited past the target, while the
average and longest waits are of called citizens only: a manager read "max wait 0.3 min" beside "40%". The
share now says "incl. N not called" and the page explains both, in English and Kiswahili, at 1280 px.
Real parts: a real centre server process on Mosquitto, Chromium.
"""

from __future__ import annotations

import sqlite3

from tests.a11y.axe import audit
from tests.conftest import CentreProcess, free_port, wait_until
from tests.web.conftest import login_page

SERVICE = "kra-pin"


def test_the_share_says_how_many_not_called_it_counts_in_both_languages(centre_dir, mosquitto, tmp_path,
                                                                         context_factory, shots) -> None:
    db = sqlite3.connect(centre_dir.path / "centre.db")
    with db:
        db.execute("UPDATE services SET target_wait_s=1 WHERE id=?", [SERVICE])
    db.close()
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        kiosk = server.client(centre_dir.bundle("kiosk-1")["token"])
        for _ in range(3):
            assert kiosk.post("/api/v1/tickets", json={"service_id": SERVICE}).status_code == 201
        clerk = server.client(server.login("clerk"))
        assert clerk.post("/api/v1/counters/c12/open").status_code == 200
        assert clerk.post("/api/v1/counters/c12/call-next").status_code == 200
        manager = server.client(server.login("manager"))

        def row() -> dict:
            return next(s for s in manager.get("/api/v1/stats/live").json()["services"] if s["id"] == SERVICE)

        # the two still waiting pass the one-second target (whatever the first call's wait was)
        wait_until(lambda: row()["measured"] >= 3, timeout=30, what="the waiting ones past the target")
        page = context_factory(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
        login_page(page, server, "manager", centre_dir.staff_password("manager"))
        page.wait_for_url("**/board**")
        for lang, incl, note in (("en", "incl. 2 not called", "Avg and max wait are of citizens called."),
                                 ("sw", "pamoja na 2 wasioitwa", "Wastani na kusubiri zaidi ni vya walioitwa.")):
            page.goto(f"{server.url}/reports?lang={lang}")
            cell = page.locator(f"#report-services tr[data-service='{SERVICE}'] .sl-not-called")
            assert cell.inner_text() == incl
            assert page.locator("#report-total .sl-not-called").inner_text() == incl
            assert page.locator("#sl-counts").inner_text().startswith(note)
            shots(page, f"web-reports-not-called-{lang}", full_page=True)
            found = audit(page, f"reports-not-called-{lang}")
            assert not found, "\n".join(found)
            # the note wraps under the share: it never widens the tables (in English every column fits 1280 px;
            # the Kiswahili headers alone are 9 px too wide there, with or without the note)
            measure = ("(() => [...document.querySelectorAll('.table-scroll')]"
                       ".map(e => [e.scrollWidth, e.clientWidth]))()")
            fits = page.evaluate(measure)
            page.evaluate("document.querySelectorAll('.sl-not-called').forEach(e => e.remove())")
            assert page.evaluate(measure) == fits
            if lang == "en":
                assert all(w <= c for w, c in fits), fits
    finally:
        server.stop()
