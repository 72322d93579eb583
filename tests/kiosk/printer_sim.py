"""A thermal printer on a pty: answers ESC/POS real-time status (DLE EOT n) and keeps what it prints.

The kiosk opens the pty's slave as its ``serial`` printer, exactly as it would
open /dev/ttyUSB0; the test turns paper out, cover open or power off here.
"""

from __future__ import annotations

import os
import pty
import select
import threading
import tty


class SerialPrinterSim:
    def __init__(self, status: str = "ok") -> None:
        self.status = status  # ok | paper_low | paper_out | cover_open | offline (silent)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.device = os.ttyname(self.slave)
        self.received = bytearray()  # everything printed (status queries removed)
        self.queries = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _answer(self, n: int) -> bytes:
        s = self.status
        if s == "offline":
            return b""
        if n == 1:
            return bytes([0x12 | (0x08 if s in ("paper_out", "cover_open") else 0)])
        if n == 2:
            return bytes([0x12 | (0x04 if s == "cover_open" else 0) | (0x20 if s == "paper_out" else 0)])
        if n == 4:
            return bytes([0x12 | (0x60 if s == "paper_out" else 0) | (0x0C if s == "paper_low" else 0)])
        return b""

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.1)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                continue
            pending = self._consume(pending + chunk, lambda b: os.write(self.master, b))

    def _consume(self, data: bytes, reply) -> bytes:
        """Answer status queries in ``data``, keep the rest as printed; returns an unfinished tail."""
        out = bytearray()
        i = 0
        while i < len(data):
            if data[i] == 0x10 and i + 1 < len(data) and data[i + 1] == 0x04:
                if i + 2 >= len(data):
                    break
                self.queries += 1
                answer = self._answer(data[i + 2])
                if answer:
                    reply(answer)
                i += 3
                continue
            if data[i] == 0x10 and i + 1 == len(data):
                break
            out.append(data[i])
            i += 1
        with self._lock:
            if self.status != "offline":
                self.received += out
        return data[i:]

    @property
    def printed(self) -> bytes:
        with self._lock:
            return bytes(self.received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class NetworkPrinterSim(SerialPrinterSim):
    """The same printer on raw TCP (port 9100 style): one connection at a time, like the real thing."""

    def __init__(self, status: str = "ok") -> None:  # noqa: D107 - no pty here
        import socket

        self.status = status
        self.received = bytearray()
        self.queries = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:

        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(0.1)
            pending = b""
            with conn:
                while not self._stop.is_set():
                    try:
                        chunk = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not chunk:
                        break
                    pending = self._consume(pending + chunk, conn.sendall)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.server.close()
