"""Bodies, slow clients and proxies (issue 16, attacks 3, 4 and 14), against a real server process."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx

from tests.security.conftest import raw_request, read_response

MB = 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def status_and_json(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.strip() else {}


def flood(s: socket.socket, total: int, chunked: bool) -> list[int]:
    """Send ``total`` bytes of a JSON body in 1 MiB pieces from a thread, until the server hangs up."""
    sent = [0]

    def run() -> None:
        piece = b'"' + b"A" * (MB - 2) + b'"'
        try:
            while sent[0] < total:
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent[0] += len(piece)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed: the rest is never sent
            pass

    threading.Thread(target=run, daemon=True).start()
    return sent


def test_a_200mb_body_without_a_token_is_refused_before_it_is_read(serve):
    """The attack: 200 MB of JSON to /api/v1/tickets, no token. A 413 at once, whether the size is
    declared or the body comes chunked; the server's memory does not grow by the body."""
    server = serve()
    before = rss_mb(server.proc.pid)
    for chunked in (False, True):
        length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % (200 * MB)
        s = raw_request(server.port, b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\n" + length + b"\r\n\r\n")
        sent = flood(s, 200 * MB, chunked)
        status, body = status_and_json(read_response(s))
        s.close()
        assert status == 413, (chunked, status, body)
        assert body["error"]["code"] == "too_large" and "262144" in body["error"]["message"]
        assert sent[0] < 200 * MB, "the server read the whole body before answering"
    assert rss_mb(server.proc.pid) - before < 40, "the server kept a large body in memory"
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_every_route_has_the_body_limit(serve):
    """Not only the ticket lane: login, a clerk's command and the phone join page refuse big bodies too."""
    server = serve(**{"http.max_body_bytes": "4096"})
    for path, ctype, reads_body in (("/api/v1/auth/login", "application/json", True),
                                    ("/api/v1/counters/c01/call-next", "application/json", False),
                                    ("/api/v1/tickets", "application/json", True),
                                    ("/join", "application/x-www-form-urlencoded", True)):
        r = httpx.post(server.url + path, content=b"x" * 5000, headers={"content-type": ctype})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large", (path, r.status_code, r.text)
        if not reads_body:  # a route that takes no body never reads one: it answers as it would (401)
            continue
        chunks = iter([b"y" * 3000, b"y" * 3000])  # no Content-Length: counted as it comes
        r = httpx.post(server.url + path, content=chunks, headers={"content-type": ctype})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large", (path, r.status_code, r.text)
    # a body under the limit is served as before
    r = httpx.post(server.url + "/api/v1/auth/login", json={"username": "clerk", "password": "wrong"})
    assert r.status_code == 401


def test_idle_and_slow_connections_are_closed(serve):
    """A connection that sends nothing, or its headers a byte at a time, is closed after the header timeout."""
    server = serve(**{"http.header_timeout_s": "1"})
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    assert read_response(idle) == b"", "an idle connection was not closed"

    slow = raw_request(server.port, b"GET /healthz HTTP/1.1\r\n", timeout=15)
    closed = threading.Event()

    def trickle() -> None:
        try:
            for i in range(60):  # 30 s of headers, one line each half second
                slow.sendall(b"X-Slow-%d: 1\r\n" % i)
                time.sleep(0.5)
        except OSError:
            closed.set()

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    assert read_response(slow) == b"", "slow headers were answered instead of cut off"
    t.join(15)
    assert closed.is_set(), "the slow client could keep sending"
    # a normal client is served; kept-alive requests on one connection still work
    with httpx.Client(base_url=server.url) as c:
        assert [c.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]


def test_a_stalled_body_is_refused(serve):
    server = serve(**{"http.body_timeout_s": "1"})
    s = raw_request(server.port, b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{\"username\":", timeout=15)
    status, body = status_and_json(read_response(s))
    assert status == 408 and body["error"]["code"] == "body_timeout"


def test_connections_beyond_the_limit_get_a_503(serve):
    server = serve(**{"http.limit_concurrency": "10", "http.header_timeout_s": "60"})
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(10)]
    try:
        time.sleep(0.2)  # let the server accept them all
        r = httpx.get(server.url + "/healthz")
        assert r.status_code == 503
    finally:
        for s in idle:
            s.close()
    assert httpx.get(server.url + "/healthz").status_code == 200


def look_ups(server, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=server.url) as c:
        return [c.get("/api/v1/tickets/no-such-ticket", headers={"X-Forwarded-For": ip}).status_code
                for ip in forwarded_for]


def test_x_forwarded_for_is_not_believed_by_default(serve):
    """A script on the server itself (127.0.0.1) sending a new X-Forwarded-For each time is still one client."""
    server = serve(**{"security.citizen_per_minute": "5"})
    codes = look_ups(server, [f"10.9.{i}.{i}" for i in range(10)])
    assert codes[:5] == [404] * 5 and 429 in codes[5:], codes


def test_a_named_proxy_is_believed(serve):
    """Behind nginx on the same machine: trusted_proxies = ["127.0.0.1"] makes each forwarded client its own."""
    server = serve(**{"security.citizen_per_minute": "5", "security.trusted_proxies": '["127.0.0.1"]'})
    assert look_ups(server, [f"10.9.{i}.{i}" for i in range(10)]) == [404] * 10
    codes = look_ups(server, ["10.1.1.1"] * 8)
    assert 429 in codes, codes
