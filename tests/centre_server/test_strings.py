"""Every role's string table: the same keys in English and Kiswahili, the same placeholders in both."""

from __future__ import annotations

import json
import logging

import pytest

from centre_server.contract.i18n import LANGUAGES, MissingString, Translations, placeholders, problems

# every data file read through the one translation API: (package, resource)
TABLES = [
    ("kiosk", "strings.json"),
    ("kiosk", "categories.json"),
    ("counter_display", "strings.json"),
    ("centre_server.channels", "strings.json"),
    ("centre_server.web", "strings.json"),
    ("centre_server.staffing", "strings.json"),
    ("hq", "strings.json"),
]


def _loaded() -> dict[str, Translations]:
    """The tables as each role loads them, with the entries it builds from the contract."""
    from centre_server.channels import i18n as channels
    from centre_server.staffing import i18n as staffing
    from centre_server.web import i18n as web
    from counter_display import i18n as display
    from hq import i18n as hq
    from kiosk import i18n as kiosk

    return {"kiosk": kiosk.STRINGS, "kiosk categories": kiosk.CATEGORIES, "display": display.STRINGS,
            "channels": channels.STRINGS, "web": web.STRINGS, "hq": hq.STRINGS,
            "staffing": staffing.STRINGS}


@pytest.mark.parametrize("package,resource", TABLES)
def test_data_file_has_the_same_keys_and_placeholders_in_both_languages(package, resource):
    from importlib import resources

    raw = json.loads(resources.files(package).joinpath(resource).read_text(encoding="utf-8"))
    assert set(raw) == set(LANGUAGES), f"{package}/{resource}: languages {sorted(raw)}"
    assert set(raw["en"]) == set(raw["sw"]), f"{package}/{resource}: keys in one language only: " \
                                             f"{sorted(set(raw['en']) ^ set(raw['sw']))}"
    for key in raw["en"]:
        assert placeholders(raw["en"][key]) == placeholders(raw["sw"][key]), f"{package}/{resource} {key}"
    assert problems(raw) == []


@pytest.mark.parametrize("role", list(_loaded()))
def test_every_loaded_table_is_whole_in_both_languages(role):
    table = _loaded()[role]
    assert len(table) > 0
    for key in table:
        entry = table.entry(key)
        assert entry["en"].strip() and entry["sw"].strip(), f"{role} {key}"
        assert placeholders(entry["en"]) == placeholders(entry["sw"]), f"{role} {key}: placeholders differ"


def test_a_key_in_one_language_only_is_refused_at_load():
    with pytest.raises(ValueError, match="'bye' has no Kiswahili text"):
        Translations("t", {"en": {"hi": "Hello", "bye": "Bye"}, "sw": {"hi": "Habari"}})
    with pytest.raises(ValueError, match="takes"):
        Translations("t", {"en": {"n": "{n} waiting"}, "sw": {"n": "{m} wanasubiri"}})


def test_lookup_falls_back_to_english_and_formats():
    table = Translations("t", {"en": {"n": "{n} waiting"}, "sw": {"n": "{n} wanasubiri"}})
    assert table.tr("n", "sw", n=3) == "3 wanasubiri"
    assert table.tr("n", "fr", n=3) == "3 waiting"
    assert table.bind("sw")("n", n=2) == "2 wanasubiri"
    assert table.table("sw") == {"n": "{n} wanasubiri"}


def test_missing_key_is_shown_and_logged_or_raised_when_strict(caplog):
    lenient = Translations("t", {"en": {"a": "A"}, "sw": {"a": "A"}})
    with caplog.at_level(logging.WARNING):
        assert lenient.tr("nope", "en") == "nope"
    assert "nope" in caplog.text
    strict = Translations("t", {"en": {"a": "A"}, "sw": {"a": "A"}}, strict=True)
    with pytest.raises(MissingString, match="nope"):
        strict.tr("nope", "sw")


def test_kiswahili_says_kaunta_for_a_counter_everywhere():
    """The centre's word for a counter is "kaunta" ("kwenye kaunta": at the counter); "dirisha" (a window) on one
    page and "kaunta" on the next reads as two different places to a citizen. Tables, catalogue and the
    Kiswahili messages written in code all keep the one word."""
    from pathlib import Path

    for role, table in _loaded().items():
        for key in table:
            assert "dirisha" not in table.entry(key)["sw"].lower(), f"{role} {key}: {table.entry(key)['sw']}"
    root = Path(__file__).resolve().parents[2]
    packages = ["kiosk", "counter_display", "centre_server", "hq", "firmware_bridge", "mpesa_sim", "provisioning"]
    sources = [p for pkg in packages for pattern in ("*.py", "*.js", "*.json", "*.html", "*.kv")
               for p in (root / pkg).rglob(pattern)]
    assert len(sources) > 50
    said = [str(p.relative_to(root)) for p in sources if "dirisha" in p.read_text(encoding="utf-8").lower()]
    assert said == []
