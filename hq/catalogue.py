"""The national service catalogue at headquarters: a draft the admin edits, numbered versions, an audit log.

An HQ admin edits one working draft (``catalogue_draft``, one row); "publish"
copies it as version N+1 into ``catalogue_versions``, where it never changes
again. Every change to the draft (a field of a service, a service added or
retired, the queue standards, an import) and every publication is written to
``catalogue_audit`` with who, when, and the value before and after.

A service is also seen "flat", one column per field and language
(``COLUMNS``): the CSV export and import, the editor's form, the audit log and
the diff between versions all use that one view, so a field has one name
everywhere (``fee_ksh``, ``documents_sw``). Lists (documents) are items
separated by `` | `` in a cell.

Each centre's report (``CentreCatalogueReport``: the version it runs, what it
offers) is kept in ``centre_catalogue``; so is the version a centre's summary
upload said it runs (``X-Catalogue-Version``).

The same SQL runs on PostgreSQL and SQLite, like ``hq.store``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from centre_server.contract.catalogue import (
    MAX_DOCUMENTS,
    Catalogue,
    CatalogueService,
    CentreCatalogueReport,
    FeePaid,
    OutcomeDefinition,
    QueueStandards,
    shipped_catalogue,
)
from hq.board import FORMULA_START, cell
from hq.store import Store, StoreError

logger = logging.getLogger(__name__)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS catalogue_versions (version INTEGER PRIMARY KEY, "
    "published_at DOUBLE PRECISION NOT NULL, published_by TEXT NOT NULL, note TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS catalogue_draft (id INTEGER PRIMARY KEY, revision INTEGER NOT NULL, "
    "body TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL, updated_by TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS catalogue_audit (at DOUBLE PRECISION NOT NULL, seq INTEGER NOT NULL, "
    "actor TEXT NOT NULL, action TEXT NOT NULL, service_id TEXT, field TEXT, before TEXT, after TEXT, "
    "version INTEGER, note TEXT)",
    "CREATE INDEX IF NOT EXISTS catalogue_audit_by_time ON catalogue_audit (at)",
    "CREATE TABLE IF NOT EXISTS centre_catalogue (centre_id TEXT PRIMARY KEY, version INTEGER, applied_at TEXT, "
    "offerings TEXT, reported_at DOUBLE PRECISION, seen_version INTEGER, seen_at DOUBLE PRECISION)",
    # the epoch: this database's catalogue history, made once with the tables (a rebuilt headquarters, whose
    # versions start again from 1, has a new one; a restored backup keeps its own)
    "CREATE TABLE IF NOT EXISTS catalogue_epoch (id INTEGER PRIMARY KEY, epoch TEXT NOT NULL)",
]

LIST_SEPARATOR = " | "
CODE_SEPARATOR = "; "
# The flat view of a service: (column, path in the service, kind). Kinds: str, text (one language of a
# Text), opt (one language of an optional Text), list (one language of a list of Text), int, float,
# flag (1 or 0; a form's checkbox sends "on", an unticked one nothing), codes (the national outcome codes a
# clerk records for the service, separated by ';': the same at every centre), online (1: the fee is paid on
# eCitizen when applying, never asked for at a centre; 0 or empty: paid at the centre, as before the column).
FIELDS: list[tuple[str, tuple[str, ...], str]] = [
    ("id", ("id",), "str"),
    ("prefix", ("prefix",), "str"),
    ("name_en", ("name", "en"), "text"), ("name_sw", ("name", "sw"), "text"),
    ("category_en", ("category", "en"), "text"), ("category_sw", ("category", "sw"), "text"),
    ("description_en", ("description", "en"), "text"), ("description_sw", ("description", "sw"), "text"),
    ("agency", ("agency",), "str"),
    ("documents_en", ("documents", "en"), "list"), ("documents_sw", ("documents", "sw"), "list"),
    ("eligibility_en", ("eligibility", "en"), "opt"), ("eligibility_sw", ("eligibility", "sw"), "opt"),
    ("in_person_en", ("in_person", "en"), "opt"), ("in_person_sw", ("in_person", "sw"), "opt"),
    ("where_to_get_en", ("where_to_get", "en"), "opt"), ("where_to_get_sw", ("where_to_get", "sw"), "opt"),
    ("fee_ksh", ("fee", "amount_ksh"), "int"),
    ("fee_varies", ("fee", "varies"), "flag"),
    ("fee_paid_online", ("fee", "paid"), "online"),
    ("payer_en", ("fee", "payer", "en"), "opt"), ("payer_sw", ("fee", "payer", "sw"), "opt"),
    ("waivers_en", ("fee", "waivers", "en"), "opt"), ("waivers_sw", ("fee", "waivers", "sw"), "opt"),
    ("fee_note_en", ("fee", "note", "en"), "opt"), ("fee_note_sw", ("fee", "note", "sw"), "opt"),
    ("typical_duration_min", ("typical_duration_min",), "float"),
    ("target_wait_min", ("target_wait_min",), "int"),
    ("outcomes", ("outcomes",), "codes"),
]
COLUMNS = [c for c, _, _ in FIELDS]
# columns an older export lacks: a file without them still imports, with the meaning the catalogue had then
OPTIONAL_COLUMNS = {"fee_paid_online"}
STANDARD_FIELDS = ["priority_classes", "priority_streak_limit", "target_share"]


class CatalogueError(StoreError):
    """An edit the catalogue refuses; ``fields`` says which column is wrong and why (shown on the form)."""

    def __init__(self, code: str, message: str, status: int = 422,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(code, message, status)
        self.fields = fields or {}


# ------------------------------------------------------------------ the flat view


def _dig(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if data is None:
            return None
        data = data.get(key)
    return data


def flatten(service: CatalogueService | dict[str, Any]) -> dict[str, str]:
    """One service as {column: text}: what a CSV row, the form and a diff show."""
    data = service.model_dump(mode="json") if isinstance(service, CatalogueService) else service
    row: dict[str, str] = {}
    for column, path, kind in FIELDS:
        if kind == "list":
            items = data.get(path[0]) or []
            row[column] = LIST_SEPARATOR.join(item[path[1]] for item in items)
            continue
        if kind == "codes":
            row[column] = CODE_SEPARATOR.join(data.get(path[0]) or [])
            continue
        value = _dig(data, path)
        if kind == "online":  # a version published before the field said nothing: paid at the centre
            row[column] = "1" if value == FeePaid.online else "0"
        elif value is None:
            row[column] = ""
        elif kind == "float":
            row[column] = f"{float(value):g}"
        elif kind == "flag":
            row[column] = "1" if value else "0"
        else:
            row[column] = str(value)
    return row


def _items(text: str) -> list[str]:
    """A list cell: items separated by '|' (the CSV) or by lines (the form's text box)."""
    return [x.strip() for x in text.replace("\r", "").replace("\n", "|").split("|") if x.strip()]


def _uncell(text: str) -> str:
    """Undo the export's guard against spreadsheet formulas (a leading quote before = + - @)."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


def unflatten(row: Mapping[str, str | None]) -> tuple[dict[str, Any], dict[str, str]]:
    """A flat row back into a service's shape, and the columns already wrong (documents that do not pair)."""
    cells = {c: _uncell((row.get(c) or "").strip()) for c in COLUMNS}
    data: dict[str, Any] = {"fee": {}}
    errors: dict[str, str] = {}
    for column, path, kind in FIELDS:
        value = cells[column]
        if kind == "codes":  # ';', ',' or lines between codes: as a spreadsheet or the form's box has them
            data[path[0]] = [c for c in value.replace(",", ";").replace("\n", ";").split(";") if c.strip()]
        elif kind == "flag":
            data.setdefault(path[0], {})[path[1]] = value.lower() in ("1", "true", "yes", "on", "ndiyo")
        elif kind == "online":
            online = value.lower() in ("1", "true", "yes", "on", "ndiyo", "online")
            data.setdefault(path[0], {})[path[1]] = FeePaid.online.value if online else FeePaid.centre.value
        elif kind == "int" and re.fullmatch(r"\d{1,3}(,\d{3})+", value):
            # "4,550": how every page shows a fee, and how a spreadsheet writes it back
            target = data if len(path) == 1 else data.setdefault(path[0], {})
            target[path[-1]] = value.replace(",", "")
        elif kind in ("str", "int", "float"):
            target = data if len(path) == 1 else data.setdefault(path[0], {})
            target[path[-1]] = value if value != "" else None
        elif kind == "text":
            data.setdefault(path[0], {})[path[1]] = value
        elif kind == "opt":
            parent = data if len(path) == 2 else data.setdefault(path[0], {})
            pair_of = column.rsplit("_", 1)[0]
            if cells[f"{pair_of}_en"] or cells[f"{pair_of}_sw"]:
                parent.setdefault(path[-2], {})[path[-1]] = value
            else:
                parent[path[-2]] = None
    en, sw = _items(cells["documents_en"]), _items(cells["documents_sw"])
    if len(en) != len(sw):
        errors["documents_sw"] = f"documents_pair|{len(en)}|{len(sw)}"
    elif len(en) > MAX_DOCUMENTS:
        errors["documents_en"] = f"documents_max|{MAX_DOCUMENTS}"
    data["documents"] = [{"en": a, "sw": b} for a, b in zip(en, sw)]
    data = {k: v for k, v in data.items() if v is not None or k in ("eligibility", "in_person", "where_to_get")}
    return data, errors


def _column_of(loc: tuple[Any, ...]) -> str:
    """The flat column a validation error's location points at."""
    parts = [str(x) for x in loc if not isinstance(x, int)]
    if parts and parts[0] == "documents":
        return "documents_" + (parts[1] if len(parts) > 1 else "en")
    if parts and parts[0] == "fee":
        rest = parts[1:]
        if not rest or rest[0] == "amount_ksh":
            return "fee_ksh"
        name = "fee_note" if rest[0] == "note" else rest[0]
        return f"{name}_{rest[1]}" if len(rest) > 1 else f"{name}_en"
    if len(parts) >= 2 and parts[1] in ("en", "sw"):
        return f"{parts[0]}_{parts[1]}"
    if parts and f"{parts[0]}_en" in COLUMNS:
        return f"{parts[0]}_en"
    return parts[0] if parts and parts[0] in COLUMNS else "id"


def _message(err: Mapping[str, Any]) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    empty = kind.endswith("_type") and err.get("input") is None
    if kind in ("missing", "string_too_short", "none_required") or empty:
        return "required"
    if kind == "string_too_long":
        return f"too_long|{ctx.get('max_length')}"
    if kind in ("int_parsing", "int_from_float"):
        return "whole_number"
    if kind == "float_parsing":
        return "number"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        return f"{kind}|{bound}"
    if (err.get("loc") or ("",))[0] == "outcomes":
        return "outcomes_served" if "served" in str(err.get("msg", "")) else "outcome_pattern"
    if kind == "string_pattern_mismatch":
        loc = [str(x) for x in err.get("loc", ())]
        if loc and loc[0] == "prefix":
            return "prefix_pattern"
        return "id_pattern"
    return str(err.get("msg", "not valid")).removeprefix("Value error, ")


def parse_service(row: Mapping[str, str | None]) -> CatalogueService:
    """A service from a flat row (a form or a CSV line); ``CatalogueError`` with every wrong column."""
    data, errors = unflatten(row)
    try:
        service = CatalogueService.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            errors.setdefault(_column_of(tuple(e.get("loc", ()))), _message(e))
        raise CatalogueError("invalid_service", "; ".join(f"{c}: {m}" for c, m in errors.items()),
                             fields=errors) from None
    if errors:
        raise CatalogueError("invalid_service", "; ".join(f"{c}: {m}" for c, m in errors.items()), fields=errors)
    return service


def to_csv(services: Iterable[CatalogueService]) -> str:
    """The services as CSV, one row each (cells guarded against spreadsheet formulas)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for s in services:
        flat = flatten(s)
        w.writerow([cell(flat[c]) for c in COLUMNS])
    return out.getvalue()


@dataclass
class LineError:
    line: int  # the line of the file (the header is line 1)
    service_id: str
    fields: dict[str, str]


@dataclass
class ParsedCsv:
    services: list[CatalogueService] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # each good service's line in the file

    def clashes_with(self, draft: Catalogue) -> list[LineError]:
        """Lines whose ticket letter another service of the draft keeps (one not replaced by the file):
        told on the importing line, with every other wrong line, before anything is imported."""
        incoming = {s.id for s in self.services}
        held = {s.prefix: s.id for s in draft.services if s.id not in incoming}
        return [LineError(self.lines.get(s.id, 1), s.id, {"prefix": "duplicate_prefix"})
                for s in self.services if s.prefix in held]


MAX_CSV_BYTES = 2_000_000


def parse_csv(text: str) -> ParsedCsv:
    """Every line of an uploaded CSV, checked: the services, and each wrong line with its columns."""
    result = ParsedCsv()
    if len(text) > MAX_CSV_BYTES:
        result.errors.append(LineError(1, "", {"file": f"file_too_large|{MAX_CSV_BYTES // 1000}"}))
        return result
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        result.errors.append(LineError(1, "", {"header": "missing_columns|" + ", ".join(missing)}))
        return result
    seen: dict[str, int] = {}
    prefixes: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            sid = (row.get("id") or "").strip()
            prefix = (row.get("prefix") or "").strip()
            clash: dict[str, str] = {}
            if sid and sid in seen:
                clash["id"] = f"also_on_line|{seen[sid]}"
            if prefix and prefix in prefixes:
                clash["prefix"] = f"also_on_line|{prefixes[prefix]}"
            seen.setdefault(sid, line)
            prefixes.setdefault(prefix, line)
            try:
                service = parse_service(row)
            except CatalogueError as err:
                result.errors.append(LineError(line, sid, {**err.fields, **clash}))
                continue
            if clash:
                result.errors.append(LineError(line, sid, clash))
                continue
            result.services.append(service)
            result.lines[service.id] = line
    except csv.Error as err:
        result.errors.append(LineError(reader.line_num, "", {"file": f"not_csv|{err}"}))
    if not result.services and not result.errors:
        result.errors.append(LineError(1, "", {"file": "no_services"}))
    return result


# ------------------------------------------------------------------ differences


@dataclass
class Change:
    service_id: str | None  # None: the queue standards
    field: str  # a column, a standard, or "service" (added/retired)
    before: str | None
    after: str | None


def _standards_flat(standards: QueueStandards) -> dict[str, str]:
    data = standards.model_dump(mode="json")
    return {k: ", ".join(data[k]) if isinstance(data[k], list) else f"{data[k]:g}" if isinstance(data[k], float)
            else str(data[k]) for k in STANDARD_FIELDS}


def diff(old: Catalogue | None, new: Catalogue) -> list[Change]:
    """What changed from ``old`` to ``new``: standards, services added or retired, then field by field."""
    changes: list[Change] = []
    old_std = _standards_flat(old.standards) if old else {}
    for k, v in _standards_flat(new.standards).items():
        if old_std.get(k) != v:
            changes.append(Change(None, k, old_std.get(k), v))
    before = {s.id: s for s in (old.services if old else [])}
    after = {s.id: s for s in new.services}
    for sid, s in after.items():
        if sid not in before:
            changes.append(Change(sid, "service", None, s.name.en))
    for sid, s in before.items():
        if sid not in after:
            changes.append(Change(sid, "service", s.name.en, None))
    for sid in [s for s in after if s in before]:
        a, b = flatten(before[sid]), flatten(after[sid])
        changes += [Change(sid, c, a[c], b[c]) for c in COLUMNS if a[c] != b[c]]
    return changes + outcome_changes(old, new)


OUTCOME_PARTS = ("label_en", "label_sw", "reason_required")


def outcome_flat(o: OutcomeDefinition) -> dict[str, str]:
    """A national outcome code as the editor's form and the audit show it."""
    return {"label_en": o.label.en, "label_sw": o.label.sw, "reason_required": "1" if o.reason_required else "0"}


def outcome_changes(old: Catalogue | None, new: Catalogue) -> list[Change]:
    """The national outcome codes added or relabelled (field ``outcome.<code>.<part>``: no service's)."""
    before = {o.code: outcome_flat(o) for o in (old.outcome_codes if old else [])}
    changes: list[Change] = []
    for o in new.outcome_codes:
        now, was = outcome_flat(o), before.pop(o.code, None)
        if was is None:
            changes.append(Change(None, f"outcome.{o.code}.code", None, o.code))
        changes += [Change(None, f"outcome.{o.code}.{p}", (was or {}).get(p), now[p]) for p in OUTCOME_PARTS
                    if (was or {}).get(p) != now[p]]
    changes += [Change(None, f"outcome.{code}.code", code, None) for code in before]
    return changes


# ------------------------------------------------------------------ storage


@dataclass
class Version:
    version: int
    published_at: float
    published_by: str
    note: str


@dataclass
class Draft:
    revision: int
    catalogue: Catalogue  # version 0: not published
    updated_at: float
    updated_by: str
    base_version: int  # the newest published version when the draft was read
    changes: list[Change]  # what publishing would change


class CatalogueStore:
    """The catalogue's tables in headquarters' database (``Store``: PostgreSQL or SQLite)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._epoch: str | None = None

    def migrate(self) -> None:
        with self.store.tx() as cur:
            for stmt in SCHEMA:
                cur.execute(stmt)
            cur.execute("INSERT INTO catalogue_epoch(id, epoch) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
                        [secrets.token_hex(8)])

    def epoch(self) -> str:
        """This database's catalogue history: in every ETag, so a centre tells a rebuilt headquarters apart."""
        if self._epoch is None:
            with self.store.tx() as cur:
                cur.execute("SELECT epoch FROM catalogue_epoch WHERE id=1")
                row = cur.fetchone()
            if row is None:  # tables made before epochs: made now, once
                self.migrate()
                return self.epoch()
            self._epoch = str(row[0])
        return self._epoch

    # -------------------------------------------------------------- versions

    def newest_version(self) -> int:
        """The newest published version; 0 when nothing was published yet."""
        with self.store.tx() as cur:
            cur.execute("SELECT MAX(version) FROM catalogue_versions")
            return cur.fetchone()[0] or 0

    def published(self, version: int | None = None) -> Catalogue | None:
        """A published version (the newest when ``version`` is None), exactly as published."""
        with self.store.tx() as cur:
            if version is None:
                cur.execute("SELECT body FROM catalogue_versions ORDER BY version DESC LIMIT 1")
            else:
                cur.execute("SELECT body FROM catalogue_versions WHERE version=?", [version])
            row = cur.fetchone()
        return Catalogue.model_validate_json(row[0]) if row else None

    def published_json(self, version: int | None = None) -> tuple[int, str] | None:
        """The newest (or one) version's number and its JSON text as stored: what centres download."""
        with self.store.tx() as cur:
            if version is None:
                cur.execute("SELECT version, body FROM catalogue_versions ORDER BY version DESC LIMIT 1")
            else:
                cur.execute("SELECT version, body FROM catalogue_versions WHERE version=?", [version])
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def versions(self) -> list[Version]:
        with self.store.tx() as cur:
            cur.execute("SELECT version, published_at, published_by, note FROM catalogue_versions "
                        "ORDER BY version DESC")
            return [Version(*r) for r in cur.fetchall()]

    def publish(self, actor: str, note: str, *, seed: Catalogue | None = None) -> int:
        """Publish the draft (or ``seed``, for a first version) as the next version; returns its number.

        Refused when nothing changed since the newest version: a version a
        centre downloads must say something new. The number comes from the
        table inside the transaction; two admins publishing at once get two
        numbers or one refusal (the primary key), never one number twice.
        """
        note = " ".join(note.split())[:500]
        if not note:
            raise CatalogueError("note_required", "say in a few words what this version changes",
                                 fields={"note": "required"})
        draft = seed or self.draft().catalogue
        newest = self.published()
        changes = diff(newest, draft)
        if newest is not None and not changes:
            raise CatalogueError("nothing_changed", f"the draft is the same as version {newest.version}", 409)
        if not draft.services:
            raise CatalogueError("empty", "a catalogue needs at least one service", 409)
        now = time.time()
        from datetime import UTC, datetime

        with self.store.tx() as cur:
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM catalogue_versions")
            number = cur.fetchone()[0] + 1
            body = draft.model_copy(update={"version": number, "published_at": datetime.fromtimestamp(now, UTC),
                                            "published_by": actor})
            try:
                cur.execute("INSERT INTO catalogue_versions(version, published_at, published_by, note, body) "
                            "VALUES (?,?,?,?,?)", [number, now, actor, note, body.model_dump_json()])
            except Exception as err:  # the primary key: another admin published this number a moment ago
                if "unique" in str(err).lower() or "duplicate" in str(err).lower():
                    raise CatalogueError("publish_conflict", "another version was published meanwhile: "
                                         "check the draft and publish again", 409) from None
                raise
            self._audit(cur, now, actor, "publish", [Change(None, "version", str(number - 1), str(number))],
                        version=number, note=note)
        logger.info("catalogue version %s published by %s (%s changes): %s", number, actor, len(changes), note)
        return number

    # -------------------------------------------------------------- the draft

    def draft(self) -> Draft:
        """The working draft; made from the newest version the first time it is asked for."""
        newest = self.published()
        with self.store.tx() as cur:
            cur.execute("SELECT revision, body, updated_at, updated_by FROM catalogue_draft WHERE id=1")
            row = cur.fetchone()
            if row is None:
                start = (newest.model_copy(update={"version": 0, "published_at": None, "published_by": None})
                         if newest else Catalogue(version=0, services=[]))
                now = time.time()
                cur.execute("INSERT INTO catalogue_draft(id, revision, body, updated_at, updated_by) "
                            "VALUES (1, 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                            [start.model_dump_json(), now, "system"])
                cur.execute("SELECT revision, body, updated_at, updated_by FROM catalogue_draft WHERE id=1")
                row = cur.fetchone()
        catalogue = Catalogue.model_validate_json(row[1])
        return Draft(row[0], catalogue, row[2], row[3], newest.version if newest else 0, diff(newest, catalogue))

    def _change_draft(self, actor: str, action: str, change: Any, note: str | None = None) -> list[Change]:
        """Apply ``change(catalogue) -> catalogue`` to the draft, audited; retried if another admin saved first."""
        for _attempt in range(5):
            current = self.draft()
            updated = change(current.catalogue)
            try:
                updated = Catalogue.model_validate(updated.model_dump())  # the catalogue's own rules (unique ids)
            except ValidationError as err:
                msg = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in err.errors())
                if "national outcome codes" in msg:  # a service names a code the catalogue does not define
                    raise CatalogueError("invalid_catalogue", msg, fields={"outcomes": "unknown_outcome|" + ", ".join(
                        c.code for c in current.catalogue.outcome_codes)}) from None
                fault = "duplicate_prefix" if "prefix" in msg else "exists_already" if "id" in msg else msg
                raise CatalogueError("invalid_catalogue", msg,
                                     fields={"prefix" if fault == "duplicate_prefix" else "id": fault}) from None
            changes = diff(current.catalogue, updated)
            if not changes:
                return []
            now = time.time()
            with self.store.tx() as cur:
                cur.execute("UPDATE catalogue_draft SET body=?, revision=revision+1, updated_at=?, updated_by=? "
                            "WHERE id=1 AND revision=?", [updated.model_dump_json(), now, actor, current.revision])
                if cur.rowcount != 1:
                    continue
                self._audit(cur, now, actor, action, changes, note=note)
            return changes
        raise CatalogueError("busy", "the draft is being changed by others right now: try again", 409)

    def save_service(self, actor: str, service: CatalogueService, *, original_id: str | None = None,
                     base: dict[str, str] | None = None) -> list[Change]:
        """Save one service into the draft (``original_id`` None: a new one).

        ``base`` is the service as the form showed it: if another admin changed
        a field meanwhile, the save is refused rather than overwriting them.
        """
        def change(cat: Catalogue) -> Catalogue:
            services = list(cat.services)
            if original_id is None:
                if cat.service(service.id):
                    raise CatalogueError("service_exists", f"a service {service.id!r} exists already",
                                         fields={"id": "exists_already"})
                services.append(service)
            else:
                old = cat.service(original_id)
                if old is None:
                    raise CatalogueError("unknown_service", f"no service {original_id!r} in the draft", 404)
                if service.id != original_id:
                    raise CatalogueError("id_fixed", "a service's id cannot change (centres know it by it)",
                                         fields={"id": "id_fixed"})
                if base is not None:
                    now_flat = flatten(old)
                    clash = [c for c in COLUMNS if c in base and base[c] != now_flat[c]]
                    if clash:
                        raise CatalogueError("changed_meanwhile", "someone changed this service while you "
                                             "edited it: reload to see their change", 409,
                                             fields={c: "changed_meanwhile" for c in clash})
                services = [service if s.id == original_id else s for s in services]
            return cat.model_copy(update={"services": services})

        return self._change_draft(actor, "add" if original_id is None else "edit", change)

    def retire_service(self, actor: str, service_id: str) -> list[Change]:
        """Take a service out of the draft (the published versions keep it)."""
        def change(cat: Catalogue) -> Catalogue:
            if cat.service(service_id) is None:
                raise CatalogueError("unknown_service", f"no service {service_id!r} in the draft", 404)
            return cat.model_copy(update={"services": [s for s in cat.services if s.id != service_id]})

        return self._change_draft(actor, "retire", change)

    def set_standards(self, actor: str, standards: QueueStandards) -> list[Change]:
        return self._change_draft(actor, "standards", lambda cat: cat.model_copy(update={"standards": standards}))

    def save_outcome(self, actor: str, outcome: OutcomeDefinition, *, new: bool,
                     base: dict[str, str] | None = None) -> list[Change]:
        """Define a national outcome code (``new``) or relabel one; it goes to centres with the next version.

        A code never changes once defined (centres' records and reports keep it); ``base`` is the
        code as the form showed it: if another admin changed it meanwhile, the save is refused.
        """
        def change(cat: Catalogue) -> Catalogue:
            codes = list(cat.outcome_codes)
            held = cat.outcome(outcome.code)
            if new:
                if held is not None:
                    raise CatalogueError("outcome_exists", f"the outcome code {outcome.code!r} exists already",
                                         fields={"code": "outcome_exists"})
                return cat.model_copy(update={"outcome_codes": codes + [outcome]})
            if held is None:
                raise CatalogueError("unknown_outcome", f"no outcome code {outcome.code!r} in the draft", 404)
            if base is not None:
                clash = [p for p, v in outcome_flat(held).items() if p in base and base[p] != v]
                if clash:
                    raise CatalogueError("changed_meanwhile", "someone changed this outcome code while you "
                                         "edited it: reload to see their change", 409,
                                         fields={p: "changed_meanwhile" for p in clash})
            return cat.model_copy(update={"outcome_codes": [outcome if o.code == outcome.code else o
                                                            for o in codes]})

        return self._change_draft(actor, "outcome", change)

    def retire_outcome(self, actor: str, code: str) -> list[Change]:
        """Retire a national outcome code: no service offers it any more (each service that listed it loses it,
        audited as the service's ``outcomes`` change), so clerks stop being offered it once the draft is
        published. The definition stays, labels and all: centres' records and reports keep the code, and a
        service may be given it again. ``served`` cannot go (every service ends with it)."""
        def change(cat: Catalogue) -> Catalogue:
            if cat.outcome(code) is None:
                raise CatalogueError("unknown_outcome", f"no outcome code {code!r} in the draft", 404)
            if code == "served":
                raise CatalogueError("outcome_served_stays", "'served' is how every service ends: it stays", 409,
                                     fields={"code": "outcome_served_stays"})
            return cat.model_copy(update={"services": [
                s.model_copy(update={"outcomes": [c for c in s.outcomes if c != code]}) if code in s.outcomes else s
                for s in cat.services]})

        return self._change_draft(actor, "outcome_retired", change, note=code)

    def import_services(self, actor: str, services: list[CatalogueService], filename: str = "") -> list[Change]:
        """Put the CSV's services into the draft: same id replaced, new id added, others kept."""
        def change(cat: Catalogue) -> Catalogue:
            incoming = {s.id: s for s in services}
            kept = [incoming.pop(s.id, s) for s in cat.services]
            return cat.model_copy(update={"services": kept + list(incoming.values())})

        return self._change_draft(actor, "import", change, note=filename[:200] or None)

    def start_from_shipped(self, actor: str) -> list[Change]:
        """Fill an empty draft with the catalogue shipped in the package (demo data to check and correct)."""
        shipped = shipped_catalogue()

        def change(cat: Catalogue) -> Catalogue:
            if cat.services:
                raise CatalogueError("draft_not_empty", "the draft has services already", 409)
            return cat.model_copy(update={"services": shipped.services, "standards": shipped.standards,
                                          "demo": shipped.demo, "outcome_codes": shipped.outcome_codes})

        return self._change_draft(actor, "import", change, note="the catalogue shipped with the software")

    # -------------------------------------------------------------- audit

    def _audit(self, cur: Any, now: float, actor: str, action: str, changes: list[Change], *,
               version: int | None = None, note: str | None = None) -> None:
        for seq, c in enumerate(changes):
            cur.execute("INSERT INTO catalogue_audit(at, seq, actor, action, service_id, field, before, after, "
                        "version, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        [now, seq, actor, action, c.service_id, c.field, c.before, c.after, version, note])

    def audit(self, limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
        """The newest changes first."""
        with self.store.tx() as cur:
            cur.execute("SELECT at, seq, actor, action, service_id, field, before, after, version, note "
                        "FROM catalogue_audit ORDER BY at DESC, seq LIMIT ? OFFSET ?", [limit, offset])
            keys = ("at", "seq", "actor", "action", "service_id", "field", "before", "after", "version", "note")
            return [dict(zip(keys, r)) for r in cur.fetchall()]

    # -------------------------------------------------------------- centres

    def record_report(self, centre_id: str, report: CentreCatalogueReport) -> None:
        """What a centre said it runs and offers (its latest report replaces the previous one)."""
        offerings = json.dumps([o.model_dump(mode="json") for o in report.offerings], ensure_ascii=False)
        applied = report.applied_at.isoformat() if report.applied_at else None
        now = time.time()
        with self.store.tx() as cur:
            cur.execute("INSERT INTO centre_catalogue(centre_id, version, applied_at, offerings, reported_at, "
                        "seen_version, seen_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (centre_id) DO UPDATE SET "
                        "version=excluded.version, applied_at=excluded.applied_at, offerings=excluded.offerings, "
                        "reported_at=excluded.reported_at, seen_version=excluded.seen_version, "
                        "seen_at=excluded.seen_at",
                        [centre_id, report.version, applied, offerings, now, report.version, now])
        logger.info("centre %s runs catalogue version %s (%s offerings reported)", centre_id, report.version,
                    len(report.offerings))

    def record_seen(self, centre_id: str, version: int) -> None:
        """The version a centre's summary upload said it runs (``X-Catalogue-Version``)."""
        now = time.time()
        with self.store.tx() as cur:
            cur.execute("INSERT INTO centre_catalogue(centre_id, seen_version, seen_at) VALUES (?,?,?) "
                        "ON CONFLICT (centre_id) DO UPDATE SET seen_version=excluded.seen_version, "
                        "seen_at=excluded.seen_at", [centre_id, version, now])

    def centre_reports(self) -> dict[str, dict[str, Any]]:
        """Each centre's catalogue state: ``running`` (the latest word, report or upload), offerings."""
        with self.store.tx() as cur:
            cur.execute("SELECT centre_id, version, applied_at, offerings, reported_at, seen_version, seen_at "
                        "FROM centre_catalogue")
            rows = cur.fetchall()
        out = {}
        for cid, version, applied, offerings, reported_at, seen, seen_at in rows:
            latest = seen if (seen_at or 0) >= (reported_at or 0) else version
            out[cid] = {"version": version, "applied_at": applied, "reported_at": reported_at,
                        "running": latest if latest is not None else version,
                        "offerings": json.loads(offerings) if offerings else None}
        return out


def seed_demo(catalogues: CatalogueStore) -> int | None:
    """Publish the package's catalogue as version 1 when nothing is published yet; returns the version made."""
    if catalogues.newest_version() > 0:
        return None
    shipped = shipped_catalogue()
    number = catalogues.publish("demo", "The demo catalogue shipped with the package (demo data)", seed=shipped)
    catalogues.draft()  # the admin starts editing from version 1
    return number
