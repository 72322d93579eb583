"""The outbox sender's count of failures means tries of a summary, across restarts, and its next try is the
summary's own backoff (found on /healthz: after a restart the count started again and "next try" said five
seconds while the summary was not due for ten minutes).

A real closed day in a real SQLite outbox; headquarters away is a port where nothing listens. The sender's
passes are run one by one (``_pass``, what its thread runs), so what each pass did is exact.
"""

from __future__ import annotations

import random
import sqlite3
import time

from centre_server.config import load_settings
from centre_server.dayclose import closing, upstream
from tests.conftest import free_port, set_upstream

SLOW = upstream.Backoff(base_s=600.0, cap_s=7200.0)  # a retry ten minutes after the first failure, then doubling


def row(db_path) -> tuple[int, float, str | None]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT attempts, next_attempt_at, last_error FROM outbox WHERE sent_at IS NULL").fetchone()
    finally:
        conn.close()


def test_the_failure_count_is_tries_of_the_summary_and_survives_a_restart(centre_dir) -> None:
    set_upstream(centre_dir.path)
    settings = load_settings(centre_dir.path)
    closing.close_offline(settings)  # the day's summary waits in the outbox
    away = f"http://127.0.0.1:{free_port()}"  # nothing listens: headquarters away

    first = upstream.Sender(settings.db_path, away, "token", backoff=SLOW, poll_s=5, rng=random.Random(1))
    try:
        first._pass()  # the summary is due: headquarters is asked, and does not answer
        attempts, next_at, error = row(settings.db_path)
        assert attempts == 1 and error and next_at - time.time() > 250  # backoff: the next try is minutes away
        for _ in range(5):  # the thread's passes while it waits: nobody is asked
            first._pass()
        st = first.status()
        assert (st.state, st.failures, st.next_try_at) == ("failing", 1, next_at)
        assert row(settings.db_path)[0] == 1
    finally:
        first.close()

    # the server restarts during the outage: the same summary, the same count, the same next try
    second = upstream.Sender(settings.db_path, away, "token", backoff=SLOW, poll_s=5, rng=random.Random(2))
    try:
        for _ in range(5):
            second._pass()
        st = second.status()
        assert (st.state, st.failures, st.next_try_at) == ("failing", 1, next_at)
        assert st.last_error is not None and st.last_error.startswith("could not deliver ")
        assert row(settings.db_path)[0] == 1  # the restart asked headquarters nothing

        # its time comes (the row's backoff, kept on disk): asked once more, and the wait doubles
        conn = sqlite3.connect(settings.db_path)
        with conn:
            conn.execute("UPDATE outbox SET next_attempt_at=? WHERE sent_at IS NULL", [time.time() - 1])
        conn.close()
        second._pass()
        attempts, later, _ = row(settings.db_path)
        st = second.status()
        assert (attempts, st.failures, st.next_try_at) == (2, 2, later)
        assert later - time.time() > 550  # 600 s × 2 with half of it jitter: never sooner than ten minutes
    finally:
        second.close()
