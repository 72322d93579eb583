"""Fixtures for the web pages: Debian's Chromium driven by Playwright, and small API helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import Centre, CentreProcess, Mosquitto, artifacts_dir, free_port, provision, set_upstream

try:
    from playwright.sync_api import expect

    # pages poll every 5 s at most (the citizen page) or are pushed at once (staff pages)
    expect.set_options(timeout=12_000)
except ImportError:  # the browser tests fail on the fixture below with a clear message
    pass

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve_demo(base: Path, *init_args: str) -> Iterator[CentreProcess]:
    """``huduma-provision init --demo`` (plus ``init_args``) in ``base``, served for real on a private Mosquitto,
    pointed at no headquarters (never a neighbour's demo HQ on :8100)."""
    import json

    path = base / "centre"
    provision(path, "init", str(path), "--demo", *init_args)
    set_upstream(path)
    centre = Centre(path=path, credentials=json.loads((path / "demo-credentials.json").read_text()))
    broker = Mosquitto(port=free_port(), workdir=base)
    broker.start()
    server = CentreProcess(centre=centre, port=free_port(), args=["--mqtt", broker.url], log_path=base / "centre.log")
    try:
        server.start()
        server.mosquitto = broker  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()
        broker.stop()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory) -> Iterator[CentreProcess]:
    """A real ``huduma-centre serve`` process on a private Mosquitto, shared by one test module.

    The same parts as the shared ``centre_server`` fixture, started once per module because
    provisioning and start-up dominate these tests' time; each test uses its own counters and
    services so they do not meet.
    """
    with serve_demo(tmp_path_factory.mktemp("web")) as server:
        yield server


@pytest.fixture
def shots() -> Callable[..., Path]:
    """``shots(page, name)`` saves tests/artifacts/web/<name>.png."""
    out = artifacts_dir("web")

    def save(page, name: str, full_page: bool = False) -> Path:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


@pytest.fixture
def context_factory(browser) -> Iterator[Callable[..., object]]:
    """New browser contexts (separate cookie jars), closed at the end of the test."""
    made = []

    def make(**kw):
        kw.setdefault("viewport", {"width": 1440, "height": 900})
        kw.setdefault("locale", "en-GB")
        ctx = browser.new_context(**kw)
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def issue(server, token: str, service_id: str, **body) -> dict:
    """Issue a ticket through the real API, as the kiosk would."""
    r = httpx.post(server.url + "/api/v1/tickets", json={"service_id": service_id, **body},
                   headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def login_page(page, server, username: str, password: str) -> None:
    """Log in through the login form, as a person would."""
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-button")
