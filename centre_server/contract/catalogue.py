"""The national service catalogue: what a citizen needs to know before taking a ticket.

Headquarters edits one catalogue for every centre and publishes it in numbered
versions; each centre fetches the version it lacks and shows the same text,
fee and target on every channel. A centre chooses only whether it offers a
service and whether it is suspended now (``Offering``), never the national
text, fee or target. Every text is in English and Kiswahili (``Text``).

The centre republishes what it runs, retained on ``state/catalogue``
(``CatalogueStatePayload``), so a kiosk or a hall display can show it without
asking, and answers it over HTTP at ``/api/v1/catalogue``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from centre_server.contract import Language, Priority

# The part of a service id and a prefix a citizen types in SMS ("INFO A") and USSD.
SERVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
PREFIX_PATTERN = r"^[A-Z]{1,2}$"
# An outcome code as a clerk's completion records it (``served``, ``documents_missing``).
OUTCOME_CODE_PATTERN = r"^[a-z0-9_]{1,40}$"
MAX_OUTCOMES = 12  # the codes one service offers a clerk: a short list on the terminal
# Limits that keep every text on a kiosk button, a ticket and a 182-character USSD screen.
MAX_NAME = 60
MAX_DESCRIPTION = 240
MAX_ITEM = 120
MAX_DOCUMENTS = 8


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # control, format, surrogate, private, unassigned


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """One text in both languages; neither may be empty."""

    en: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    sw: str = Field(min_length=1, max_length=MAX_DESCRIPTION)

    @field_validator("en", "sw")
    @classmethod
    def _stripped(cls, v: str) -> str:
        v = " ".join(v.split())  # line breaks and tabs become single spaces: a text is one paragraph
        if not v:
            raise ValueError("text is empty")
        if any(unicodedata.category(ch) in _UNPRINTABLE for ch in v):
            raise ValueError("text holds a control or invisible character")  # a NUL would reach SMS and logs
        return v

    def get(self, language: Language | str) -> str:
        return self.sw if str(language) == Language.sw else self.en


class FeePaid(StrEnum):
    """Where a citizen pays a service's fee: what decides whether the queue may ask for it."""

    centre = "centre"  # here: by the M-Pesa prompt while waiting, or at the counter (the old catalogues' meaning)
    online = "online"  # on eCitizen (or the agency's own site) when applying: the citizen brings the receipt


class Fee(_Model):
    """What the service costs, as the agency publishes it. 0: free of charge, unless ``varies``."""

    amount_ksh: int = Field(ge=0, le=1_000_000)
    # The amount depends on the case (county rates, a bill, postage by weight): no screen may say "Free";
    # the note says what it depends on. ``amount_ksh``, when not 0, is then a typical amount.
    varies: bool = False
    payer: Text | None = None  # who pays, e.g. "The applicant" / "Mwombaji"
    waivers: Text | None = None  # who pays less or nothing
    note: Text | None = None  # e.g. "Paid by M-Pesa to the agency's paybill"
    # where it is paid; a catalogue published before this field had none and means the centre. A fee paid
    # online is never prompted for, taken at the counter or counted as due here: it was paid when applying.
    paid: FeePaid = FeePaid.centre

    @model_validator(mode="after")
    def _varies_says_why(self) -> Fee:
        if self.varies and self.note is None:
            raise ValueError("a fee that varies needs a note saying what it depends on")
        return self

    @property
    def free(self) -> bool:
        """Nothing to pay: what lets a screen say "Free" / "Bure"."""
        return self.amount_ksh == 0 and not self.varies

    @property
    def paid_online(self) -> bool:
        """Paid on eCitizen when applying: screens say "bring the receipt", and nothing is due at the centre."""
        return self.paid == FeePaid.online and not self.free

    @property
    def due_here(self) -> bool:
        """A fee the centre takes (by M-Pesa or at the counter) for this service."""
        return not self.free and not self.paid_online


