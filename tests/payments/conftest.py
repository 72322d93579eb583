"""A real ``huduma-mpesa-sim`` process and a real centre server process pointed at it."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from centre_server.contract.catalogue import FeePaid, shipped_catalogue
from centre_server.store import catalogue as catalogue_store
from centre_server.store.database import connect
from tests.conftest import BIN, CentreProcess, free_port, stop_process, wait_port

# Fees a headquarters publishes as paid at the centre, each one amount: what M-Pesa may be asked for. The
# shipped catalogue has none such (its fixed fees are paid on eCitizen when applying), so these tests run the
# centre on a published version 1 that says so, as a catalogue sync would have stored it.
CENTRE_PAID = {"passport": 4550, "birth-cert": 200, "good-conduct": 1050, "marriage": 3300}


def give_centre_paid_fees(centre_path: Path) -> None:
    """Store catalogue version 1 in the centre's database, ``CENTRE_PAID``'s fees paid at the centre."""
    shipped = shipped_catalogue()
    services = [s.model_copy(update={"fee": s.fee.model_copy(update={
        "amount_ksh": CENTRE_PAID[s.id], "varies": False, "paid": FeePaid.centre})}) if s.id in CENTRE_PAID else s
        for s in shipped.services]
    db = connect(centre_path / "centre.db")
    try:
        catalogue_store.save_version(db, shipped.model_copy(update={"version": 1, "services": services}), time.time())
    finally:
        db.conn.close()


@dataclass
class Sim:
    url: str
    proc: subprocess.Popen

    def control(self, **values) -> dict:
        r = httpx.post(self.url + "/sim/control", json=values, timeout=5)
        r.raise_for_status()
        return r.json()

    def requests(self) -> list[dict]:
        return httpx.get(self.url + "/sim/requests", timeout=5).json()

    def push_for(self, account: str) -> dict:
        return next(p for p in reversed(self.requests()) if p["request"]["AccountReference"] == account)


def start_sim(port: int, log_path: Path) -> subprocess.Popen:
    """``huduma-mpesa-sim`` on ``port``; the citizen answers after 0.3 s, 'unreachable' after 1 s."""
    log = open(log_path, "ab")
    proc = subprocess.Popen([str(BIN / "huduma-mpesa-sim"), "--port", str(port), "--delay", "0.3", "--timeout", "1",
                             "--consumer-key", "demo", "--consumer-secret", "demo", "--passkey", "demo-passkey"],
                            stdout=log, stderr=log)
    wait_port(port, timeout=20)
    return proc


@pytest.fixture
def mpesa_sim(tmp_path: Path) -> Iterator[Sim]:
    """``huduma-mpesa-sim`` in its own process (a test may stop it and start it again: ``sim.proc``)."""
    port = free_port()
    sim = Sim(f"http://127.0.0.1:{port}", start_sim(port, tmp_path / "mpesa-sim.log"))
    try:
        yield sim
    finally:
        stop_process(sim.proc)


@pytest.fixture
def pay_server(centre_dir, mosquitto, mpesa_sim: Sim, tmp_path: Path, monkeypatch,
               request: pytest.FixtureRequest) -> Iterator[CentreProcess]:
    """A demo centre server whose [payments] point at the simulator, settling late pushes after 5 s; it runs
    ``CENTRE_PAID``'s fees as paid at the centre, unless the test asks for ``shipped_fees``."""
    if "shipped_fees" not in request.fixturenames:
        give_centre_paid_fees(centre_dir.path)
    port = free_port()
    monkeypatch.setenv("HUDUMA_PAYMENTS__BASE_URL", mpesa_sim.url)
    monkeypatch.setenv("HUDUMA_PAYMENTS__CALLBACK_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HUDUMA_PAYMENTS__QUERY_AFTER_S", "5")
    monkeypatch.setenv("HUDUMA_PAYMENTS__POLL_EVERY_S", "0.5")
    monkeypatch.setenv("HUDUMA_PAYMENTS__REACH_CHECK_S", "1")  # M-Pesa's reach asked again within seconds
    server = CentreProcess(centre=centre_dir, port=port, args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    yield server
    server.stop()


def serve_at_counter(staff: httpx.Client, ticket_id: str, service: str = "passport", counter: str = "c01") -> None:
    """A clerk opens ``counter`` for ``service``, calls this very ticket and completes it (served)."""
    assert staff.post(f"/api/v1/counters/{counter}/open", json={"services": [service]}).status_code == 200
    assert staff.post(f"/api/v1/counters/{counter}/call/{ticket_id}").status_code == 200
    assert staff.post(f"/api/v1/counters/{counter}/complete").status_code == 200


def db_rows(server: CentreProcess, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(server.centre.path / "centre.db", timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def shipped_fees() -> None:
    """``pay_server`` runs the shipped catalogue (version 0) as it is: passport and the like paid on eCitizen."""


@pytest.fixture
def payments_off_env(monkeypatch) -> None:
    """The centre's [payments] switched off (set before ``pay_server`` starts it)."""
    monkeypatch.setenv("HUDUMA_PAYMENTS__ENABLED", "false")
