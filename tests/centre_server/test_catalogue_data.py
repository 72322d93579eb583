"""The demo national catalogue shipped in the package: complete, bilingual and true to the menu.

Every centre runs this file (version 0) until its first sync, and headquarters'
demo seeds version 1 from it, so a forgotten translation, a stub text or a
service the menu lacks reaches every kiosk, ticket and USSD screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources

import pytest

from centre_server.contract.catalogue import Catalogue, CatalogueService, Text, shipped_catalogue
from centre_server.menu import builtin_menu

# Texts that are a proper noun as a whole read the same in both languages.
PROPER_NOUNS = {"eCitizen", "iTax", "KRA PIN", "NSSF", "SHA", "HELB", "NTSA", "M-Pesa"}
NUMBER = re.compile(r"\d[\d,.]*\d|\d")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return shipped_catalogue()


def _texts(service: CatalogueService) -> Iterator[tuple[str, Text]]:
    """Every bilingual text of one service, named by where it appears."""
    for field in ("name", "category", "description", "eligibility", "in_person", "where_to_get"):
        text = getattr(service, field)
        if text is not None:
            yield field, text
    for i, document in enumerate(service.documents):
        yield f"documents[{i}]", document
    for field in ("payer", "waivers", "note"):
        text = getattr(service.fee, field)
        if text is not None:
            yield f"fee.{field}", text


def test_the_file_is_the_demo_catalogue_version_0(catalogue: Catalogue) -> None:
    raw = json.loads(resources.files("centre_server").joinpath("data/catalogue.json").read_text(encoding="utf-8"))
    assert raw["version"] == 0 and raw["demo"] is True
    assert catalogue.version == 0 and catalogue.demo is True
    assert len(catalogue.services) == len(raw["services"]) == 39


def test_it_covers_exactly_the_menu_with_its_prefixes_targets_and_times(catalogue: Catalogue) -> None:
    menu = {s.id: s for s in builtin_menu()}
    assert [s.id for s in catalogue.services] == list(menu)
    for service in catalogue.services:
        entry = menu[service.id]
        assert service.prefix == entry.prefix, service.id
        assert (service.name.en, service.name.sw) == (entry.name_en, entry.name_sw), service.id
        assert (service.category.en, service.category.sw) == (entry.category, entry.category_sw), service.id
        assert service.target_wait_min * 60 == entry.target_wait_s, service.id
        assert service.typical_duration_min * 60 == pytest.approx(entry.service_time_s), service.id


def test_no_text_is_a_stub(catalogue: Catalogue) -> None:
    raw = resources.files("centre_server").joinpath("data/catalogue.json").read_text(encoding="utf-8").lower()
    for placeholder in ("stub", "maandishi ya muda", "todo", "lorem", "xxx"):
        assert placeholder not in raw, placeholder
    for service in catalogue.services:
        assert service.agency.strip("() ") and "stub" not in service.agency.lower()
        assert service.description.en != service.name.en, f"{service.id}: the description only repeats the name"


def test_every_text_is_translated(catalogue: Catalogue) -> None:
    """A forgotten translation is the same string twice; only a proper noun as a whole may read the same."""
    same = [(s.id, where, text.en) for s in catalogue.services for where, text in _texts(s)
            if text.en == text.sw and text.en not in PROPER_NOUNS]
    assert not same, same


def test_both_languages_give_the_same_figures(catalogue: Catalogue) -> None:
    """An amount, age or deadline changed in one language only tells half the citizens something untrue."""
    drift = [(s.id, where, text.en, text.sw) for s in catalogue.services for where, text in _texts(s)
             if sorted(NUMBER.findall(text.en)) != sorted(NUMBER.findall(text.sw))]
    assert not drift, drift


def test_each_service_says_what_to_bring_and_who_may_apply(catalogue: Catalogue) -> None:
    """Short enough for a kiosk screen and a 182-character USSD screen, never empty."""
    for service in catalogue.services:
        assert 1 <= len(service.documents) <= 5, service.id
        assert service.eligibility is not None, service.id
        assert len(service.description.en) <= 182 and len(service.description.sw) <= 182, service.id
    with_two_or_more = [s for s in catalogue.services if len(s.documents) >= 2]
    assert len(with_two_or_more) >= 35


def test_fees(catalogue: Catalogue) -> None:
    fees = {s.id: s.fee.amount_ksh for s in catalogue.services}
    assert all(amount >= 0 for amount in fees.values())
    assert sum(1 for amount in fees.values() if amount > 0) >= 15
    # free by law or policy: the first ID, registration with KRA, NSSF and SHA, enquiries
    for free in ("id-card-new", "kra-pin", "nssf-registration", "sha-registration", "enquiries"):
        assert fees[free] == 0, free
    # charged as published by the agency: a citizen must not arrive thinking these are free
    for charged in ("id-card-replace", "good-conduct", "passport", "birth-cert", "business-name", "smart-dl"):
        assert fees[charged] > 0, charged
    for service in catalogue.services:
        if service.fee.amount_ksh > 0:
            assert service.fee.note is not None or service.fee.payer is not None, f"{service.id}: who pays, and how?"


def test_a_fee_that_varies_is_never_called_free_on_any_screen():
    """Land rates and postage cost what the county or Posta charges: "Free" there would be untrue."""
    from pydantic import ValidationError

    from centre_server.channels.info import fee_amount as channel_fee
    from centre_server.contract.catalogue import Fee
    from counter_display.i18n import fee_text as hall_fee
    from kiosk.needs import fee_amount as kiosk_fee

    with pytest.raises(ValidationError, match="note"):
        Fee(amount_ksh=0, varies=True)
    catalogue = shipped_catalogue()
    for sid in ("land-rates", "posta"):
        fee = catalogue.service(sid).fee
        assert fee.varies and not fee.free
        for lang, words in (("en", "varies"), ("sw", "hutofautiana")):
            for shown in (channel_fee(fee, lang), hall_fee(fee, lang), kiosk_fee(fee, lang)):
                assert words in shown.lower() and "free" not in shown.lower() and "bure" not in shown.lower()
    free = Fee(amount_ksh=0, note=Text(en="No fee", sw="Hakuna ada"))
    assert free.free and channel_fee(free, "sw") == "Bure" and kiosk_fee(free, "en") == "Free"


AMOUNT = re.compile(r"ksh\s*(\d[\d,]*)", re.IGNORECASE)


def test_each_fee_says_where_it_is_paid_as_its_own_text_does(catalogue: Catalogue) -> None:
    """Finding 2: the passport's text said "applied and paid for on eCitizen" while the queue offered "Pay now
    KSh 4,550". A fee whose note, description or documents say it is paid on eCitizen (or the agency's site)
    is ``paid: online``; a note that names several amounts (pages, years, late registration) ``varies``."""
    for s in catalogue.services:
        if s.fee.free:
            continue
        said = " ".join(t.en for t in (s.fee.note, s.description, *s.documents) if t is not None).lower()
        online_words = ("paid through ecitizen" in said or "paid for on ecitizen" in said
                        or "payment receipt" in said or "paid online" in said or "ardhisasa" in said)
        assert s.fee.paid_online == online_words, f"{s.id}: paid {s.fee.paid} but its text says {said!r}"
        if s.fee.note is not None:
            amounts = {int(a.replace(",", "")) for a in AMOUNT.findall(s.fee.note.en)}
            parts = sum(amounts) == s.fee.amount_ksh  # name search 150 + registration 800: one fee of 950
            if len(amounts | {s.fee.amount_ksh}) > 1 and not parts and "first" not in s.fee.note.en:
                assert s.fee.varies, f"{s.id}: several amounts in its note ({sorted(amounts)}) but a fixed fee"
    passport = catalogue.service("passport")
    assert passport is not None and passport.fee.paid_online and passport.fee.varies
    # what is paid at the centre for a fixed amount: the ID card's replacement, by M-Pesa to the government paybill
    # (the demo's "Pay now" prompt); county and Posta desks vary
    assert [s.id for s in catalogue.services if s.fee.due_here and not s.fee.varies] == ["id-card-replace"]


def test_a_fee_paid_online_says_so_on_every_screen_in_both_languages(catalogue: Catalogue) -> None:
    from centre_server.channels.info import fee_amount as channel_fee
    from counter_display.i18n import fee_text as hall_fee
    from kiosk.needs import fee_amount as kiosk_fee, fee_details
    from kiosk.payment import fee_to_push

    passport = catalogue.service("passport")
    assert passport is not None and fee_to_push(passport) is None  # the kiosk asks no "Pay now" question
    for lang in ("en", "sw"):
        for shown in (channel_fee(passport.fee, lang), hall_fee(passport.fee, lang), kiosk_fee(passport.fee, lang)):
            assert "eCitizen" in shown and "4,550" not in shown, shown
        assert "eCitizen" in fee_details(passport, lang)[0]
    # a catalogue published before the field said nothing of it: the fee was the centre's, as it was then
    old = json.loads(catalogue.model_dump_json())
    for s in old["services"]:
        del s["fee"]["paid"]
    assert Catalogue.model_validate(old).service("passport").fee.paid == "centre"
