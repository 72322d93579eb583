"""An HQ admin defines a new national outcome code and relabels one in Chromium; both reach a centre with the
next published version. Roles, CSRF, the audit, a code changed meanwhile, bad input, both languages."""

from __future__ import annotations

import re

import httpx

from centre_server.contract.catalogue import CATALOGUE_PATH, Catalogue, OutcomeDefinition, Text
from hq.catalogue import CatalogueStore, seed_demo
from hq.i18n import STRINGS
from hq.store import Store
from tests.conftest import artifacts_dir
from tests.hq.conftest import HqProcess


def test_an_admin_defines_and_relabels_outcome_codes_and_a_centre_gets_them(hq: HqProcess, pg_url: str,
                                                                            browser) -> None:
    cats = CatalogueStore(Store(pg_url))
    seed_demo(cats)
    token = hq.add_centre("demo", "Huduma Centre GPO")
    out = artifacts_dir("hq")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    hq.log_in_browser(context, "admin")
    page = context.new_page()
    try:
        page.goto(f"{hq.url}/admin/outcomes?lang=en")
        assert page.locator("#outcomes form.outcome").count() == len(cats.published(1).outcome_codes)  # type: ignore[union-attr]
        using = sum(1 for s in cats.published(1).services if "documents_missing" in s.outcomes)  # type: ignore[union-attr]
        used_by = page.locator("#outcome-documents_missing").inner_text()
        assert using > 0 and STRINGS.tr("outcome_used_by", "en", n=using) in used_by

        # bad input: said on the form, what was typed kept, nothing saved
        new = page.locator("#outcome-new")
        new.locator("input[name=code]").fill("Sent Home!")
        new.locator("input[name=label_en]").fill("Sent home to fetch a document")
        new.locator("input[name=label_sw]").fill("   ")
        new.locator("button[type=submit]:not(.danger)").click()
        assert page.locator("#form-errors").is_visible()
        assert page.locator("#__new__-code-error").inner_text() == "lower-case letters, digits and _ (at most 40)"
        assert page.locator("#__new__-label_sw-error").inner_text() == "required"
        assert new.locator("input[name=label_en]").input_value() == "Sent home to fetch a document"
        new.locator("input[name=label_sw]").fill("x" * 61)
        new.locator("input[name=code]").fill("sent_home")
        new.locator("button[type=submit]:not(.danger)").click()
        assert page.locator("#__new__-label_sw-error").inner_text() == "at most 60 characters"

        # a new code, both languages, a reason required
        new = page.locator("#outcome-new")
        new.locator("input[name=label_sw]").fill("Amerudishwa kuleta hati")
        new.locator("input[name=reason_required]").check()
        new.locator("button[type=submit]:not(.danger)").click()
        assert "Outcome code sent_home saved in the draft" in page.locator("#saved").inner_text()
        row = page.locator("#outcome-sent_home")
        assert row.locator("input[name=label_sw]").input_value() == "Amerudishwa kuleta hati"
        assert row.locator("input[name=reason_required]").is_checked()
        assert "not used by any service" in row.inner_text()  # not "used by 0 services"

        # the same code again is refused, with the reason
        new = page.locator("#outcome-new")
        new.locator("input[name=code]").fill("sent_home")
        new.locator("input[name=label_en]").fill("Again")
        new.locator("input[name=label_sw]").fill("Tena")
        new.locator("button[type=submit]:not(.danger)").click()
        assert "exists already" in page.locator("#__new__-code-error").inner_text()

        # a label of the full 60 characters shows whole in its field, in both languages
        en60 = "Sent home to fetch a missing document; may return later toda"
        sw60 = "Amerudishwa kuleta hati inayokosekana; anaweza kurudi leo hi"
        assert len(en60) == len(sw60) == 60
        new = page.locator("#outcome-new")
        new.locator("input[name=code]").fill("sent_home_today")
        new.locator("input[name=label_en]").fill(en60)
        new.locator("input[name=label_sw]").fill(sw60)
        new.locator("button[type=submit]:not(.danger)").click()
        for lang in ("en", "sw"):
            page.goto(f"{hq.url}/admin/outcomes?lang={lang}")
            for name, text in (("label_en", en60), ("label_sw", sw60)):
                field = page.locator(f"#outcome-sent_home_today input[name={name}]")
                assert field.input_value() == text
                assert field.evaluate("e => e.scrollWidth <= e.clientWidth"), (lang, name)

        # relabel a shipped code in Kiswahili and make its reason optional
        page.goto(f"{hq.url}/admin/outcomes?lang=sw")
        referred = page.locator("#outcome-referred")
        referred.locator("input[name=label_sw]").fill("Amepelekwa ofisi nyingine")
        referred.locator("button[type=submit]:not(.danger)").click()
        assert "Msimbo wa matokeo referred umehifadhiwa" in page.locator("#saved").inner_text()
        missing = page.locator("#outcome-documents_missing")
        missing.locator("input[name=reason_required]").uncheck()
        missing.locator("button[type=submit]:not(.danger)").click()
        assert not page.locator("#outcome-documents_missing input[name=reason_required]").is_checked()
        page.screenshot(path=str(out / "admin-outcomes-sw.png"), full_page=True)

        # another admin relabels a code while this one edits it: refused, not overwritten
        page.goto(f"{hq.url}/admin/outcomes?lang=en")
        cats.save_outcome("otieno", OutcomeDefinition(code="fee_unpaid", label=Text(en="Fee unpaid", sw="Ada bado"),
                                                      reason_required=False), new=False)
        stale = page.locator("#outcome-fee_unpaid")
        stale.locator("input[name=label_en]").fill("Fee not paid yet")
        stale.locator("button[type=submit]:not(.danger)").click()
        assert "someone else changed this meanwhile" in page.locator("#fee_unpaid-label_en-error").inner_text()
        assert cats.draft().catalogue.outcome("fee_unpaid").label.en == "Fee unpaid"  # type: ignore[union-attr]
        page.screenshot(path=str(out / "admin-outcomes-en.png"), full_page=True)

        # give the new code to a service on its page
        page.goto(f"{hq.url}/admin/services/kra-pin?lang=en")
        outcomes = page.locator("input[name=outcomes]")
        outcomes.fill(outcomes.input_value() + "; sent_home")
        page.locator("#service-form button[type=submit]").first.click()

        # the draft's changes and the audit say it in words, in both languages
        page.goto(f"{hq.url}/admin/versions/draft?lang=en")
        changes = page.locator("#changes").inner_text()
        assert "Outcome code sent_home" in changes and "Outcome referred: label (Kiswahili)" in changes
        assert "Outcome documents_missing: reason required" in changes
        page.goto(f"{hq.url}/admin/audit?lang=sw")
        audit = page.locator("body").inner_text()
        assert "msimbo wa matokeo" in audit and "Matokeo referred: jina (Kiswahili)" in audit

        # published with the next version
        page.goto(f"{hq.url}/admin?lang=en")
        page.fill("textarea[name=note]", "Outcome: sent home for a document")
        page.click("#publish")
        page.wait_for_selector("#published")
    finally:
        context.close()

    got = httpx.get(hq.url + CATALOGUE_PATH, headers={"Authorization": f"Bearer {token}"})
    catalogue = Catalogue.model_validate_json(got.content)
    assert catalogue.version == 2
    sent_home = catalogue.outcome("sent_home")
    assert sent_home is not None and sent_home.reason_required
    assert (sent_home.label.en, sent_home.label.sw) == ("Sent home to fetch a document", "Amerudishwa kuleta hati")
    assert catalogue.outcome("referred").label.sw == "Amepelekwa ofisi nyingine"  # type: ignore[union-attr]
    assert catalogue.outcome("documents_missing").reason_required is False  # type: ignore[union-attr]
    assert "sent_home" in catalogue.service("kra-pin").outcomes  # type: ignore[union-attr]


