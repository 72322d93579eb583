"""Headquarters fixtures: a private PostgreSQL schema, a real `huduma-hq serve` process, a TCP proxy we control."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from hq.auth import SESSION_COOKIE
from tests.conftest import BIN, IN_CI, PortTaken, free_port, start_http_process, stop_process

PG_BASE = os.environ.get("HUDUMA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def pg_schema():
    """A schema of our own (random name) in the machine's PostgreSQL; dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_BASE}: {err}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_BASE}")
    schema = f"hq_test_{secrets.token_hex(4)}"
    admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_BASE else "?"
    try:
        yield f"{PG_BASE}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def pg_url():
    with pg_schema() as url:
        yield url


@dataclass
class HqProcess:
    db_url: str
    port: int
    log_path: Path
    cwd: Path
    demo: bool = False
    proc: subprocess.Popen | None = None
    _clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start on ``port``; if another socket took it meanwhile (an ephemeral port), on a fresh one."""
        for attempt in range(3):
            args = [str(BIN / "huduma-hq"), "serve", "--port", str(self.port)]
            args += ["--demo"] if self.demo else ["--db", self.db_url]
            try:
                self.proc = start_http_process(args, self.url, self.log_path, "huduma-hq", timeout, cwd=self.cwd)
                return
            except PortTaken:
                if attempt == 2:
                    raise
                self.port = free_port()

    def stop(self) -> None:
        stop_process(self.proc)
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.cwd / 'demo-hq' / 'hq.db'}" if self.demo else self.db_url

    def account(self, username: str, role: str = "viewer") -> str:
        """A staff account of ``role`` straight in HQ's database (as ``huduma-hq add-staff`` makes); its password."""
        from hq.auth import Accounts, HqRole
        from hq.store import Store

        password = f"pw-{username}-{secrets.token_hex(6)}"
        accounts = Accounts(Store(self.store_url))
        accounts.migrate()
        accounts.add(username, HqRole(role), password, replace=True)
        return password

    def client(self, role: str = "viewer") -> httpx.Client:
        """A client logged in through the login form, as a browser would, with an account of ``role`` (cached)."""
        cached = self._clients.get(role)
        if cached is None:
            cached = self._clients[role] = login_client(self.url, f"test-{role}", self.account(f"test-{role}", role))
        return cached

    def log_in_browser(self, context: Any, role: str = "viewer") -> None:
        """Give a Playwright browser context the session of ``role`` (the login form is tested on its own)."""
        session = self.client(role).cookies.get(SESSION_COOKIE)
        context.add_cookies([{"name": SESSION_COOKIE, "value": session, "url": self.url}])

    def add_centre(self, centre_id: str, name: str) -> str:
        out = subprocess.run([str(BIN / "huduma-hq"), "add-centre", centre_id, "--name", name, "--db", self.db_url],
                             capture_output=True, text=True, timeout=60, cwd=self.cwd)
        assert out.returncode == 0, out.stderr
        line = next(x for x in out.stdout.splitlines() if x.startswith("hq_token"))
        return line.split('"')[1]


def login_client(base_url: str, username: str, password: str) -> httpx.Client:
    """A client with a session, logged in through the login form as a browser would."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/admin/login", data={"username": username, "password": password, "csrf": csrf,
                                          "next": "/admin"})
    assert r.status_code == 303, r.text[:500]
    return client


@pytest.fixture
def hq(pg_url: str, tmp_path: Path):
    server = HqProcess(db_url=pg_url, port=free_port(), log_path=tmp_path / "hq.log", cwd=tmp_path)
    server.start()
    yield server
    server.stop()


class Proxy:
    """A TCP proxy in front of HQ: ``up``, ``down`` (connections refused/reset) or ``cut`` (forward the
    request, let HQ answer, then drop the connection before the answer reaches the centre)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.mode = "up"
        self.cuts = 0  # how many answers to swallow in "cut" mode before behaving as "up"
        self.connections = 0
        self.swallowed = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.mode == "down":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # a reset: the link is down
                continue
            cut = self.mode == "cut" and self.cuts > 0
            if cut:
                self.cuts -= 1
            threading.Thread(target=self._pipe, args=(client, cut), daemon=True).start()

    def _pipe(self, client: socket.socket, cut: bool) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        done = threading.Event()

        def forward(src: socket.socket, dst: socket.socket, swallow: bool) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if swallow:  # HQ has answered: it has the summary; the centre never hears so
                        self.swallowed += 1
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=forward, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=forward, args=(upstream, client, cut), daemon=True).start()
        done.wait(30)
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture(scope="module")
def hq_shared(tmp_path_factory):
    """One HQ (own schema) for a module's read-only tests."""
    with pg_schema() as url:
        tmp = tmp_path_factory.mktemp("hq")
        server = HqProcess(db_url=url, port=free_port(), log_path=tmp / "hq.log", cwd=tmp)
        server.start()
        yield server
        server.stop()


@pytest.fixture
def proxy(hq: HqProcess):
    p = Proxy(hq.port)
    yield p
    p.close()
