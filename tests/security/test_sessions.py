"""Logins and live streams (issue 16, attacks 11 and 12), against a real server process."""

from __future__ import annotations

import queue
import threading

import httpx

from tests.conftest import provision


def attempts(server, username: str, n: int) -> list[tuple[int, str, str]]:
    out = []
    for _ in range(n):
        r = httpx.post(server.url + "/api/v1/auth/login", json={"username": username, "password": "not-it"})
        err = r.json()["error"]
        out.append((r.status_code, err["code"], err["message"]))
    return out


def test_login_answers_alike_for_unknown_and_locked_users(serve):
    """Five failures locked a real account (429) while an unknown name got 401 for ever: anyone could
    list the staff. Now an unknown name is answered exactly as a real one, lock-out included."""
    server = serve()
    real = attempts(server, "clerk", 7)
    ghost = attempts(server, "no-such-clerk", 7)
    assert real == ghost, (real, ghost)
    assert real[0][:2] == (401, "bad_credentials") and real[-1][:2] == (429, "locked_out")
    # a disabled account says so only to someone who knows its password
    provision(server.centre.path, "disable-staff", str(server.centre.path), "manager")
    assert attempts(server, "manager", 1) == attempts(server, "no-such-manager", 1)
    r = httpx.post(server.url + "/api/v1/auth/login",
                   json={"username": "manager", "password": server.centre.staff_password("manager")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "disabled"


def open_stream(server, token: str) -> tuple[queue.Queue, threading.Thread]:
    """Read /live with a bearer token in a thread; each SSE event name lands in the queue, then None at its end."""
    events: queue.Queue = queue.Queue()
    ready = threading.Event()

    def read() -> None:
        try:
            with httpx.stream("GET", server.url + "/api/v1/live", headers={"Authorization": f"Bearer {token}"},
                              timeout=httpx.Timeout(60, connect=5)) as r:
                events.put(f"status {r.status_code}")
                ready.set()
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        events.put(line[7:])
        except httpx.HTTPError as err:
            events.put(f"error {type(err).__name__}")
        finally:
            ready.set()
            events.put(None)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    assert ready.wait(10)
    return events, t


def until_end(events: queue.Queue, timeout: float = 20.0) -> list[str]:
    """Every event name until the stream ends; fails if it has not ended within ``timeout``."""
    seen = []
    while True:
        item = events.get(timeout=timeout)
        if item is None:
            return seen
        seen.append(item)


def test_a_bearer_stream_ends_at_logout_and_at_disable(serve):
    """A live stream opened with a bearer token outlived its session: now logout and disable-staff end it."""
    server = serve()
    token = server.login("clerk")
    events, _ = open_stream(server, token)
    assert events.get(timeout=10) == "status 200" and events.get(timeout=10) == "hello"
    r = httpx.post(server.url + "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    assert until_end(events)[-1] == "expired"

    token = server.login("manager")
    events, _ = open_stream(server, token)
    assert events.get(timeout=10) == "status 200" and events.get(timeout=10) == "hello"
    provision(server.centre.path, "disable-staff", str(server.centre.path), "manager")
    assert until_end(events)[-1] == "expired"
    # the token itself is refused too
    assert httpx.get(server.url + "/api/v1/live", headers={"Authorization": f"Bearer {token}"}).status_code == 401