def test_only_an_admin_with_the_forms_token_changes_outcome_codes(hq: HqProcess, pg_url: str) -> None:
    seed_demo(CatalogueStore(Store(pg_url)))
    form = {"new": "1", "code": "walked_out", "label_en": "Walked out", "label_sw": "Aliondoka"}
    assert httpx.get(hq.url + "/admin/outcomes", follow_redirects=False).status_code == 303  # to the login
    for role in ("viewer", "agent"):
        client = hq.client(role)
        assert client.get("/admin/outcomes").status_code == 403
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/callcentre/feedback").text)
        assert client.post("/admin/outcomes", data={**form, "csrf": csrf.group(1) if csrf else ""}).status_code == 403
    admin = hq.client("admin")
    assert admin.post("/admin/outcomes", data=form).status_code == 403  # no CSRF token: nothing changes
    assert admin.post("/admin/outcomes", data={**form, "csrf": "forged"}).status_code == 403
    relabel_unknown = admin.post("/admin/outcomes", data={**form, "new": "", "csrf": _csrf(admin)})
    assert relabel_unknown.status_code == 404 and "There is no outcome code walked_out" in relabel_unknown.text
    assert CatalogueStore(Store(pg_url)).draft().catalogue.outcome("walked_out") is None
    made = admin.post("/admin/outcomes", data={**form, "csrf": _csrf(admin)})
    assert made.status_code == 303 and made.headers["location"] == "/admin/outcomes?saved=walked_out"
    assert CatalogueStore(Store(pg_url)).draft().catalogue.outcome("walked_out") is not None
    hostile = admin.post("/admin/outcomes", data={**form, "code": "x\x00y", "label_en": "a\u200bb",
                                                   "csrf": _csrf(admin)})
    assert hostile.status_code == 422 and "Traceback" not in hostile.text


def _csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/outcomes").text).group(1)  # type: ignore[union-attr]
