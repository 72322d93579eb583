"""The built-in Huduma service menu and the demo centre's counters.

The menu is a CSV shipped in the package (``data/menu.csv``) so a technician can
export, edit and import it; names are in English and Kiswahili.
"""

from __future__ import annotations

import csv
import io
import logging
from importlib import resources

from centre_server.queue.model import BUILTIN_OUTCOME_CODES, DEFAULT_OUTCOMES, Counter, OutcomeCode, Service
from centre_server.queue.visits import parse_then, then_problem

logger = logging.getLogger(__name__)

MENU_FIELDS = ["id", "prefix", "name_en", "name_sw", "category", "category_sw",
               "target_wait_min", "service_time_min"]

# Which services each block of demo counters serves, in order of skill.
DEMO_COUNTER_BLOCKS: list[tuple[range, list[str]]] = [
    (range(1, 4), ["id-card-new", "id-card-replace", "id-card-collect"]),
    (range(4, 5), ["id-card-collect", "birth-cert-collect", "id-card-new"]),
    (range(5, 8), ["birth-cert", "birth-cert-collect", "death-cert", "marriage"]),
    (range(8, 10), ["passport", "work-permit"]),
    (range(10, 12), ["good-conduct"]),
    (range(12, 15), ["kra-pin", "kra-returns", "kra-compliance"]),
    (range(15, 17), ["business-name", "company-reg", "business-permit", "agpo"]),
    (range(17, 19), ["sha-registration", "sha-contributions"]),
    (range(19, 21), ["nssf-registration", "nssf-statement", "pension"]),
    (range(21, 22), ["inua-jamii", "disability-reg"]),
    (range(22, 24), ["driving-licence", "smart-dl", "vehicle-transfer"]),
    (range(24, 25), ["helb", "youth-fund", "women-fund", "tsc"]),
    (range(25, 27), ["land-search", "land-rates"]),
    (range(27, 28), ["water-bill", "kplc"]),
    (range(28, 29), ["posta", "kplc"]),
    (range(29, 31), ["enquiries", "ecitizen", "complaints"]),
]


class MenuError(ValueError):
    """A menu file a centre cannot run with."""


OUTCOME_FIELDS = ["code", "label_en", "label_sw", "reason_required"]


def parse_outcomes(text: str) -> dict[str, OutcomeCode]:
    """The outcome codes a menu may list (``data/outcomes.csv``), by code; refuses a code without both labels."""
    codes: dict[str, OutcomeCode] = {}
    reader = csv.DictReader(io.StringIO(text))
    missing = set(OUTCOME_FIELDS) - set(reader.fieldnames or [])
    if missing:
        raise MenuError(f"outcome codes lack columns: {', '.join(sorted(missing))}")
    for line, row in enumerate(reader, start=2):
        code = (row["code"] or "").strip()
        en, sw = (row["label_en"] or "").strip(), (row["label_sw"] or "").strip()
        if not code or not code.replace("_", "").isalnum() or code != code.lower() or len(code) > 40:
            raise MenuError(f"line {line}: outcome code {code!r} must be lower-case letters, digits and '_'")
        if not en or not sw:
            raise MenuError(f"line {line}: outcome {code} needs a label in English and in Kiswahili")
        codes[code] = OutcomeCode(code, en[:60], sw[:60],
                                  (row["reason_required"] or "").strip().lower() in ("1", "true", "yes"))
    for old in DEFAULT_OUTCOMES:  # old logs and keypads name these: they are always known
        codes.setdefault(old, BUILTIN_OUTCOME_CODES[old])
    return codes


def builtin_outcomes() -> dict[str, OutcomeCode]:
    text = resources.files("centre_server").joinpath("data/outcomes.csv").read_text(encoding="utf-8")
    return parse_outcomes(text)


def _service_outcomes(cell: str | None, line: int, known: dict[str, OutcomeCode]) -> tuple[str, ...]:
    """A menu line's ``outcomes`` cell (codes separated by ';'); empty: the four old ones."""
    codes = tuple(dict.fromkeys(c.strip() for c in (cell or "").split(";") if c.strip()))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise MenuError(f"line {line}: unknown outcome code(s) {', '.join(unknown)} "
                        f"(known: {', '.join(known)})")
    if codes and "served" not in codes:
        raise MenuError(f"line {line}: a service's outcomes must include 'served'")
    return codes


def parse_menu(text: str, outcomes: dict[str, OutcomeCode] | None = None) -> list[Service]:
    """Services from menu CSV text; refuses duplicates and bad numbers with a clear message.

    An optional ``outcomes`` column lists the service's outcome codes (``served;documents_missing``)."""
    known = outcomes if outcomes is not None else builtin_outcomes()
    services: list[Service] = []
    ids: set[str] = set()
    prefixes: set[str] = set()
    reader = csv.DictReader(io.StringIO(text))
    missing = set(MENU_FIELDS) - set(reader.fieldnames or [])
    if missing:
        raise MenuError(f"menu lacks columns: {', '.join(sorted(missing))}")
    for line, row in enumerate(reader, start=2):
        sid, prefix = row["id"].strip(), row["prefix"].strip().upper()
        if not sid or not sid.replace("-", "").isalnum() or sid != sid.lower():
            raise MenuError(f"line {line}: service id {sid!r} must be lower-case letters, digits and '-'")
        if not (1 <= len(prefix) <= 2 and prefix.isalpha()):
            raise MenuError(f"line {line}: prefix {prefix!r} must be one or two letters")
        if sid in ids or prefix in prefixes:
            raise MenuError(f"line {line}: service id or prefix used twice ({sid}, {prefix})")
        try:
            target = int(float(row["target_wait_min"]) * 60)
            typical = float(row["service_time_min"]) * 60
        except ValueError as err:
            raise MenuError(f"line {line}: {err}") from None
        ids.add(sid)
        prefixes.add(prefix)
        services.append(Service(
            id=sid, prefix=prefix, name_en=row["name_en"].strip(), name_sw=row["name_sw"].strip(),
            category=row["category"].strip(), category_sw=row["category_sw"].strip(),
            target_wait_s=target, service_time_s=typical,
            enabled=str(row.get("enabled", "1")).strip().lower() not in ("0", "false", "no"),
            position=len(services), outcomes=_service_outcomes(row.get("outcomes"), line, known),
            then=parse_then(row.get("then"))))
    # the optional "then" column: the services often taken next in one visit (queue/visits.py)
    problem = then_problem({s.id: s.id for s in services}, {s.id: s.then for s in services})
    if problem:
        raise MenuError(f"then: {problem}")
    return services


def builtin_menu() -> list[Service]:
    text = resources.files("centre_server").joinpath("data/menu.csv").read_text(encoding="utf-8")
    return parse_menu(text)


def menu_csv(services: list[Service]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*MENU_FIELDS, "enabled", "outcomes", "then"])
    for s in services:
        w.writerow([s.id, s.prefix, s.name_en, s.name_sw, s.category, s.category_sw,
                    round(s.target_wait_s / 60, 2), round(s.service_time_s / 60, 2), int(s.enabled),
                    ";".join(s.outcomes), " ".join(s.then)])
    return out.getvalue()


def demo_counters() -> list[Counter]:
    counters = []
    for numbers, services in DEMO_COUNTER_BLOCKS:
        for n in numbers:
            counters.append(Counter(id=f"c{n:02d}", name=str(n), services=list(services)))
    return counters
