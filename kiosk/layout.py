"""The printed ticket: one function, any python-escpos printer.

The same code prints to paper, to a ``File`` and to ``Dummy`` in tests, so what
the tests decode is what the citizen holds.
"""

from __future__ import annotations

import logging
import textwrap
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from escpos.escpos import Escpos

from centre_server.contract import Priority, TicketOut
from centre_server.contract.catalogue import CatalogueService
from kiosk import needs as needs_text
from kiosk.i18n import ahead_text, estimate_text, priority_name, tr, wait_text

logger = logging.getLogger(__name__)

CENTRE_TZ = ZoneInfo("Africa/Nairobi")


def local_time(moment: datetime, tz: ZoneInfo = CENTRE_TZ) -> datetime:
    """The centre's wall-clock time for a server timestamp (naive means UTC)."""
    if moment.tzinfo is None:

        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def service_name(ticket: TicketOut, language: str) -> str:
    return ticket.service_name_sw if str(language) == "sw" else ticket.service_name_en


def wrap_keeping(text: str, keep: str, cols: int) -> list[str]:
    """``text`` wrapped to ``cols``, never breaking inside ``keep``: "dakika 34" stays on one line rather
    than leaving the figure alone under its unit."""
    glue = "\x00"
    whole = keep.replace(" ", glue)
    return [line.replace(glue, " ") for line in textwrap.wrap(text.replace(keep, whole), cols)]


def print_left_off(printer: Escpos, left_off: int, lang: str, cols: int) -> None:
    """"and 2 more (scan the code)" on a line of its own, flush with the tick boxes: indented, it read as the
    end of the last document above it."""
    if left_off:
        for line in textwrap.wrap(tr("print_more", lang, n=left_off), cols):
            printer.textln(line)


def print_checklist(printer: Escpos, needs: CatalogueService, lang: str, cols: int) -> None:
    """"BRING:" and up to four documents as tick boxes, wrapped under their box; then the fee, in bold."""
    docs, left_off = needs_text.printed_checklist(needs, lang)
    printer.set_with_default(align="left")
    if docs:
        printer.ln()
        printer.set(bold=True)
        printer.textln(tr("print_bring", lang))
        printer.set(bold=False)
        for doc in docs:
            lines = textwrap.wrap(doc, max(8, cols - 4))
            for i, line in enumerate(lines):
                printer.textln(("[ ] " if i == 0 else "    ") + line)
        print_left_off(printer, left_off, lang, cols)
    printer.set_with_default(align="center", bold=True)
    for line in textwrap.wrap(needs_text.fee_line(needs.fee, lang), cols):
        printer.textln(line)
    printer.set_with_default(align="center")


def print_visit_checklists(printer: Escpos, services: list[CatalogueService], names: dict[str, str], lang: str,
                           cols: int) -> None:
    """A visit's checklist: "BRING:" once, then each service by number and name with its documents as tick
    boxes (at most four each, as for one service) and its fee, so one ticket covers every step."""
    printer.set_with_default(align="left")
    printer.ln()
    printer.set(bold=True)
    printer.textln(tr("print_bring", lang))
    for i, service in enumerate(services, 1):
        printer.set(bold=True)
        for line in textwrap.wrap(f"{i}. {names.get(service.id) or service.name.get(lang)}", cols):
            printer.textln(line)
        printer.set(bold=False)
        docs, left_off = needs_text.printed_checklist(service, lang)
        for doc in docs:
            for j, line in enumerate(textwrap.wrap(doc, max(8, cols - 4))):
                printer.textln(("[ ] " if j == 0 else "    ") + line)
        if not docs:
            for line in textwrap.wrap(tr("print_visit_no_documents", lang), max(8, cols - 4)):
                printer.textln("    " + line)
        print_left_off(printer, left_off, lang, cols)
        for line in textwrap.wrap(needs_text.fee_line(service.fee, lang), max(8, cols - 4)):
            printer.textln("    " + line)
    printer.set_with_default(align="center")


