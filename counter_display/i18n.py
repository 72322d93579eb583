"""Every word the display shows or says, in English and Kiswahili.

Hall boards in Kenya show both languages; the spoken call is said in both too.
Numbers are written out here (not left to the speech engine) so that a ticket
number is read digit by digit ("B, zero, four, two", "B, sifuri, nne, mbili"; the commas are pauses) and a
counter's number as a whole number ("counter twelve", "kaunta kumi na mbili").
"""

from __future__ import annotations

import logging
from datetime import datetime

from centre_server.contract import day_words, wait_minutes
from centre_server.contract.catalogue import Fee
from centre_server.contract.i18n import Translations

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "sw")

# The table is a data file beside this module; text built only in code, so an unknown key is a bug.
STRINGS = Translations.load("counter_display", "strings.json", strict=True)
tr = STRINGS.tr


def both(key: str, sep: str = "  /  ", **kw: object) -> str:
    """English and Kiswahili side by side, as hall boards show them."""
    return tr(key, "en", **kw) + sep + tr(key, "sw", **kw)


def counter_label(name: str, lang: str) -> str:
    """"Counter 7" / "Kaunta 7"; a name that already says what it is stays as it is."""
    if name.isdigit() or len(name) <= 3:
        return tr("counter", lang, name=name)
    return name


def counters_label(names: list[str], lang: str) -> str:
    """Where a service is served: "Counter 12", "Counters 12, 14" / "Kaunta 12, 14"; a visit's next step
    with no counter for it says so."""
    if not names:
        return tr("next_nowhere", lang)
    if len(names) == 1:
        return counter_label(names[0], lang)
    if all(n.isdigit() or len(n) <= 3 for n in names):
        return tr("next_counters", lang, names=", ".join(names))
    return ", ".join(names)


def wait_text(seconds: int, lang: str) -> str:
    """An estimated wait as a board shows it: rounded up to whole minutes.

    Zero is a real estimate (a counter is free for the next one): "under a minute", never a dash
    that reads as "not known". Where nobody waits the board still shows a newcomer's wait: at a counter
    shared with other services it may be long (a dash there read as "no wait" beside "45 min" on /join).
    """
    if seconds < 60:
        return tr("under_a_minute", lang)
    return tr("minutes", lang, n=wait_minutes(seconds))


def fee_text(fee: Fee, lang: str) -> str:
    """"Fee: KSh 1,050" / "Ada: KSh 1,050"; "Fee: Free" / "Ada: Bure" when it costs nothing; "Fee: amount
    varies" when it depends on the case (rates, postage); "Fee: paid on eCitizen, bring the receipt" when the
    citizen paid it online when applying."""
    if fee.paid_online:
        return tr("fee_online", lang) if fee.varies else tr("fee_online_ksh", lang, amount=f"{fee.amount_ksh:,}")
    if fee.varies:
        return tr("fee_varies", lang)
    if fee.free:
        return tr("fee_free", lang)
    return tr("fee", lang, amount=f"{fee.amount_ksh:,}")


def date_text(now: datetime, lang: str) -> str:
    """"Monday 23 November" / "Jumatatu 23 Novemba"."""
    return day_words(now, lang)


# --------------------------------------------------------------------------
# Numbers in words
# --------------------------------------------------------------------------

EN_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EN_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen"]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

SW_DIGITS = ["sifuri", "moja", "mbili", "tatu", "nne", "tano", "sita", "saba", "nane", "tisa"]
SW_TENS = ["", "kumi", "ishirini", "thelathini", "arobaini", "hamsini", "sitini", "sabini",
           "themanini", "tisini"]


def number_en(n: int) -> str:
    """A whole number 0..999999 in English words: 21 -> "twenty-one"."""
    if n < 0 or n > 999_999:
        raise ValueError(f"number out of range: {n}")
    if n < 10:
        return EN_DIGITS[n]
    if n < 20:
        return EN_TEENS[n - 10]
    if n < 100:
        tens, ones = divmod(n, 10)
        return EN_TENS[tens] + (f"-{EN_DIGITS[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{EN_DIGITS[hundreds]} hundred" + (f" and {number_en(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = f"{number_en(thousands)} thousand"
    if not rest:
        return head
    return head + (" and " if rest < 100 else " ") + number_en(rest)


def number_sw(n: int) -> str:
    """A whole number 0..999999 in Kiswahili words: 21 -> "ishirini na moja", 115 -> "mia moja na kumi na tano"."""
    if n < 0 or n > 999_999:
        raise ValueError(f"number out of range: {n}")
    if n < 10:
        return SW_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return SW_TENS[tens] + (f" na {SW_DIGITS[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"mia {SW_DIGITS[hundreds]}" + (f" na {number_sw(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = f"elfu {number_sw(thousands)}"
    return head + (f" na {number_sw(rest)}" if rest else "")


def number_words(n: int, lang: str) -> str:
    return number_sw(n) if lang == "sw" else number_en(n)


def ticket_words(number: str, lang: str) -> str:
    """A ticket number read aloud slowly: letters one by one, then digits one by one, a pause between each.

    "B042" -> "B, zero, four, two" / "B, sifuri, nne, mbili"; "BC007" -> "B, C, zero, zero, seven".
    The commas make espeak-ng pause, so the back of a noisy hall can follow each character.
    A number of another shape is spelled character by character.
    """
    digits = EN_DIGITS if lang != "sw" else SW_DIGITS
    words = []
    for ch in number.strip():
        if ch.isdigit():
            words.append(digits[int(ch)])
        elif ch.isalpha():
            words.append(ch.upper())
    return ", ".join(words)


def counter_words(name: str, lang: str) -> str:
    """A counter's name read aloud: "7" -> "seven" / "saba"; other names as they are."""
    name = name.strip()
    if name.isdigit() and int(name) <= 999_999:
        return number_words(int(name), lang)
    return name


def call_sentence(number: str, counter_name: str, lang: str, recall: bool = False) -> str:
    """What is said for one call: "Ticket B, zero, four, two. Counter seven"."""
    counter_said = counter_words(counter_name, lang)
    if lang == "sw":
        text = f"Tikiti {ticket_words(number, 'sw')}. Kaunta {counter_said}"
        return ("Tunaita tena. " + text) if recall else text
    text = f"Ticket {ticket_words(number, 'en')}. Counter {counter_said}"
    return ("Calling again. " + text) if recall else text
