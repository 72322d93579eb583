"""The ticket printer behind one small interface, whatever the cable.

``TicketPrinter`` opens the python-escpos backend the config names (usb,
serial, network, file, dummy) for each job, asks the printer for its state
where the backend can answer (Epson ``DLE EOT`` real-time status), prints with
``kiosk.layout.print_ticket`` and reports a ``PrinterStatus``. A printer that is
out of paper, open or offline never stops a ticket from being issued: the
caller shows the ticket on screen and publishes the status.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import IO

from escpos.escpos import Escpos
from escpos.printer import Dummy, File

from centre_server.contract import PrinterStatus, TicketOut
from centre_server.contract.catalogue import CatalogueService
from kiosk.config import ConfigError, PrinterSettings
from kiosk.layout import print_ticket

logger = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
# Bits of the real-time status bytes (Epson ESC/POS, DLE EOT n).
STATUS_OFFLINE = 0x08  # n=1: printer offline
CAUSE_COVER_OPEN = 0x04  # n=2: cover open
CAUSE_PAPER_STOP = 0x20  # n=2: printing stopped at paper end
PAPER_NEAR_END = 0x0C  # n=4: roll near its end
PAPER_END = 0x60  # n=4: no paper

# A status that stops printing; paper_low still prints.
BLOCKING = frozenset({PrinterStatus.paper_out, PrinterStatus.cover_open, PrinterStatus.offline,
                      PrinterStatus.error})


class AppendFile(File):
    """``File`` that appends, so a plain file keeps every ticket (a device node does not care)."""

    device: IO[bytes] | None

    def open(self, raise_not_found: bool = True) -> None:  # noqa: D102 - same contract as File.open
        from escpos.exceptions import DeviceNotFoundError

        try:
            self.device = open(self.devfile, "ab")
        except OSError as exc:
            self.device = None
            if raise_not_found:
                raise DeviceNotFoundError(f"Could not open {self.devfile}: {exc.strerror or exc}") from None


def decode_status(online: int | None, cause: int | None, paper: int | None) -> PrinterStatus:
    """Turn the three real-time status bytes into one status; None means no answer."""
    if online is None and cause is None and paper is None:
        return PrinterStatus.offline
    if paper is not None and paper & PAPER_END == PAPER_END:
        return PrinterStatus.paper_out
    if cause is not None and cause & CAUSE_PAPER_STOP:
        return PrinterStatus.paper_out
    if cause is not None and cause & CAUSE_COVER_OPEN:
        return PrinterStatus.cover_open
    if online is not None and online & STATUS_OFFLINE:
        return PrinterStatus.offline
    if paper is not None and paper & PAPER_NEAR_END:
        return PrinterStatus.paper_low
    return PrinterStatus.ok


class TicketPrinter:
    """One printer from the config; thread-safe (one job at a time)."""

    def __init__(self, settings: PrinterSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.dummy = Dummy(profile=settings.profile) if settings.kind == "dummy" else None
        self.jobs: list[bytes] = []  # dummy: the bytes of each ticket, newest last

    @property
    def can_read_status(self) -> bool:
        return self.settings.kind in ("serial", "network", "usb")

    # -- backends ---------------------------------------------------------
    def _open(self) -> Escpos:
        s = self.settings
        kwargs = {"profile": s.profile} if s.profile else {}
        if s.kind == "dummy":
            assert self.dummy is not None
            self.dummy.clear()
            return self.dummy
        if s.kind == "file":
            p: Escpos = AppendFile(devfile=str(s.path), **kwargs)
        elif s.kind == "network":
            from escpos.printer import Network

            p = Network(host=str(s.host), port=s.port, timeout=s.timeout_s, **kwargs)
        elif s.kind == "serial":
            from escpos.printer import Serial

            if not Serial.is_usable():
                raise ConfigError("serial printers need pyserial: pip install pyserial")
            p = Serial(devfile=str(s.device), baudrate=s.baudrate, timeout=s.timeout_s,
                       dsrdtr=s.dsrdtr, **kwargs)
        elif s.kind == "usb":
            from escpos.printer import Usb

            if not Usb.is_usable():
                raise ConfigError("USB printers need pyusb: pip install 'python-escpos[usb]'")
            extra = {}
            if s.in_ep is not None:
                extra["in_ep"] = s.in_ep
            if s.out_ep is not None:
                extra["out_ep"] = s.out_ep
            p = Usb(s.vendor_id, s.product_id, timeout=int(s.timeout_s * 1000), **extra, **kwargs)
        else:  # pragma: no cover - the config refuses other kinds
            raise ConfigError(f"unknown printer kind {s.kind!r}")
        p.open()
        return p

    def _read_byte(self, p: Escpos, n: int) -> int | None:
        """Send DLE EOT n and read one status byte, or None when the printer stays silent."""
        kind = self.settings.kind
        try:
            if kind == "serial":
                dev = p.device
                dev.reset_input_buffer()
                dev.write(DLE_EOT + bytes([n]))
                data = dev.read(1)
            elif kind == "network":
                p.device.sendall(DLE_EOT + bytes([n]))
                data = p.device.recv(16)
            elif kind == "usb":
                p._raw(DLE_EOT + bytes([n]))
                data = bytes(p.device.read(p.in_ep, 16, int(self.settings.timeout_s * 1000)))
            else:
                return None
        except Exception as exc:  # a silent or vanished printer
            logger.info("printer status query %d failed: %s", n, exc)
            return None
        if not data:
            return None
        b = data[-1]
        return b if (b & 0x93) == 0x12 else None  # fixed bits of a real status byte

    def _status_of(self, p: Escpos) -> PrinterStatus:
        if not self.can_read_status:
            return PrinterStatus.ok
        return decode_status(self._read_byte(p, 1), self._read_byte(p, 2), self._read_byte(p, 4))

    def _file_status(self) -> PrinterStatus:
        path = Path(str(self.settings.path))
        if path.exists():
            return PrinterStatus.ok if os.access(path, os.W_OK) else PrinterStatus.offline
        return PrinterStatus.ok if os.access(path.parent, os.W_OK) else PrinterStatus.offline

    @staticmethod
    def _close(p: Escpos) -> None:
        try:
            p.close()
        except Exception as exc:  # closing a dead link must not hide the real result
            logger.debug("closing printer: %s", exc)

    # -- what the kiosk calls ----------------------------------------------
    def status(self) -> PrinterStatus:
        """Ask the printer how it is now (ok where the backend cannot tell)."""
        with self._lock:
            if self.settings.kind is None:  # nothing to print with: never "ok"
                return PrinterStatus.error
            if self.settings.kind == "dummy":
                return PrinterStatus.ok
            if self.settings.kind == "file":
                return self._file_status()
            try:
                p = self._open()
            except Exception as exc:
                logger.warning("printer unreachable: %s", exc)
                return PrinterStatus.offline
            try:
                return self._status_of(p)
            finally:
                self._close(p)

    def print(self, ticket: TicketOut, centre_name: str, language: str | None = None,
              reprint: bool = False, needs: CatalogueService | list[CatalogueService] | None = None,
              payment: list[str] | None = None) -> PrinterStatus:
        """Print one ticket (with the checklist and fee of each service in ``needs``, when known); returns the
        printer's status (anything in BLOCKING means no paper ticket)."""
        s = self.settings
        if s.kind is None:
            logger.warning("not printing %s: no printer configured", ticket.number)
            return PrinterStatus.error
        with self._lock:
            try:
                p = self._open()
            except Exception as exc:
                logger.warning("cannot open printer (%s): %s", s.kind, exc)
                return PrinterStatus.offline
            try:
                before = self._status_of(p)
                if before in BLOCKING:
                    logger.warning("not printing %s: printer %s", ticket.number, before)
                    return before
                print_ticket(p, ticket, centre_name, language, qr_native=s.qr_native,
                             qr_size=s.qr_size, columns=s.columns, reprint=reprint, needs=needs,
                             payment=payment)
                if self.dummy is not None:
                    self.jobs.append(self.dummy.output)
                after = self._status_of(p)
                return after
            except Exception as exc:
                logger.warning("printing %s failed: %s", ticket.number, exc)
                return PrinterStatus.offline if isinstance(exc, OSError) else PrinterStatus.error
            finally:
                if p is not self.dummy:
                    self._close(p)
