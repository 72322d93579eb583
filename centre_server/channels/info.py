"""What a citizen needs before taking a ticket, in words for every channel (issue 19).

The national catalogue gives each service its documents, fee, eligibility and who
must come in person, and this centre's offering (offered, not offered here, or
suspended now with a reason). This module turns one ``ServiceInfo`` into words
once, for the pages (/join, /book and the citizen's page /t/), the USSD "Service
information" screens and the INFO SMS, so a fee or a checklist reads the same
on every channel and in both languages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from centre_server.channels.i18n import ascii_fit, tr
from centre_server.contract.catalogue import Fee, OfferingStatus, ServiceInfo, Text

logger = logging.getLogger(__name__)

SMS_LIMIT = 160  # one SMS of plain (GSM) text; an INFO answer is at most two of them


def fee_amount(fee: Fee, lang: str) -> str:
    """ "Free" / "Bure", or "KSh 1,050" (the agency's published amount, thousands separated); a fee paid on
    eCitizen when applying says so and asks for the receipt (the queue never asks for it)."""
    if fee.paid_online:
        return tr("info_online", lang) if fee.varies else tr("info_online_ksh", lang, amount=f"{fee.amount_ksh:,}")
    if fee.varies:
        return tr("info_varies", lang)
    if fee.free:
        return tr("info_free", lang)
    return tr("info_ksh", lang, amount=f"{fee.amount_ksh:,}")


def suspension(info: ServiceInfo | None) -> Text | None:
    """The reason a suspended service gives citizens, or None when it is not suspended."""
    if info is None or info.offering.status != OfferingStatus.suspended:
        return None
    return info.offering.reason or unexplained_suspension()


def unexplained_suspension() -> Text:
    """The words for a suspension that came without a reason (the contract requires one; never shown blank)."""
    return Text(en=tr("info_suspended_default", "en"), sw=tr("info_suspended_default", "sw"))


def _get(text: Text | None, lang: str) -> str | None:
    return text.get(lang) if text is not None else None


@dataclass(frozen=True)
class InfoView:
    """One service's information as a page shows it, in one language (labels included)."""

    service_id: str
    prefix: str
    name: str
    description: str
    agency: str
    documents: list[str]
    fee: str
    free: bool
    payer: str | None
    waivers: str | None
    fee_note: str | None
    eligibility: str | None
    in_person: str | None
    where_to_get: str | None
    suspended: str | None  # the reason, when the service is suspended here now
    demo: bool
    labels: dict[str, str] = field(default_factory=dict)


LABELS = ("info_title", "info_documents", "info_no_documents", "info_fee", "info_payer", "info_waivers",
          "info_eligibility", "info_in_person", "info_where", "info_suspended_title", "info_demo", "info_agency")


def info_view(info: ServiceInfo, lang: str, demo: bool = False, prefix: str | None = None) -> InfoView:
    """The page's view of ``info``; ``prefix`` is this centre's ticket letter when it keeps its own."""
    s = info.service
    reason = suspension(info)
    return InfoView(
        service_id=s.id, prefix=prefix or s.prefix, name=s.name.get(lang), description=s.description.get(lang),
        agency=s.agency, documents=[d.get(lang) for d in s.documents], fee=fee_amount(s.fee, lang),
        free=s.fee.free, payer=_get(s.fee.payer, lang), waivers=_get(s.fee.waivers, lang),
        fee_note=_get(s.fee.note, lang), eligibility=_get(s.eligibility, lang), in_person=_get(s.in_person, lang),
        where_to_get=_get(s.where_to_get, lang), suspended=reason.get(lang) if reason else None, demo=demo,
        labels={k: tr(k, lang) for k in LABELS})


def plain_parts(info: ServiceInfo, lang: str, one_per_line: bool = False) -> list[str]:
    """The information as short sentences for USSD and SMS: a suspension first, then the fee (the one
    figure nobody may miss when an SMS is cut), the documents, who may apply, who must come in person,
    then the fee's note, who pays and the waivers (long, and needed by fewer), and where to get a missing
    document.
    ``one_per_line``: each document on a line of its own ("- ..."), as a USSD screen shows them."""
    s = info.service
    parts = []
    reason = suspension(info)
    if reason is not None:
        parts.append(tr("info_suspended_plain", lang, reason=reason.get(lang)))
    fee = tr("info_fee_plain", lang, amount=fee_amount(s.fee, lang))
    payment = []
    if s.fee.note is not None:
        payment.append(tr("info_fee_note_plain", lang, note=s.fee.note.get(lang)))
    if s.fee.payer is not None:
        payment.append(tr("info_payer_plain", lang, payer=s.fee.payer.get(lang)))
    if s.fee.waivers is not None:
        payment.append(tr("info_waivers_plain", lang, waivers=s.fee.waivers.get(lang)))
    parts.append(fee)
    docs = [d.get(lang) for d in s.documents]
    if not docs:
        parts.append(tr("info_no_documents", lang) + ".")
    elif one_per_line:
        # the heading travels with the first document: a page never ends on a lone "Bring:"
        first, *rest = ["- " + ascii_fit(d, 10_000) for d in docs]
        parts.append(tr("info_bring_plain", lang, documents="").rstrip() + "\n" + first)
        parts += rest
    else:
        parts.append(tr("info_bring_plain", lang, documents="; ".join(docs)))
    if s.eligibility is not None:
        parts.append(tr("info_eligibility_plain", lang, text=s.eligibility.get(lang)))
    if s.in_person is not None:
        parts.append(tr("info_in_person_plain", lang, text=s.in_person.get(lang)))
    parts += payment
    if s.where_to_get is not None:
        parts.append(tr("info_where_plain", lang, text=s.where_to_get.get(lang)))
    return [p if p.startswith("- ") or p.endswith(":") or "\n- " in p else _sentence(ascii_fit(p, 10_000))
            for p in parts]


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def split_pages(parts: list[str], room: int) -> list[str]:
    """Sentences packed into pages of at most ``room`` characters (lines joined by newlines); a sentence
    longer than a page is split between words, so nothing is lost, only continued on the next page."""
    words_pages: list[str] = []
    current = ""
    for part in parts:
        candidate = (current + "\n" + part) if current else part
        if len(candidate) <= room:
            current = candidate
            continue
        if current:
            words_pages.append(current)
            current = ""
        for word in part.split(" "):
            while len(word) > room:  # a single very long word (a URL): cut it hard
                if current:
                    words_pages.append(current)
                    current = ""
                words_pages.append(word[:room])
                word = word[room:]
            candidate = (current + " " + word) if current else word
            if len(candidate) <= room:
                current = candidate
            else:
                words_pages.append(current)
                current = word
    if current:
        words_pages.append(current)
    return words_pages or [""]


def sms_messages(info: ServiceInfo, lang: str, prefix: str, url: str) -> list[str]:
    """The INFO answer: one or two SMS of at most 160 plain characters each, the link to the full text last.

    Whatever does not fit two messages is cut with "..." (the page behind the link has all of it).
    """
    name = ascii_fit(info.service.name.get(lang), 50)
    text = " ".join([f"Huduma {prefix}: {name}."] + plain_parts(info, lang)).replace("\n", " ")
    tail = tr("info_more_plain", lang, url=url)
    if len(text) + 1 + len(tail) <= SMS_LIMIT:
        return [text + " " + tail]
    first = split_pages([text], SMS_LIMIT)[0]
    rest = text[len(first):].strip()
    if not rest:
        return [first, tail]
    return [first, ascii_fit(rest, SMS_LIMIT - 1 - len(tail)) + " " + tail]
