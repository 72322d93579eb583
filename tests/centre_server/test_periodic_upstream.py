"""The one shape of every thread that talks to headquarters (``runtime.periodic``), against a real HTTP server
that we take down and bring back: a stop wakes it at once, a poke runs a pass now, failures back off and a
success resets, the log says each change once, and a bug does not end the thread."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from centre_server.runtime import periodic
from centre_server.runtime.periodic import Backoff, HeadquartersLink, TryAgain
from tests.conftest import wait_until


class FakeHeadquarters:
    """A real HTTP server on a free port whose answer we choose: 200, or 503 (``up = False``)."""

    def __init__(self) -> None:
        self.up = True
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.hits += 1
                body = b'{"ok": true}' if outer.up else b'{"error": {"code": "away"}}'
                self.send_response(200 if outer.up else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Ping(HeadquartersLink):
    """The smallest link: GET / and count the answers (a bug on demand)."""

    expected = (httpx.HTTPError,)

    def __init__(self, url: str, every_s: float, backoff: Backoff) -> None:
        super().__init__("ping", "ping to", url, "token", every_s=every_s, backoff=backoff, timeout_s=5,
                         off_words="ping off", rng=random.Random(1))
        self.passes = 0
        self.bug = False

    def run_once(self) -> None:
        self.passes += 1
        if self.bug:
            raise KeyError("a bug")
        r = self.http.get(self.hq_url + "/")
        if r.status_code != 200:
            raise TryAgain(f"HTTP {r.status_code}")


@pytest.fixture
def hq() -> Iterator[FakeHeadquarters]:
    server = FakeHeadquarters()
    yield server
    server.close()


def test_a_stop_wakes_a_sleeping_thread_at_once_and_a_poke_runs_a_pass_now(hq: FakeHeadquarters) -> None:
    link = Ping(hq.url, every_s=3600.0, backoff=Backoff(0.05, 0.1))  # the next tick an hour away
    link.start()
    try:
        wait_until(lambda: link.status().next_try_at is not None, 10, "the first pass")
        status = link.status()
        assert link.passes == 1 and status.running and status.last_error is None and status.last_success_at is not None
        assert status.next_try_at is not None and status.next_try_at > status.last_success_at + 3000
        link.poke()
        wait_until(lambda: link.passes == 2 and hq.hits == 2, 10, "the poked pass")
    finally:
        ended = link.stop()
    assert ended, "stop() waited on a thread that sleeps for an hour: it was not woken"
    assert not link.status().running and link._http is None  # the thread closed its client as it ended


def test_failures_back_off_to_the_ceiling_and_a_success_resets(hq: FakeHeadquarters) -> None:
    link = Ping(hq.url, every_s=0.05, backoff=Backoff(base_s=0.01, cap_s=0.08))
    hq.up = False
    link.start()
    try:
        wait_until(lambda: link.failures >= 6, 20, "six failures in a row")
        status = link.status()
        assert status.last_error == "HTTP 503" and status.failures >= 6
        waits = [link.backoff.delay(n, random.Random(n)) for n in range(1, 10)]
        assert all(w <= 0.08 for w in waits) and waits[0] < waits[-1]  # doubling, then the ceiling
        hq.up = True
        wait_until(lambda: link.failures == 0, 20, "the reset on success")
        assert link.status().last_error is None and link.status().last_success_at is not None
    finally:
        link.stop()


def test_a_link_that_keeps_failing_logs_once_then_still_failing_at_most_once_a_minute(
        hq: FakeHeadquarters, caplog: pytest.LogCaptureFixture) -> None:
    url = hq.url
    hq.close()  # nobody listens: connection refused, try after try
    link = Ping(url, every_s=0.05, backoff=Backoff(base_s=0.005, cap_s=0.01))
    caplog.set_level(logging.DEBUG, logger=periodic.__name__)
    link.start()
    try:
        wait_until(lambda: link.failures >= 30, 20, "thirty failed tries")
    finally:
        link.stop()
    warnings = [r for r in caplog.records if r.name == periodic.__name__ and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # thirty tries in well under a minute
    assert "failing" in warnings[0].getMessage() and "ConnectError" in warnings[0].getMessage()
    assert warnings[0].exc_info is None  # headquarters away is no bug: no traceback
    assert sum("try" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records) >= 29


def test_still_failing_is_said_again_after_the_quiet_minute_and_the_recovery_once(
        hq: FakeHeadquarters, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(periodic, "STILL_FAILING_EVERY_S", 0.0)  # the minute, shortened for the test
    link = Ping(hq.url, every_s=0.05, backoff=Backoff(base_s=0.005, cap_s=0.01))
    hq.up = False
    caplog.set_level(logging.INFO, logger=periodic.__name__)
    link.start()
    try:
        wait_until(lambda: link.failures >= 3, 20, "three failed tries")
        hq.up = True
        wait_until(lambda: link.failures == 0, 20, "the recovery")
    finally:
        link.stop()
    said = [r.getMessage() for r in caplog.records if r.name == periodic.__name__]
    assert any("still failing" in m for m in said)
    assert sum("answered again" in m for m in said) == 1
    assert said[0].startswith("ping to") and "started" in said[0] and "stopped" in said[-1]


def test_a_bug_in_a_pass_is_logged_with_its_traceback_once_and_the_thread_lives_on(
        hq: FakeHeadquarters, caplog: pytest.LogCaptureFixture) -> None:
    link = Ping(hq.url, every_s=0.05, backoff=Backoff(base_s=0.005, cap_s=0.01))
    link.bug = True
    caplog.set_level(logging.INFO, logger=periodic.__name__)
    link.start()
    try:
        wait_until(lambda: link.failures >= 5, 20, "five passes that hit the bug")
        assert link.status().running and link.last_error == "KeyError: 'a bug'"
        link.bug = False
        wait_until(lambda: link.failures == 0 and hq.hits >= 1, 20, "a pass after the fix")
    finally:
        link.stop()
    tracebacks = [r for r in caplog.records if r.name == periodic.__name__ and r.exc_info]
    assert len(tracebacks) == 1


def test_a_link_without_an_address_starts_no_thread_and_stops_cleanly() -> None:
    link = Ping("", every_s=1.0, backoff=Backoff())
    link.start()
    assert link.status().running is False and link.stop() is True


def test_try_again_sets_the_next_try_itself(hq: FakeHeadquarters) -> None:
    """The outbox sender's case: each row keeps its own time, so a failed pass names the wait."""

    class Later(Ping):
        def run_once(self) -> None:
            self.passes += 1
            raise TryAgain("row 1 not delivered", after_s=3600.0)

    link = Later(hq.url, every_s=0.05, backoff=Backoff(base_s=0.005, cap_s=0.01))
    link.start()
    try:
        wait_until(lambda: link.status().next_try_at is not None, 10, "the first pass")
        status = link.status()
        assert status.last_error == "row 1 not delivered" and status.failures == 1
        assert status.next_try_at is not None and status.last_success_at is None
    finally:
        assert link.stop()
    assert link.passes == 1  # the hour's wait was kept (the backoff's milliseconds were not used)
