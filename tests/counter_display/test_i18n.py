"""Words on screen and in the announcements, in English and Kiswahili."""

from __future__ import annotations

from datetime import datetime
from string import Formatter

import pytest
from hypothesis import given, strategies as st

from counter_display import i18n


def test_every_string_exists_in_both_languages():
    for key, table in ((key, i18n.STRINGS.entry(key)) for key in i18n.STRINGS):
        assert set(table) == {"en", "sw"}, key
        assert all(text.strip() for text in table.values()), key
        fields = [{f for _, f, _, _ in Formatter().parse(table[lang]) if f} for lang in ("en", "sw")]
        assert fields[0] == fields[1], key  # the same placeholders in both languages


@pytest.mark.parametrize("n,en,sw", [
    (0, "zero", "sifuri"),
    (7, "seven", "saba"),
    (10, "ten", "kumi"),
    (12, "twelve", "kumi na mbili"),
    (21, "twenty-one", "ishirini na moja"),
    (30, "thirty", "thelathini"),
    (45, "forty-five", "arobaini na tano"),
    (99, "ninety-nine", "tisini na tisa"),
    (100, "one hundred", "mia moja"),
    (115, "one hundred and fifteen", "mia moja na kumi na tano"),
    (250, "two hundred and fifty", "mia mbili na hamsini"),
    (1000, "one thousand", "elfu moja"),
    (2024, "two thousand and twenty-four", "elfu mbili na ishirini na nne"),
])
def test_numbers_in_words(n, en, sw):
    assert i18n.number_en(n) == en
    assert i18n.number_sw(n) == sw


@given(st.integers(min_value=0, max_value=999_999))
def test_every_number_has_words_in_both_languages(n):
    for words in (i18n.number_en(n), i18n.number_sw(n)):
        assert words and not any(ch.isdigit() for ch in words)
        assert "  " not in words


def test_numbers_out_of_range_are_refused():
    with pytest.raises(ValueError):
        i18n.number_sw(-1)
    with pytest.raises(ValueError):
        i18n.number_en(1_000_000)


def test_the_call_sentences_of_the_issue():
    assert i18n.call_sentence("B042", "7", "en") == "Ticket B, zero, four, two. Counter seven"
    assert i18n.call_sentence("B042", "7", "sw") == "Tikiti B, sifuri, nne, mbili. Kaunta saba"


def test_two_letter_prefixes_and_two_digit_counters():
    assert i18n.call_sentence("BC007", "12", "en") == "Ticket B, C, zero, zero, seven. Counter twelve"
    assert i18n.call_sentence("BC007", "12", "sw") == "Tikiti B, C, sifuri, sifuri, saba. Kaunta kumi na mbili"


def test_a_recall_says_so():
    assert i18n.call_sentence("A001", "3", "en", recall=True).startswith("Calling again. Ticket A, zero, zero, one")
    assert i18n.call_sentence("A001", "3", "sw", recall=True).startswith("Tunaita tena. Tikiti A, sifuri, sifuri, moja")


def test_a_counter_with_a_name_is_said_by_its_name():
    assert i18n.call_sentence("A001", "Reception", "en") == "Ticket A, zero, zero, one. Counter Reception"
    assert i18n.counter_label("Reception desk", "sw") == "Reception desk"
    assert i18n.counter_label("7", "sw") == "Kaunta 7"


def test_waits_and_dates():
    assert i18n.wait_text(0, "en") == "< 1 min"  # a free counter: a real estimate, not "not known"
    assert i18n.wait_text(30, "sw") == "< dakika 1"
    assert i18n.wait_text(61, "en") == "2 min"
    assert i18n.wait_text(600, "sw") == "dakika 10"
    monday = datetime(2026, 11, 23, 9, 0)
    assert i18n.date_text(monday, "en") == "Monday 23 November"
    assert i18n.date_text(monday, "sw") == "Jumatatu 23 Novemba"
