"""What a citizen needs before taking a ticket, in words: the documents, the fee, who may apply.

The national catalogue (``centre_server.contract.catalogue``) holds the facts; this
module phrases them once for the "What you need" screen, the "I don't have these"
screen and the printed ticket, so all three say the same thing in the same words.
No Kivy here: the printed ticket and the tests use it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from centre_server.contract import TicketOut
from centre_server.contract.catalogue import CatalogueService, Fee, Text
from kiosk.i18n import tr

logger = logging.getLogger(__name__)

PRINTED_DOCUMENTS = 4  # a ticket carries a short checklist; the rest is on the screen and the ticket page


def fee_amount(fee: Fee, language: str) -> str:
    """"KSh 1,050" (the same in both languages), "Free" / "Bure", "Amount varies" (the note says on what), or
    "Paid on eCitizen" when the citizen pays it online when applying (never asked for at the centre)."""
    if fee.paid_online:  # the amount when it is one (what the eCitizen receipt should show), else the note says
        return (tr("fee_online", language) if fee.varies
                else tr("fee_online_ksh", language, amount=f"{fee.amount_ksh:,}"))
    if fee.varies:
        return tr("fee_varies", language)
    if fee.free:
        return tr("fee_free", language)
    return tr("fee_ksh", language, amount=f"{fee.amount_ksh:,}")


def fee_line(fee: Fee, language: str) -> str:
    """"Fee: KSh 1,050" / "Ada: KSh 1,050" / "Fee: Free" / "Ada: Bure"."""
    return tr("fee_line", language, fee=fee_amount(fee, language))


def documents(service: CatalogueService, language: str) -> list[str]:
    return [d.get(language) for d in service.documents]


def _text(t: Text | None, language: str) -> str:
    return t.get(language) if t is not None else ""


def fee_details(service: CatalogueService, language: str) -> list[str]:
    """Who pays, the waivers and the agency's note, each a sentence (empty ones left out)."""
    fee = service.fee
    lines = []
    if fee.paid_online:  # said first: nobody should look for a way to pay it here
        lines.append(tr("needs_paid_online", language))
    if fee.payer is not None:
        lines.append(tr("needs_payer", language, text=fee.payer.get(language)))
    if fee.waivers is not None:
        lines.append(tr("needs_waivers", language, text=fee.waivers.get(language)))
    if fee.note is not None:
        lines.append(fee.note.get(language))
    return lines


def eligibility(service: CatalogueService, language: str) -> str:
    return _text(service.eligibility, language)


def in_person(service: CatalogueService, language: str) -> str:
    return _text(service.in_person, language)


def where_to_get(service: CatalogueService, language: str) -> str:
    """Where to get a missing document; the information desk when the catalogue does not say."""
    return _text(service.where_to_get, language) or tr("nodocs_ask", language)


def printed_checklist(service: CatalogueService, language: str) -> tuple[list[str], int]:
    """The documents printed on the ticket (at most ``PRINTED_DOCUMENTS``) and how many were left off."""
    docs = documents(service, language)
    return docs[:PRINTED_DOCUMENTS], max(0, len(docs) - PRINTED_DOCUMENTS)


def of_visit(needs_of: Callable[[str], CatalogueService | None],
             service_ids: Sequence[str]) -> list[CatalogueService]:
    """Every service of a visit the catalogue knows, in the visit's order: a citizen taking a new ID and a
    KRA PIN on one ticket needs the papers of both before queuing for either."""
    out = []
    for sid in service_ids:
        service = needs_of(sid)
        if service is not None and service not in out:
            out.append(service)
    return out


def ticket_services(ticket: TicketOut) -> list[str]:
    """The services a ticket still has ahead (the one now and the visit's next ones), in order: what its
    printed checklist covers. A service already done needs nothing more."""
    if ticket.visit:
        ahead = [s.service_id for s in ticket.visit if s.state in ("now", "next")]
        if ahead:
            return ahead
    return [ticket.service_id]


def of_ticket(needs_of: Callable[[str], CatalogueService | None], ticket: TicketOut) -> list[CatalogueService]:
    """What the printed ticket lists: the needs of every service still ahead on it."""
    return of_visit(needs_of, ticket_services(ticket))
