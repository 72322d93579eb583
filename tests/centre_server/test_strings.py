"""Every role's string table: the same keys in English and Kiswahili, the same placeholders in both."""

from __future__ import annotations

import json
import logging

import pytest

from centre_server.contract.i18n import (
    COUNT_MARK,
    LANGUAGES,
    MissingString,
    Translations,
    counted,
    placeholders,
    problems,
)

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


def test_a_count_of_none_or_one_reads_its_own_form_in_either_language():
    table = Translations("t", {"en": {"w": "{n} waiting", "w#0": "Nobody waiting", "w#1": "1 waiting"},
                               "sw": {"w": "Watu {n} wanasubiri", "w#0": "Hakuna anayesubiri",
                                      "w#1": "Mtu 1 anasubiri"}})
    assert [table.tr("w", "sw", n=n) for n in (0, 1, 2)] == ["Hakuna anayesubiri", "Mtu 1 anasubiri",
                                                             "Watu 2 wanasubiri"]
    assert [table.tr("w", "en", n=n) for n in (0, 1, 12)] == ["Nobody waiting", "1 waiting", "12 waiting"]
    assert table.bind("sw")("w", n=1) == "Mtu 1 anasubiri"
    # a string with no form for one keeps its own text; a flag is not a count
    plain = Translations("t", {"en": {"w": "{n} waiting"}, "sw": {"w": "{n} wanasubiri"}})
    assert plain.tr("w", "sw", n=1) == "1 wanasubiri"
    assert table.tr("w", "en", n=True) == "True waiting"


def test_a_counted_form_must_belong_to_a_string_that_counts():
    with pytest.raises(ValueError, match="not in the table"):
        Translations("t", {"en": {"w#1": "1 waiting"}, "sw": {"w#1": "Mtu 1 anasubiri"}})
    with pytest.raises(ValueError, match="takes no"):
        Translations("t", {"en": {"w": "waiting", "w#1": "1"}, "sw": {"w": "wanasubiri", "w#1": "1"}})
    with pytest.raises(ValueError, match="#0 or"):
        Translations("t", {"en": {"w": "{n} waiting", "w#2": "2"}, "sw": {"w": "{n} wanasubiri", "w#2": "2"}})
    with pytest.raises(ValueError, match="does not"):
        Translations("t", {"en": {"w": "{n} waiting", "w#1": "1 {who}"}, "sw": {"w": "{n} x", "w#1": "1 {who}"}})


# what the brief of 2026-12-07 found: counts of one read in the plural in Kiswahili ("1 wanasubiri")
SINGULAR_KISWAHILI = [("channels", "waiting_now", {"m": 5}), ("channels", "u_confirm", {"service": "X", "wait": "w"}),
                      ("channels", "waiting_no_counter", {}), ("channels", "waiting_paused", {}),
                      ("channels", "alert_sms_service_breach",
                       {"centre": "C", "service": "S", "since": "09:00", "wait": 40, "target": 30}),
                      ("hq", "live_subtitle", {"reporting": 2, "centres": 3}), ("hq", "wait_waiting", {}),
                      ("hq", "wait_no_estimate", {}), ("hq", "wait_sms_open", {"min": 4}),
                      ("hq", "wait_sms_open_unknown", {}), ("hq", "wait_no_counter", {}),
                      ("kiosk", "waiting_people", {})]


@pytest.mark.parametrize("role,key,fmt", SINGULAR_KISWAHILI)
def test_one_citizen_waiting_reads_in_the_singular_and_none_as_nobody(role, key, fmt):
    table = _loaded()[role]
    one = table.tr(key, "sw", n=1, **fmt)
    assert "wanasubiri" not in one and "anasubiri" in one, one
    assert "1 people" not in table.tr(key, "en", n=1, **fmt) and "1 citizens" not in table.tr(key, "en", n=1, **fmt)
    if key != "wait_no_estimate":  # (said only when someone waits: none waiting is "wait_nobody_waiting")
        for lang in ("en", "sw"):
            assert not any(word in table.tr(key, lang, n=0, **fmt) for word in ("0 waiting", "0 wanasubiri",
                                                                                "0 people", "Watu 0")), key
    assert "wanasubiri" in table.tr(key, "sw", n=7, **fmt)


PLURAL_AFTER_ONE = (" 1 people", " 1 citizens", " 1 centres", " 1 services", " 1 callers", " 1 days", " 1 open days",
                    " 1 bookings", " 1 tickets", "Watu 1 ", " watu 1 ", " vituo 1 ", "Vituo 1 ", " 1 wanasubiri")


def test_no_string_says_one_in_the_plural_or_hedges_with_s_in_brackets():
    for role, table in _loaded().items():
        for key in table:
            for lang in ("en", "sw"):
                assert "(s)" not in table.entry(key)[lang], f"{role} {key}"
                if "n" not in placeholders(table.entry(key)[lang]) or COUNT_MARK in key:
                    continue
                text = " " + table.tables[lang][counted(table.tables[lang], key, {"n": 1})].replace("{n}", "1")
                assert not any(w in text for w in PLURAL_AFTER_ONE), f"{role} {key}: {text}"


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
