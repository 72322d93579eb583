"""The printed ticket, decoded from the bytes a printer receives; and the printer backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from escpos.printer import Dummy

from centre_server.contract import PrinterStatus, TicketOut
from kiosk.config import PrinterSettings
from kiosk.layout import print_ticket
from kiosk.printing import TicketPrinter, decode_status
from tests.conftest import within
from tests.kiosk.conftest import ARTIFACTS
from tests.kiosk.escpos_decode import decode
from tests.kiosk.printer_sim import NetworkPrinterSim, SerialPrinterSim


def received(sim, expect_cut: bool, timeout: float = 5.0):
    """What the simulated printer got; its thread reads a moment after the kiosk wrote."""
    def whole():
        printed = decode(sim.printed)
        return printed if printed.cuts or not expect_cut else None

    return within(whole, timeout, 0.02) or decode(sim.printed)


def make_ticket(number: str = "BC042", priority: str = "none", language: str = "en", **kw) -> TicketOut:
    data = dict(id="t-7Qx2", number=number, service_id="birth-cert-collect",
                service_name_en="Birth certificate collection", service_name_sw="Kuchukua cheti cha kuzaliwa",
                priority=priority, channel="kiosk", language=language, state="waiting",
                issued_at=datetime(2026, 3, 2, 6, 5, tzinfo=UTC), position=12,
                estimated_wait_s=1500, status_url="http://10.0.0.2:8000/t/t-7Qx2")
    data.update(kw)
    return TicketOut(**data)


def test_ticket_layout_english():
    printer = Dummy()
    print_ticket(printer, make_ticket(), "Huduma Centre GPO", "en")
    (ARTIFACTS / "ticket-layout-en.bin").write_bytes(printer.output)
    t = decode(printer.output)
    assert t.texts[0] == "Huduma Centre GPO"
    big = t.largest()
    assert big.text == "BC042" and big.height == 8 and big.width == 8 and big.align == "center"
    assert "Birth certificate collection" in t.texts
    assert "12 people ahead of you" in t.texts
    assert "Estimated wait: 25 min" in t.texts
    assert "Issued: 02/03/2026 09:05" in t.texts  # Nairobi time, UTC+3
    assert t.qr == ["http://10.0.0.2:8000/t/t-7Qx2"]
    assert t.cuts == 1 and printer.output.endswith(b"\x1dV\x00")  # the cut is the last thing sent
    assert not any("PRIORITY" in x for x in t.texts)


def test_ticket_layout_kiswahili_priority():
    printer = Dummy()
    print_ticket(printer, make_ticket(number="A007", priority="expectant", language="sw", position=0),
                 "Huduma Centre Kisumu")
    (ARTIFACTS / "ticket-layout-sw-priority.bin").write_bytes(printer.output)
    t = decode(printer.output)
    assert "NAMBARI YAKO" in t.texts
    assert "Kuchukua cheti cha kuzaliwa" in t.texts
    assert "Wewe ni wa kwanza" in t.texts
    mark = next(i for i, line in enumerate(t.lines) if "KIPAUMBELE" in line.text)
    assert t.lines[mark].invert and t.lines[mark + 1].text == "Mama mjamzito au anayenyonyesha"
    assert t.largest().text == "A007"


def test_number_fits_narrow_paper_and_image_qr():
    """58 mm paper (32 columns): the number shrinks to fit; printers without native QR get an image."""
    printer = Dummy()
    print_ticket(printer, make_ticket(number="BC142"), "Huduma", "en", columns=32, qr_native=False)
    t = decode(printer.output)
    big = t.largest()
    assert big.text == "BC142" and big.width * len("BC142") <= 32 and big.height == 8
    assert t.qr == [] and t.images == 1
    assert t.cuts == 1


def test_long_names_wrap_within_the_paper():
    printer = Dummy()
    long_service = "Registration of persons with disability (NCPWD) and their guardians"
    print_ticket(printer, make_ticket(service_name_en=long_service), "Huduma Centre Nairobi GPO (demo)", "en")
    t = decode(printer.output)
    for line in t.lines:
        assert len(line.text) * line.width <= 42, line
    assert "Huduma Centre Nairobi GPO (demo)" in t.texts  # not cut short
    first = t.texts.index("Registration of persons with disability")
    assert " ".join(t.texts[first:first + 2]) == long_service


def test_reprint_is_marked_copy():
    printer = Dummy()
    print_ticket(printer, make_ticket(), "Huduma", "en", reprint=True)
    assert "*** COPY / NAKALA ***" in decode(printer.output).texts


@pytest.mark.parametrize(
    ("online", "cause", "paper", "expected"),
    [
        (0x12, 0x12, 0x12, PrinterStatus.ok),
        (0x12, 0x12, 0x1E, PrinterStatus.paper_low),
        (0x1A, 0x32, 0x72, PrinterStatus.paper_out),
        (0x1A, 0x16, 0x12, PrinterStatus.cover_open),
        (0x1A, 0x12, 0x12, PrinterStatus.offline),
        (None, None, None, PrinterStatus.offline),
    ],
)
def test_decode_status(online, cause, paper, expected):
    assert decode_status(online, cause, paper) is expected


def test_dummy_printer_keeps_each_job():
    p = TicketPrinter(PrinterSettings(kind="dummy"))
    assert p.print(make_ticket(number="A001"), "Huduma", "en") is PrinterStatus.ok
    assert p.print(make_ticket(number="A002"), "Huduma", "en") is PrinterStatus.ok
    assert [decode(job).largest().text for job in p.jobs] == ["A001", "A002"]


def test_file_printer_appends_and_reports_offline(tmp_path):
    path = tmp_path / "tickets.bin"
    p = TicketPrinter(PrinterSettings(kind="file", path=str(path)))
    assert p.status() is PrinterStatus.ok
    p.print(make_ticket(number="A001"), "Huduma", "en")
    p.print(make_ticket(number="A002"), "Huduma", "sw")
    t = decode(path.read_bytes())
    assert t.cuts == 2 and "A001" in t.texts and "A002" in t.texts
    gone = TicketPrinter(PrinterSettings(kind="file", path=str(tmp_path / "no" / "such" / "lp0")))
    assert gone.status() is PrinterStatus.offline
    assert gone.print(make_ticket(), "Huduma", "en") is PrinterStatus.offline


@pytest.mark.parametrize("state", ["ok", "paper_low", "paper_out", "cover_open", "offline"])
def test_serial_printer_status_over_a_pty(state):
    """A serial printer on a pty answers DLE EOT: the kiosk reads paper and cover state, and
    prints only when the printer can."""
    sim = SerialPrinterSim(state)
    try:
        p = TicketPrinter(PrinterSettings(kind="serial", device=sim.device, timeout_s=0.3))
        assert p.status() is PrinterStatus(state)
        result = p.print(make_ticket(number="K015"), "Huduma", "en")
        assert result is PrinterStatus(state)
        printed = received(sim, expect_cut=state in ("ok", "paper_low"))
        if state in ("ok", "paper_low"):
            assert printed.largest().text == "K015" and printed.cuts == 1
            assert printed.qr == ["http://10.0.0.2:8000/t/t-7Qx2"]
        else:
            assert printed.cuts == 0 and "K015" not in printed.texts
    finally:
        sim.close()


def test_serial_printer_missing_device_is_offline(tmp_path):
    p = TicketPrinter(PrinterSettings(kind="serial", device=str(tmp_path / "ttyUSB9"), timeout_s=0.2))
    assert p.status() is PrinterStatus.offline
    assert p.print(make_ticket(), "Huduma", "en") is PrinterStatus.offline


@pytest.mark.parametrize("state", ["ok", "paper_low", "cover_open", "offline"])
def test_network_printer_status_over_tcp(state):
    sim = NetworkPrinterSim(state)
    try:
        p = TicketPrinter(PrinterSettings(kind="network", host="127.0.0.1", port=sim.port, timeout_s=0.3))
        assert p.status() is PrinterStatus(state)
        assert p.print(make_ticket(number="Q101"), "Huduma", "sw") is PrinterStatus(state)
        printed = received(sim, expect_cut=state in ("ok", "paper_low"))
        assert (printed.cuts == 1 and printed.largest().text == "Q101") is (state in ("ok", "paper_low"))
    finally:
        sim.close()


def test_network_printer_refused_is_offline():
    from tests.conftest import free_port

    p = TicketPrinter(PrinterSettings(kind="network", host="127.0.0.1", port=free_port(), timeout_s=0.5))
    assert p.status() is PrinterStatus.offline


@pytest.mark.parametrize("lang, reason, expect", [
    ("en", "no_counter", "No counter is serving this service right now. Staff will call you when one opens."),
    ("sw", "no_counter", "Hakuna kaunta inayohudumia huduma hii sasa. Wafanyakazi watakuita kaunta ikifunguliwa."),
    ("en", "closed", "The centre has closed for today"),
    ("sw", "closed", "Kituo kimefungwa kwa leo"),
    ("en", "paused", "The counter for this service is on a short break. Staff will call you when it is back."),
    ("sw", "paused", "Kaunta ya huduma hii iko mapumzikoni kwa muda mfupi. Wafanyakazi watakuita ikirudi."),
])
def test_ticket_without_estimate_prints_why_never_a_number(lang, reason, expect):
    """Before the fix a null estimate could not be printed at all (or was 'short wait'); now the reason is."""
    printer = Dummy()
    print_ticket(printer, make_ticket(position=0, estimated_wait_s=None, wait_unknown=reason, language=lang),
                 "Huduma Centre GPO", lang)
    t = decode(printer.output)
    assert " ".join(t.texts[t.texts.index(next(x for x in t.texts if x.startswith(expect[:20]))):]).startswith(expect)
    assert not any("Estimated wait" in x or "Muda wa kusubiri" in x or "min" in x.split() for x in t.texts)
    assert ("No one is ahead of you" if lang == "en" else "Hakuna mtu mbele yako") in t.texts
    assert all(len(x) <= 48 for x in t.texts)  # wrapped to the paper


@pytest.mark.parametrize(("lang", "more", "last_doc"), [("en", "and 1 more (scan the code)", "if you had one"),
                                                        ("sw", "na 1 zaidi (changanua msimbo)", "nayo")])
def test_documents_left_off_are_a_line_of_their_own(lang, more, last_doc):
    """Passport needs five documents; the paper lists four and says the fifth is on the ticket page, on a line
    flush with the tick boxes, not indented like the rest of the fourth document."""
    from centre_server.contract.catalogue import shipped_catalogue

    passport = next(s for s in shipped_catalogue().services if s.id == "passport")
    printer = Dummy()
    print_ticket(printer, make_ticket(language=lang), "Huduma", lang, needs=passport)
    lines = [line.text for line in decode(printer.output).lines]
    at = lines.index(more)
    assert lines[at - 1].endswith(last_doc) and lines[at - 1].startswith(("[ ] ", "    ")), lines
    assert sum(line.startswith("[ ] ") for line in lines) == 4
    assert lines[at + 1].startswith(("Fee", "Ada")), lines


@pytest.mark.parametrize("lang,one,many", [("en", "(counter 21)", "(counters 12, 13, 14)"),
                                          ("sw", "(kaunta 21)", "(kaunta 12, 13, 14)")])
def test_a_visits_counters_are_named_whole_on_the_paper(lang, one, many):
    """The paper said "2. KRA PIN registration (counter 12, 13," and "14)" on the next line."""
    from centre_server.contract import VisitStepOut

    visit = [VisitStepOut(service_id="id-card-new", name_en="New national ID card",
                          name_sw="Kitambulisho kipya cha taifa", state="now", counters=["1", "2", "3"]),
             VisitStepOut(service_id="kra-pin", name_en="KRA PIN registration", name_sw="Usajili wa PIN ya KRA",
                          state="next", counters=["12", "13", "14"]),
             VisitStepOut(service_id="inua-jamii", name_en="Inua Jamii cash transfer",
                          name_sw="Mpango wa Inua Jamii wa pesa taslimu", state="next", counters=["21"])]
    printer = Dummy()
    print_ticket(printer, make_ticket(visit=visit, language=lang), "Huduma Centre GPO", lang)
    t = decode(printer.output)
    assert any(line.endswith(many) for line in t.texts), t.texts
    assert any(line.endswith(one) for line in t.texts), t.texts
    assert not any(line.strip() in ("14)", "13, 14)") for line in t.texts), t.texts