class CatalogueService(_Model):
    """One national service: the same text, fee and standard at every centre."""

    id: str = Field(pattern=SERVICE_ID_PATTERN)
    prefix: str = Field(pattern=PREFIX_PATTERN)  # the national ticket letter; a centre keeps its own if it has one
    name: Text
    category: Text
    description: Text
    agency: str = Field(min_length=1, max_length=MAX_NAME)
    documents: list[Text] = Field(default_factory=list, max_length=MAX_DOCUMENTS)  # what to bring
    eligibility: Text | None = None  # who may apply
    in_person: Text | None = None  # who must appear in person
    where_to_get: Text | None = None  # where to get a missing document ("I don't have these")
    fee: Fee
    typical_duration_min: float = Field(gt=0, le=240)
    target_wait_min: int = Field(ge=1, le=480)
    # the outcome codes a clerk records for it, the same at every centre (empty: the centre's menu decides);
    # a centre's menu may add codes of its own after these, never drop one
    outcomes: list[str] = Field(default_factory=list, max_length=MAX_OUTCOMES)

    @field_validator("outcomes")
    @classmethod
    def _outcomes(cls, v: list[str]) -> list[str]:
        codes = list(dict.fromkeys(c.strip() for c in v if c.strip()))
        bad = [c for c in codes if not re.match(OUTCOME_CODE_PATTERN, c)]
        if bad:
            raise ValueError(f"outcome codes are lower-case letters, digits and '_': {', '.join(bad)}")
        if codes and "served" not in codes:
            raise ValueError("a service's outcome codes must include 'served'")
        return codes

    @field_validator("name", "category")
    @classmethod
    def _short(cls, v: Text) -> Text:
        if len(v.en) > MAX_NAME or len(v.sw) > MAX_NAME:
            raise ValueError(f"a name has at most {MAX_NAME} characters")
        return v

    @field_validator("documents")
    @classmethod
    def _items(cls, v: list[Text]) -> list[Text]:
        for item in v:
            if len(item.en) > MAX_ITEM or len(item.sw) > MAX_ITEM:
                raise ValueError(f"a document line has at most {MAX_ITEM} characters")
        return v


class OutcomeDefinition(_Model):
    """One national outcome code: what it means in both languages, and whether the clerk must say why."""

    code: str = Field(pattern=OUTCOME_CODE_PATTERN)
    label: Text
    reason_required: bool = False  # "documents missing" must say which: the clerk types it

    @field_validator("label")
    @classmethod
    def _short(cls, v: Text) -> Text:
        if len(v.en) > MAX_NAME or len(v.sw) > MAX_NAME:
            raise ValueError(f"an outcome's label has at most {MAX_NAME} characters (a button on the terminal)")
        return v


class QueueStandards(_Model):
    """The queue rules headquarters sets for every centre (targets live on each service)."""

    priority_classes: list[Priority] = Field(
        default_factory=lambda: [Priority.elderly, Priority.disability, Priority.expectant, Priority.appointment])
    priority_streak_limit: int = Field(3, ge=1, le=50)  # priority calls in a row before one normal ticket
    target_share: float = Field(0.8, gt=0, le=1)  # share of citizens to be called within the target wait


class Catalogue(_Model):
    """One published version of the national catalogue."""

    version: int = Field(ge=0)  # 0: the catalogue shipped in the package, before any sync
    published_at: datetime | None = None
    published_by: str | None = None
    demo: bool = False  # demo data: fees and requirements to be checked against the agencies
    standards: QueueStandards = Field(default_factory=QueueStandards)
    services: list[CatalogueService]
    # the national outcome codes the services' ``outcomes`` name: one meaning and one label everywhere
    outcome_codes: list[OutcomeDefinition] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        ids = [s.id for s in self.services]
        prefixes = [s.prefix for s in self.services]
        if len(set(ids)) != len(ids):
            raise ValueError("a service id appears twice")
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("a prefix appears twice")
        codes = [o.code for o in self.outcome_codes]
        if len(set(codes)) != len(codes):
            raise ValueError("an outcome code is defined twice")
        for s in self.services:
            unknown = [c for c in s.outcomes if c not in codes]
            if unknown:
                raise ValueError(f"{s.id}: outcome code(s) {', '.join(unknown)} not among the national outcome codes")
        return self

    def outcome(self, code: str) -> OutcomeDefinition | None:
        return next((o for o in self.outcome_codes if o.code == code), None)

    def service(self, service_id: str) -> CatalogueService | None:
        return next((s for s in self.services if s.id == service_id), None)


class OfferingStatus(StrEnum):
    """What a centre does with a national service: the one thing it may decide."""

    offered = "offered"
    not_offered = "not_offered"  # this centre does not offer it (no counter, no agency desk)
    suspended = "suspended"  # offered, but stopped now (e.g. the agency's system is down): reason shown


SUSPENSION_NEEDS_A_REASON: dict[str, Any] = {
    "if": {"properties": {"status": {"const": "suspended"}}, "required": ["status"]},
    "then": {"properties": {"reason": {"type": "object"}}, "required": ["reason"]}}


