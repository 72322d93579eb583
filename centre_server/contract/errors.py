"""The one error of every refusal: a status, a machine-readable code, a message, and extra fields.

Every HTTP answer that refuses something is ``{"error": {"code", "message", ...}}``
(``ErrorResponse``); every part of the server that refuses a request raises a
``Refusal`` (or a subclass named in its own words), and one handler renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Refusal(Exception):
    """A request refused for a reason the caller can act on; ``status`` is the HTTP status.

    ``headers`` go out with the answer (``Retry-After`` on a 429, ``Connection: close``
    when the body is left unread).
    """

    headers: Mapping[str, str] | None = None  # as an HTTPException has them: a subclass may be both

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        # Exception's own __init__, not super(): a subclass may also be an HTTPException, whose __init__ differs
        Exception.__init__(self, message)
        self.status = status
        self.code = code
        self.extra: dict[str, Any] = extra  # e.g. opens_at, book_day: when to come back
        if headers is not None:
            self.headers = headers

    @property
    def message(self) -> str:
        """The words for the caller (a subclass in two languages overrides this with ``message(lang)``)."""
        return str(self.args[0]) if self.args else ""

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer: ``{"error": {"code", "message", ...extra}}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error.update({k: v for k, v in self.extra.items() if v is not None})
        return {"error": error}


# The methods an ``Allow`` header may name, in the order it names them.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def method_not_allowed(routes: Sequence[Any], scope: Mapping[str, Any], fallback_allow: str | None = None) -> Refusal:
    """The one 405 of every web app here: ``Allow`` names every method some route of the path takes.

    Starlette answers 405 from the first route whose path matched and names only that
    route's methods, so a path with a GET route and a POST route told a PUT "Allow: GET".
    Here each method is tried against every route of the app (included routers too); a
    mount's app answers its own 405 (``fallback_allow``, as static files say "GET, HEAD").
    Starlette is imported here, not at the top: the devices import the contract without it.
    """
    from starlette.routing import Match, Mount

    def takes(method: str) -> bool:
        probe = {"type": "http", "path": scope.get("path", "/"), "root_path": scope.get("root_path", ""),
                 "method": method, "headers": [], "query_string": b""}
        return any(not isinstance(route, Mount) and route.matches(probe)[0] == Match.FULL for route in routes)

    allow = ", ".join(m for m in HTTP_METHODS if takes(m)) or fallback_allow or ""
    method = str(scope.get("method", ""))
    message = f"{method} is not allowed here: use {allow}" if allow else f"{method} is not allowed here"
    return Refusal(405, "method_not_allowed", message, headers={"Allow": allow})
