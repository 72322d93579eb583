"""A Daraja that accepts the connection and never answers: the kiosks' "can a prompt leave?" is still answered
at once (the check runs in the background), says no, and a prompt started meanwhile fails with its reason.

The silent gateway is a real listening socket that accepts every connection and never writes a byte (a
firewall's black hole, a proxy whose upstream hangs); the centre is a real server process pointed at it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import CentreProcess, free_port, wait_until
from tests.payments.conftest import give_centre_paid_fees
from tests.payments.test_payments import issue

pytestmark = pytest.mark.timeout(180)

# A kiosk's own wait for the answer (kiosk/api.py): the centre must answer well inside it, whatever Daraja does.
KIOSK_WAIT_S = 8.0


class SilentGateway:
    """Accepts connections, reads what comes, never answers; keeps them open until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self._held:
            c.close()


@pytest.fixture
def silent_server(centre_dir, mosquitto, tmp_path: Path, monkeypatch) -> Iterator[tuple[CentreProcess, SilentGateway]]:
    gateway = SilentGateway()
    port = free_port()
    monkeypatch.setenv("HUDUMA_PAYMENTS__BASE_URL", gateway.url)
    monkeypatch.setenv("HUDUMA_PAYMENTS__CALLBACK_BASE_URL", f"http://127.0.0.1:{port}")
    # timeout_s stays the default 15 s: a kiosk's 8 s wait must not depend on it
    # asked again every second while out of reach, and stale after 4 s: the settler's checks keep hanging on the
    # silent gateway while kiosks ask
    monkeypatch.setenv("HUDUMA_PAYMENTS__REACH_CHECK_S", "1")
    give_centre_paid_fees(centre_dir.path)  # the passport's fee paid at the centre: a prompt to try
    server = CentreProcess(centre=centre_dir, port=port, args=["--mqtt", mosquitto.url],
                           log_path=tmp_path / "centre.log")
    server.start()
    try:
        yield server, gateway
    finally:
        server.stop()
        gateway.close()


def ask(server: CentreProcess) -> dict:
    r = httpx.get(f"{server.url}/api/v1/payments/availability", timeout=KIOSK_WAIT_S)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_gateway_that_never_answers_does_not_hold_the_kiosks(silent_server):
    server, gateway = silent_server
    # three kiosks starting together, while the centre's first check hangs on the silent gateway: each is
    # answered inside its own wait (a ReadTimeout here would be a kiosk stuck), and none is offered M-Pesa
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _i: ask(server), range(3)))
    for a in answers:
        assert (a["mpesa"], a["reason_code"]) == (False, "unreachable_gateway"), a
        assert (a["reason_en"], a["reason_sw"]) == ("M-Pesa could not be reached", "M-Pesa haikupatikana")
    assert gateway.accepted >= 1  # the centre did try: the socket took its connection

    # the check gives up after reach_timeout_s and says when it tried
    after = wait_until(lambda: (a := ask(server))["checked_at"] and a, timeout=30, what="the check's end")
    assert after["mpesa"] is False and after["reason_code"] == "unreachable_gateway"
    # a kiosk asking now and then while every check hangs (a stale answer starts one more): answered each time
    for _ in range(12):
        a = ask(server)
        assert (a["mpesa"], a["reason_code"]) == (False, "unreachable_gateway"), a
        time.sleep(1)

    # a citizen who tries anyway (the citizen's page) gets a failed prompt with its reason, never a 500
    t = issue(server)
    r = httpx.post(f"{server.url}/api/v1/tickets/{t['id']}/payment", json={"phone": "0712345678"}, timeout=60)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["reason_code"]) == ("failed", "unreachable_gateway")
    assert "Traceback" not in server.log_path.read_text()
