"""One Kenyan phone number module: every accepted form gives one number, anything else None."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from centre_server.contract import PHONE_PATTERN
from centre_server.contract.phone import compact_phone, normalise_phone, phone_is_valid

# a subscriber number after the country code: 7xx xxx xxx or 1xx xxx xxx
subscriber = st.tuples(st.sampled_from("71"), st.text("0123456789", min_size=8, max_size=8)).map("".join)
prefix = st.sampled_from(["0", "254", "+254"])
separator = st.sampled_from(["", " ", "-", "  ", " - "])


def _written(pre: str, sub: str, sep: str) -> str:
    """The number as a person might write it: prefix, then groups of 3 split by ``sep``."""
    return pre + sep + sep.join([sub[:3], sub[3:6], sub[6:]])


@given(pre=prefix, sub=subscriber, sep=separator)
def test_every_accepted_form_is_one_number(pre, sub, sep):
    text = _written(pre, sub, sep)
    assert normalise_phone(text) == "+254" + sub
    assert normalise_phone(f"  {text}  ") == "+254" + sub
    assert phone_is_valid(text)


@given(sub=subscriber)
def test_brackets_around_the_prefix_are_accepted(sub):
    assert normalise_phone(f"(0{sub[:3]}) {sub[3:6]} {sub[6:]}") == "+254" + sub


@given(text=st.text(max_size=30))
def test_result_is_none_or_a_valid_canonical_number(text):
    out = normalise_phone(text)
    assert out is None or (re.fullmatch(r"\+254[71]\d{8}", out) and normalise_phone(out) == out)


@given(pre=prefix, sub=subscriber)
def test_compact_keeps_digits_and_a_leading_plus(pre, sub):
    assert compact_phone(_written(pre, sub, " ")) == pre + sub
    assert re.fullmatch(PHONE_PATTERN, compact_phone(_written(pre, sub, "-")))


@pytest.mark.parametrize("text", [None, "", "   ", "0812345678", "071234567", "07123456789", "+2557123456789",
                                  "07a2345678", "0712.345.678", "254 0712 345 678"])
def test_empty_and_invalid_are_none(text):
    assert normalise_phone(text) is None
