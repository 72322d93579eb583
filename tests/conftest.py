"""Shared fixtures: real parts only (a private Mosquitto, real centre processes, Xvfb).

Under CI=true a missing tool fails the test instead of skipping it.
"""

from __future__ import annotations

import atexit
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Kivy's home for this test process and the apps it starts without one of their own, never the user's ~/.kivy:
# each pytest-xdist worker imports kivy while it collects (tests/counter_display/test_legibility.py), and on a
# machine without ~/.kivy the workers' first mkdir of it raced (FileExistsError in all but one).
if "KIVY_HOME" not in os.environ:
    os.environ["KIVY_HOME"] = tempfile.mkdtemp(prefix="huduma-test-kivy-")
    atexit.register(shutil.rmtree, os.environ["KIVY_HOME"], True)

T = TypeVar("T")


def need_tool(name: str) -> str:
    """Path of a system tool; fail under CI, skip elsewhere, when it is missing."""
    path = shutil.which(name)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is not installed (make test installs it)")
    pytest.skip(f"{name} is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def within(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll until the predicate is truthy or ``timeout`` passed; its last value either way.

    For "nothing arrives within 0.3 s" as much as for "it arrives": the caller asserts.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str | Callable[[], str] = "condition",
               interval: float = 0.05) -> T:
    """Poll until the predicate is truthy and return that value; fail naming ``what`` at the deadline.

    ``what`` may be a function, asked only on failure, when the message should show the last state.
    """
    value = within(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
    return value


def artifacts_dir(package: str) -> Path:
    """``tests/artifacts/<package>/``: screenshots, ticket bytes, audio for a person to look at."""
    d = ARTIFACTS / package
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass
class Mosquitto:
    """A private Mosquitto on a free port; ``restart()`` keeps the port."""

    port: int
    workdir: Path
    conf_extra: str = ""
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = need_tool("mosquitto")
        conf = self.workdir / f"mosquitto-{self.port}.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + (self.conf_extra or "allow_anonymous true\n")
            + "persistence false\nset_tcp_nodelay true\n"
        )
        log = open(self.workdir / f"mosquitto-{self.port}.log", "ab")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=log)
        wait_port(self.port)

    def stop(self) -> None:
        stop_process(self.proc, 5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def mosquitto(tmp_path: Path):
    broker = Mosquitto(port=free_port(), workdir=tmp_path)
    broker.start()
    yield broker
    broker.stop()


def provision(directory: Path, *args: str) -> str:
    """Run ``huduma-provision`` for real and return what it printed."""
    out = subprocess.run(
        [str(BIN / "huduma-provision"), *args], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"huduma-provision {' '.join(args)} failed: {out.stderr or out.stdout}")
    return out.stdout


@dataclass
class Centre:
    """A provisioned demo centre directory with its credentials."""

    path: Path
    credentials: dict = field(default_factory=dict)

    def bundle(self, device_id: str) -> dict:
        return json.loads((self.path / "devices" / f"{device_id}.json").read_text())

    def staff_password(self, username: str) -> str:
        return self.credentials["staff"][username]["password"]


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    """One real ``huduma-provision init --demo`` per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "centre"
    provision(path, "init", str(path), "--demo")
    set_upstream(path)
    return path


def set_upstream(path: Path, url: str = "http://127.0.0.1:9", token: str = "none") -> None:
    """Point the centre in ``path`` at a headquarters of the test's choosing.

    Every test centre starts pointed at port 9, where nothing answers: a demo centre left to its
    default sends to ``huduma-hq --demo`` on this machine's port 8100, and a test must never feed
    (or depend on) a headquarters someone else is running.
    """
    toml = path / "centre.toml"
    text = re.sub(r'(?m)^hq_url = .*$', f'hq_url = "{url}"', toml.read_text())
    text = re.sub(r'(?m)^hq_token = .*$', f'hq_token = "{token}"', text)
    toml.write_text(text)


@pytest.fixture
def centre_dir(tmp_path: Path, _demo_template: Path) -> Centre:
    """A demo centre (``huduma-provision init DIR --demo``) in a temporary folder of its own."""
    path = tmp_path / "centre"
    shutil.copytree(_demo_template, path)
    for bundle in (path / "devices").glob("*.json"):  # bundles may name their folder
        bundle.write_text(bundle.read_text().replace(str(_demo_template), str(path)))
    creds = json.loads((path / "demo-credentials.json").read_text())
    return Centre(path=path, credentials=creds)


class PortTaken(RuntimeError):
    """The port ``free_port`` chose was taken by another socket before the server bound it."""


def start_http_process(args: list[str], url: str, log_path: Path, what: str, timeout: float = 60.0,
                       cwd: Path | None = None) -> subprocess.Popen:
    """Start a server process and wait for its ``/healthz``; its output goes to ``log_path``."""
    start = log_path.stat().st_size if log_path.exists() else 0
    log = open(log_path, "ab")
    proc = subprocess.Popen(args, stdout=log, stderr=log, cwd=cwd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log_path.read_bytes()[start:].decode(errors="replace")
            if "address already in use" in text or "is taken: choose another with --port" in text:
                raise PortTaken(f"{what}: {text[-300:]}")
            raise RuntimeError(f"{what} exited: {text[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(proc, 5)  # never leave a server that missed its deadline running beside the next test
    raise TimeoutError(f"{what} did not answer: {log_path.read_text()[-2000:]}")


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> bool:
    """SIGTERM (a clean stop, so a device says offline), then SIGKILL after ``timeout``.

    True when the process stopped by itself (or was not running), False when it had to be killed.
    """
    if proc is None or proc.poll() is not None:
        return True
    proc.terminate()
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


@dataclass
class CentreProcess:
    """A real ``huduma-centre serve`` process."""

    centre: Centre
    port: int
    args: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start on ``port``; if another socket took it meanwhile (an ephemeral port), on a fresh one."""
        for attempt in range(3):
            try:
                self.proc = start_http_process(
                    [str(BIN / "huduma-centre"), "serve", str(self.centre.path), "--host", "127.0.0.1",
                     "--port", str(self.port), *self.args], self.url, self.log_path, "centre server", timeout)
                return
            except PortTaken:
                if attempt == 2:
                    raise
                self.port = free_port()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        stop_process(self.proc)

    def login(self, username: str, password: str | None = None) -> str:
        password = password or self.centre.staff_password(username)
        r = httpx.post(self.url + "/api/v1/auth/login", json={"username": username, "password": password})
        r.raise_for_status()
        return r.json()["token"]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def centre_server(centre_dir: Centre, mosquitto: Mosquitto, tmp_path: Path):
    """A real centre server process against a private Mosquitto."""
    server = CentreProcess(centre=centre_dir, port=free_port(), args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server
    server.stop()


def start_xvfb(width: int = 1280, height: int = 800, timeout: float = 30.0) -> tuple[str, subprocess.Popen]:
    """Start an Xvfb screen on a display number of its own; (":N", the process), once it accepts clients.

    Xvfb chooses the number itself (``-displayfd``): it takes the first free one through its lock file,
    which is atomic between processes, and clears the lock of a server that died. So test sessions side
    by side (pytest-xdist workers) never share a screen, and a display left over by a dead run is passed
    over instead of being mistaken for this one. The number is written once the server is ready.
    """
    exe = need_tool("Xvfb")
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                                 "-nolisten", "tcp"], pass_fds=(write_fd,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.close(write_fd)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while not out.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                break
            chunk = os.read(read_fd, 64)
            if not chunk:  # the server exited before it chose a display
                break
            out += chunk
    finally:
        os.close(read_fd)
    if not out.strip().isdigit():
        stop_process(proc, 5)
        raise RuntimeError(f"Xvfb {width}x{height} did not start within {timeout}s (exit code {proc.returncode})")
    return f":{int(out)}", proc


@pytest.fixture(scope="session")
def xvfb():
    """A virtual screen for Kivy apps; sets DISPLAY for the session."""
    display, proc = start_xvfb(1280, 800)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    yield display
    stop_process(proc)
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, never a downloaded one) for the whole session.

    Playwright's sync API allows one instance per thread at a time, so every package's
    browser tests share this one.
    """
    exe = need_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def day_with_minutes_left(minutes: int, zone: str = "Africa/Nairobi") -> datetime.datetime:
    """Now, once at least ``minutes`` of today are left: in the day's last minutes it waits for the next day.

    For a test whose story must happen within one day of the centre (a close that midnight must not undo):
    at most ``minutes`` of waiting once a day, where a skip would leave that hour untested.
    """
    tz = zoneinfo.ZoneInfo(zone)
    now = datetime.datetime.now(tz)
    midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(), tz)
    if midnight - now < datetime.timedelta(minutes=minutes):
        time.sleep((midnight - now).total_seconds() + 5)
        now = datetime.datetime.now(tz)
    return now


def closing_ahead(minutes: int, zone: str = "Africa/Nairobi") -> tuple[datetime.datetime, str]:
    """(now, a closing time "HH:MM" ``minutes`` ahead today, or "23:59" when that would pass midnight).

    A centre's closing time is a time of day: a test that needs one still ahead cannot have it in the last
    minutes before midnight, so there it waits for the new day (at most 5 minutes) rather than skip.
    """
    now = day_with_minutes_left(5, zone)
    closing = min(now + datetime.timedelta(minutes=minutes), now.replace(hour=23, minute=59, second=0))
    return now, closing.strftime("%H:%M")
