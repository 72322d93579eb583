"""One way to look up a string in English or Kiswahili, for every role.

Each role (kiosk, displays, channels, staff pages, headquarters) keeps its strings
in a JSON data file shipped with its package, ``{"en": {key: text}, "sw": {key: text}}``,
and reads it with :meth:`Translations.load`. Loading refuses a table where a key
exists in one language only or where the two texts take different placeholders,
so a missing translation stops the role at start-up instead of on the hall floor.

A string that counts something names its count ``{n}``. It may have its own
forms for exactly none and exactly one, as ``key#0`` and ``key#1`` ("Nobody
waiting", "Mtu 1 anasubiri"): :meth:`Translations.tr` picks them when ``n`` is
0 or 1, so callers pass the count and never choose a form themselves. Kiswahili
changes the noun class and the verb with the count ("wanasubiri" for many,
"anasubiri" for one), so a counting string usually needs ``#1`` in Kiswahili;
both languages carry the same keys, so English repeats its text where it reads
the same.

Devices import this module, so it uses the standard library only.
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from importlib import resources

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "sw")
FALLBACK = "en"
COUNT_MARK = "#"  # "waiting_now#1": the form of "waiting_now" for a count of one
COUNT_FORMS = ("0", "1")


class MissingString(KeyError):
    """A key that is not in a role's table (raised only by a strict table)."""


def placeholders(text: str) -> set[str]:
    """The names a text formats in (``{n}``, ``{service}``), without format specs."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text)
            if name is not None}


def problems(tables: Mapping[str, Mapping[str, str]]) -> list[str]:
    """What is wrong with a table: a language missing, a key in one language only, placeholders that differ."""
    found = [f"no {lang!r} table" for lang in LANGUAGES if lang not in tables]
    if found:
        return found
    en, sw = tables["en"], tables["sw"]
    found += [f"{key!r} has no Kiswahili text" for key in en.keys() - sw.keys()]
    found += [f"{key!r} has no English text" for key in sw.keys() - en.keys()]
    for key in en.keys() & sw.keys():
        if placeholders(en[key]) != placeholders(sw[key]):
            found.append(f"{key!r} takes {sorted(placeholders(en[key]))} in English "
                         f"but {sorted(placeholders(sw[key]))} in Kiswahili")
        base, mark, form = key.partition(COUNT_MARK)
        if not mark:
            continue
        if form not in COUNT_FORMS:
            found.append(f"{key!r}: a counted form is {base}#0 or {base}#1")
        elif base not in en:
            found.append(f"{key!r} is a counted form of {base!r}, which is not in the table")
        elif "n" not in placeholders(en[base]):
            found.append(f"{key!r} is a counted form of {base!r}, which takes no {{n}}")
        elif not placeholders(en[key]) <= placeholders(en[base]):
            found.append(f"{key!r} takes {sorted(placeholders(en[key]) - placeholders(en[base]))}, "
                         f"which {base!r} does not")
    return sorted(found)


def counted(table: Mapping[str, str], key: str, fmt: Mapping[str, object]) -> str:
    """The key to read for ``key`` with these values: its ``#0``/``#1`` form when ``n`` is 0 or 1 and the
    table has one, else ``key`` itself. Pages' scripts follow the same rule (web/static/common.js)."""
    n = fmt.get("n")
    if isinstance(n, bool) or not isinstance(n, int | str):
        return key
    form = f"{key}{COUNT_MARK}{str(n).strip()}"
    return form if str(n).strip() in COUNT_FORMS and form in table else key


class Translations:
    """One role's strings in both languages: ``tr(key, lang, **fmt)``.

    An unknown language falls back to English (a device may be configured with
    anything). An unknown key either raises :class:`MissingString` (``strict``,
    for text built only in code) or is logged and shown as the key itself, so a
    screen still renders and the gap is noticed.
    """

    def __init__(self, name: str, tables: Mapping[str, Mapping[str, str]], *, strict: bool = False) -> None:
        found = problems(tables)
        if found:
            raise ValueError(f"strings {name}: " + "; ".join(found))
        self.name = name
        self.strict = strict
        self.tables: dict[str, dict[str, str]] = {lang: dict(tables[lang]) for lang in LANGUAGES}

    @classmethod
    def load(cls, package: str, resource: str = "strings.json", *, strict: bool = False,
             extra: Mapping[str, tuple[str, str]] | None = None) -> Translations:
        """The table in ``package``'s data file ``resource``.

        ``extra`` adds entries built in code from the contract's own words
        (the satisfaction scale), as ``key: (English, Kiswahili)``, so those
        words keep one home.
        """
        raw = json.loads(resources.files(package).joinpath(resource).read_text(encoding="utf-8"))
        tables = {lang: dict(raw.get(lang, {})) for lang in LANGUAGES}
        for key, (en, sw) in (extra or {}).items():
            if key in tables["en"] or key in tables["sw"]:
                raise ValueError(f"strings {package}/{resource}: {key!r} is both in the file and built in code")
            tables["en"][key], tables["sw"][key] = en, sw
        return cls(f"{package}/{resource}", tables, strict=strict)

    @staticmethod
    def language(lang: object) -> str:
        """``lang`` as a table name: "en" or "sw"; anything else is English."""
        value = str(getattr(lang, "value", lang))
        return value if value in LANGUAGES else FALLBACK

    def tr(self, key: str, lang: object = FALLBACK, **fmt: object) -> str:
        """The string ``key`` in ``lang``, formatted with ``fmt``: its form for none or one when ``n`` is 0 or 1."""
        table = self.tables[self.language(lang)]
        text = table.get(counted(table, key, fmt))
        if text is None:
            if self.strict:
                raise MissingString(f"no string {key!r} in {self.name}")
            logger.warning("no string %r in %s", key, self.name)
            return key
        return text.format(**fmt) if fmt else text

    def bind(self, lang: object) -> Callable[..., str]:
        """``tr`` with the language fixed, for templates: ``t("key", n=7)``."""
        return partial(self.tr, lang=self.language(lang))

    def entry(self, key: str) -> dict[str, str]:
        """One key in both languages, ``{"en": ..., "sw": ...}``."""
        return {lang: self.tables[lang][key] for lang in LANGUAGES}

    def table(self, lang: object) -> dict[str, str]:
        """All strings of one language, for a page's scripts or a screen's bindings."""
        return dict(self.tables[self.language(lang)])

    def __contains__(self, key: object) -> bool:
        return key in self.tables[FALLBACK]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables[FALLBACK])

    def __len__(self) -> int:
        return len(self.tables[FALLBACK])
