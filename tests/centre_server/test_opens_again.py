"""When a closed centre opens next: one sentence, worded once (``contract.opens_again``), in both languages."""

from __future__ import annotations

from datetime import datetime

import pytest

from centre_server.contract import clock_words, opens_again


@pytest.mark.parametrize("hour,minute,said", [
    (8, 0, "saa 2 asubuhi (08:00)"), (7, 30, "saa 1:30 asubuhi (07:30)"), (12, 0, "saa 6 mchana (12:00)"),
    (13, 15, "saa 7:15 mchana (13:15)"), (17, 0, "saa 11 jioni (17:00)"), (19, 0, "saa 1 usiku (19:00)"),
    (0, 0, "saa 6 usiku (00:00)"), (5, 0, "saa 11 alfajiri (05:00)"), (6, 0, "saa 12 asubuhi (06:00)"),
])
def test_swahili_time_counts_from_six_with_the_clock_beside(hour, minute, said):
    assert clock_words(hour, minute, "sw") == said
    assert clock_words(hour, minute, "en") == f"{hour:02d}:{minute:02d}"


def test_the_sentence_in_both_languages_is_plain_ascii():
    at = datetime.fromisoformat("2026-12-07T08:00:00+03:00")
    assert opens_again(at, "en") == "It opens again on Monday 7 December at 08:00."
    assert opens_again(at, "sw") == "Kitafunguliwa tena Jumatatu 7 Desemba saa 2 asubuhi (08:00)."
    assert opens_again(at, "fr") == opens_again(at, "en")  # any other language reads English
    assert opens_again(at, "sw").isascii()  # an SMS or a USSD screen carries it as it is
