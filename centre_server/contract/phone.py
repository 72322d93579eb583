"""Kenyan mobile numbers, one way for every role.

A citizen types 0712 345 678, 0112-345-678, 254712345678 or +254 712 345 678;
limits, SMS and check-in must see one number, +2547XXXXXXXX (or +2541…).
Devices import this module, so it uses the standard library only.
"""

from __future__ import annotations

import logging
import re

from centre_server.contract import PHONE_PATTERN

logger = logging.getLogger(__name__)

_VALID = re.compile(PHONE_PATTERN)
SEPARATORS = " -()"  # what people type between digit groups
LONGEST = 20  # longer than any number written out with separators: refused before matching


def compact_phone(text: str) -> str:
    """Digits and a leading +, as typed on a keypad or pasted with spaces (not yet checked)."""
    text = text.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return ("+" if text.startswith("+") else "") + digits


def phone_is_valid(text: str) -> bool:
    """Whether ``text``, compacted, is a Kenyan mobile number in an accepted form."""
    return bool(_VALID.match(compact_phone(text)))


def normalise_phone(phone: str | None) -> str | None:
    """Any accepted form (07…, 01…, 2547…, +2547…, with spaces, dashes or brackets) as +254….

    None when empty or invalid.
    """
    if not phone:
        return None
    compact = "".join(ch for ch in phone.strip() if ch not in SEPARATORS)
    if len(compact) > LONGEST or not _VALID.fullmatch(compact):
        return None
    digits = compact.lstrip("+")
    if digits.startswith("0"):
        digits = "254" + digits[1:]
    return "+" + digits