def print_ticket(
    printer: Escpos,
    ticket: TicketOut,
    centre_name: str,
    language: str | None = None,
    *,
    qr_native: bool = True,
    qr_size: int = 6,
    columns: int | None = None,
    reprint: bool = False,
    needs: CatalogueService | list[CatalogueService] | None = None,
    payment: list[str] | None = None,
) -> None:
    """Print one ticket and cut.

    Order on paper: centre name, "your number", the number as large as the
    paper allows, service name (chosen language), priority mark, people ahead
    and estimated wait, date and time, QR code to the ticket's status page,
    footer. ``reprint`` adds a small "copy" mark so staff can tell. ``needs`` (the service's
    national catalogue entry, when the kiosk knows it) adds a short checklist of the documents to
    bring and the fee, so a citizen can check their papers while they wait; a list of them (a one-stop
    visit's services still ahead) prints each service's checklist under its name.
    """
    lang = str(language or ticket.language)
    cols = columns or printer.profile.get_columns("a") or 42

    if len(centre_name) * 2 <= cols:
        printer.set_with_default(align="center", bold=True, double_height=True, double_width=True)
        printer.textln(centre_name)
    else:  # too long for double width: double height only, wrapped
        printer.set_with_default(align="center", bold=True, double_height=True)
        for line in textwrap.wrap(centre_name, cols):
            printer.textln(line)
    printer.set_with_default(align="center")
    printer.ln()
    printer.textln(tr("print_number", lang))

    # The number: the largest size that fits the paper's width.
    width = max(1, min(8, cols // max(1, len(ticket.number))))
    printer.set(align="center", bold=True, custom_size=True, width=width, height=8)
    printer.textln(ticket.number)
    printer.set_with_default(align="center", bold=True, double_height=True)
    for line in textwrap.wrap(service_name(ticket, lang), cols):
        printer.textln(line)
    printer.set_with_default(align="center")

    if ticket.priority != Priority.none:
        printer.set(invert=True, bold=True)
        printer.textln(f" {tr('priority_mark', lang)} ")
        printer.set(invert=False, bold=True)
        for line in textwrap.wrap(priority_name(ticket.priority, lang), cols):
            printer.textln(line)
        printer.set(bold=False)

    printer.ln()
    known = ticket.estimated_wait_s is not None
    printer.textln(ahead_text(ticket.position, lang, estimate_known=known))
    if known:
        printer.textln(estimate_text(ticket.estimated_wait_s, None, lang))
    else:  # no number is ever invented: the reason, in bold, wrapped to the paper
        printer.set(bold=True)
        for line in textwrap.wrap(estimate_text(None, ticket.wait_unknown, lang), cols):
            printer.textln(line)
        printer.set(bold=False)
    later = [x for x in (ticket.visit or []) if x.state == "next"]
    if later:  # a one-stop visit: the same number at each step; where each is served
        printer.ln()
        printer.set(bold=True)
        printer.textln(tr("print_visit_steps", lang))
        printer.set(bold=False)
        for i, x in enumerate(later, 2):
            key = "print_visit_counters" if len(x.counters) == 1 else "print_visit_counters_many"
            where = f"({tr(key, lang, counters=', '.join(x.counters))})" if x.counters else ""
            # where it is served on a line of its own when it does not fit whole: never "14)" alone
            keep = where if len(where) <= cols else ""
            for line in wrap_keeping(f"{i}. {x.name_sw if lang == 'sw' else x.name_en} {where}".rstrip(), keep, cols):
                printer.textln(line)
        if ticket.visit_wait_s is not None:  # the whole visit's estimate: every step left
            wait = wait_text(ticket.visit_wait_s, lang)
            for line in wrap_keeping(tr("print_visit_wait", lang, w=wait), wait, cols):
                printer.textln(line)
        for line in textwrap.wrap(tr("print_visit_note", lang), cols):
            printer.textln(line)
    services = needs if isinstance(needs, list) else [needs] if needs is not None else []
    if len(services) == 1:
        print_checklist(printer, services[0], lang, cols)
    elif services:
        names = {x.service_id: x.name_sw if lang == "sw" else x.name_en for x in ticket.visit or []}
        print_visit_checklists(printer, services, names, lang, cols)
    if payment:  # the fee's state (kiosk/payment.py): the receipt number, pending, or pay at the counter
        printer.set_with_default(align="center", bold=True)
        for text in payment:
            for line in textwrap.wrap(text, cols):
                printer.textln(line)
        printer.set_with_default(align="center")
    issued = local_time(ticket.issued_at)
    printer.textln(f"{tr('print_issued', lang)}: {issued:%d/%m/%Y %H:%M}")
    if reprint:
        printer.textln("*** COPY / NAKALA ***")

    if ticket.status_url:
        printer.qr(ticket.status_url, size=qr_size, native=qr_native, center=not qr_native)
        printer.set_with_default(align="center", font="b")
        printer.textln(tr("scan_qr", lang))

    printer.set_with_default(align="center")
    printer.ln()
    printer.textln(tr("print_footer", lang))
    printer.textln(tr("print_thanks", lang))
    printer.set_with_default()
    printer.cut()
    logger.info("printed ticket %s (%s)%s", ticket.number, lang, " copy" if reprint else "")
