"""A method a path does not take is a 405 whose ``Allow`` names exactly the methods it does take.

Every route path of the centre's app and of headquarters' app (walked from
``app.routes``, into the routers FastAPI keeps nested) is asked with each
method; the methods that are not answered 405 must be the ones the 405s name,
and every method a route declares must be among them. Starlette alone named
only the first route it met (``/join`` told a PUT "Allow: GET" though it takes
POST too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from centre_server.contract.errors import HTTP_METHODS
from centre_server.http.app import create_app
from tests.hq.conftest import pg_schema


def route_paths(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path template, declared methods) of every route, into included routers; mounts answer for themselves."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI keeps an included router as one route of the app
            yield from route_paths(route.original_router.routes, prefix + route.include_context.prefix)
        elif not isinstance(route, Mount) and getattr(route, "methods", None):
            yield prefix + route.path, set(route.methods)


def concrete(template: str) -> str:
    """A path the template matches: ``{ticket_id}`` becomes ``x1``, ``{n:int}`` becomes ``1``."""
    path = re.sub(r"\{[^}]+:path\}", "x1/y", template)
    return re.sub(r"\{[^}:]+(:int)?\}", lambda m: "1" if m.group(1) else "x1", path)


def allow_of(value: str) -> set[str]:
    return {m.strip() for m in value.split(",") if m.strip()}


def check_every_path(app: FastAPI, client: TestClient) -> int:
    """Ask every route path with every method; returns how many paths answered some method 405."""
    paths: dict[str, set[str]] = {}
    for template, methods in route_paths(app.routes):
        paths.setdefault(concrete(template), set()).update(methods)
    assert len(paths) > 20, "the walk found too few routes: has FastAPI changed how it keeps them?"
    with_405 = 0
    for path, declared in sorted(paths.items()):
        answers = {m: client.request(m, path) for m in HTTP_METHODS}
        refused = {m: r for m, r in answers.items() if r.status_code == 405}
        taken = set(HTTP_METHODS) - set(refused)
        assert declared & set(HTTP_METHODS) <= taken, (path, declared, taken)
        for method, r in refused.items():
            assert allow_of(r.headers["allow"]) == taken, (path, method, r.headers["allow"], taken)
            if method != "HEAD":  # a HEAD answer has no body
                error = r.json()["error"]
                assert error["code"] == "method_not_allowed" and method in error["message"], (path, error)
        with_405 += bool(refused)
    return with_405


def test_centre_405_names_every_method_of_the_path(centre_dir):
    app = create_app(centre_dir.path)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert check_every_path(app, client) > 20
        # the paths whose GET and POST are separate routes (the catch-alls that patched two of them are gone)
        for path in ("/api/v1/staff", "/api/v1/tickets/x1/payment", "/join", "/book"):
            r = client.put(path)
            assert r.status_code == 405 and allow_of(r.headers["allow"]) == {"GET", "POST"}, (path, r.headers)
        # a mount's own 405 (static files) keeps its own Allow
        r = client.post("/static/web.css")
        assert r.status_code == 405 and allow_of(r.headers["allow"]) == {"GET", "HEAD"}


def test_headquarters_405_names_every_method_of_the_path():
    from hq.app import create_app as create_hq
    from hq.store import Store

    with pg_schema() as url:
        app = create_hq(Store(url))
        with TestClient(app, raise_server_exceptions=False) as client:
            assert check_every_path(app, client) > 20
            r = client.put("/admin/login")
            assert r.status_code == 405 and allow_of(r.headers["allow"]) == {"GET", "POST"}


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND"])
def test_an_unknown_method_is_a_405_too(centre_dir, method):
    with TestClient(create_app(centre_dir.path), raise_server_exceptions=False) as client:
        r = client.request(method, "/api/v1/staff")
        assert r.status_code == 405 and allow_of(r.headers["allow"]) == {"GET", "POST"}
        assert r.json()["error"]["code"] == "method_not_allowed"
