"""Fixtures for the attacks of issue 16: a real demo centre served by ``huduma-centre serve`` with its
embedded broker, after the test has set what it needs in centre.toml."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Centre, CentreProcess, free_port


def set_toml(path: Path, section: str, key: str, value: str) -> None:
    """Set ``key = value`` (a TOML literal) in ``[section]`` of centre.toml ("" for the top level)."""
    lines = path.read_text().splitlines()
    current, header_at = "", -1 if section else 0
    for i, line in enumerate(lines):
        head = re.match(r"^\[([^\]]+)\]\s*$", line)
        if head:
            current = head.group(1)
            if current == section:
                header_at = i
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            lines[i] = f"{key} = {value}"
            path.write_text("\n".join(lines) + "\n")
            return
    if header_at < 0:
        lines += ["", f"[{section}]"]
        header_at = len(lines) - 1
    lines.insert(header_at + 1 if section else 0, f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def serve(centre_dir: Centre, tmp_path: Path) -> Iterator[Callable[..., CentreProcess]]:
    """Start the demo centre (embedded broker on a free port); ``serve(**{"http.header_timeout_s": "1"})``
    sets centre.toml keys first."""
    started: list[CentreProcess] = []

    def start(**settings: str) -> CentreProcess:
        for dotted, value in settings.items():
            section, _, key = dotted.rpartition(".")
            set_toml(centre_dir.path / "centre.toml", section, key, value)
        mqtt_port = free_port()
        server = CentreProcess(centre=centre_dir, port=free_port(),
                               args=["--mqtt-port", str(mqtt_port)], log_path=tmp_path / "centre.log")
        server.start()
        server.mqtt_port = mqtt_port  # type: ignore[attr-defined]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def raw_request(port: int, head: bytes, timeout: float = 10.0) -> socket.socket:
    """A socket that has sent ``head`` (request line and headers) and nothing more."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(head)
    return s


def read_response(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket's timeout)."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        out += chunk
    return out