class Offering(_Model):
    """A centre's choice for one national service, with since when."""

    # the rule of ``_reason`` below, written in the JSON schema too (so API clients and fuzzers know it)
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=SUSPENSION_NEEDS_A_REASON)

    service_id: str = Field(pattern=SERVICE_ID_PATTERN)
    status: OfferingStatus = OfferingStatus.offered
    reason: Text | None = None  # required when suspended: shown to citizens on every channel
    since: datetime | None = None
    by: str | None = Field(None, max_length=60)  # the manager who decided it

    @model_validator(mode="after")
    def _reason(self) -> Offering:
        if self.status == OfferingStatus.suspended and self.reason is None:
            raise ValueError("a suspension needs a reason for citizens, in English and Kiswahili")
        return self


class ServiceInfo(_Model):
    """What every channel shows about one service at this centre: the national text and the local status."""

    service: CatalogueService
    offering: Offering


class CatalogueStatePayload(_Model):
    """Retained on ``state/catalogue`` and answered by ``GET /api/v1/catalogue``."""

    version: int
    published_at: datetime | None = None
    applied_at: datetime | None = None  # when this centre started running it
    demo: bool = False
    standards: QueueStandards = Field(default_factory=QueueStandards)
    services: list[ServiceInfo]

    def info(self, service_id: str) -> ServiceInfo | None:
        return next((s for s in self.services if s.service.id == service_id), None)


# The downstream sync, over the same link and centre token as the nightly summaries:
#   GET {hq_url}/api/v1/catalogue  (Authorization: Bearer <centre token>, If-None-Match: "v<running>-<epoch>")
#     200 with the newest ``Catalogue``, ``ETag: "v<N>-<epoch>"`` and ``X-Catalogue-Epoch: <epoch>``, or 304
#     when the centre runs the newest. The epoch names headquarters' catalogue history (made once, with its
#     tables): a rebuilt headquarters numbers its versions from 1 again under a new epoch, and a centre that
#     sees a new epoch takes the catalogue whatever its number.
#   PUT {hq_url}/api/v1/centres/me/catalogue  (the same token) with a ``CentreCatalogueReport``:
#     which version the centre runs and what it offers, so headquarters can show uniformity.
CATALOGUE_PATH = "/api/v1/catalogue"
CATALOGUE_REPORT_PATH = "/api/v1/centres/me/catalogue"
CATALOGUE_VERSION_HEADER = "X-Catalogue-Version"  # the centre's running version, also on its summary uploads


CATALOGUE_EPOCH_HEADER = "X-Catalogue-Epoch"
EPOCH_PATTERN = r"[A-Za-z0-9_]{1,64}"


def catalogue_etag(version: int, epoch: str = "") -> str:
    """The strong ETag of one catalogue version of one history (also what the centre sends as ``If-None-Match``;
    a centre that knows no epoch yet sends the bare ``"v<N>"``)."""
    return f'"v{version}-{epoch}"' if epoch else f'"v{version}"'


class CentreCatalogueReport(_Model):
    """What a centre tells headquarters after each sync and after each change of an offering."""

    version: int = Field(ge=0)
    applied_at: datetime | None = None
    offerings: list[Offering] = Field(default_factory=list, max_length=500)


class OfferingRequest(_Model):
    """``POST /api/v1/catalogue/{id}/offering``: a manager offers, stops offering or suspends a national service."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=SUSPENSION_NEEDS_A_REASON)

    status: OfferingStatus
    reason: Text | None = None  # required to suspend: what citizens are told, in both languages

    @model_validator(mode="after")
    def _reason(self) -> OfferingRequest:
        if self.status == OfferingStatus.suspended and self.reason is None:
            raise ValueError("a suspension needs a reason for citizens, in English and Kiswahili")
        return self


class CatalogueSyncStatus(_Model):
    """What the centre knows of its catalogue link (``huduma-centre catalogue show``, the board)."""

    running_version: int
    applied_at: datetime | None = None
    last_checked_at: datetime | None = None  # the last answer from headquarters (200 or 304)
    last_error: str | None = None  # why the last try failed, while headquarters is unreachable
    report_pending: bool = False  # a report to headquarters waits to be sent


def shipped_catalogue() -> Catalogue:
    """The catalogue shipped in the package (version 0): what a centre runs before its first sync."""
    from importlib import resources

    text = resources.files("centre_server").joinpath("data/catalogue.json").read_text(encoding="utf-8")
    return Catalogue.model_validate_json(text)
