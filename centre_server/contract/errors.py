"""The one error of every refusal: a status, a machine-readable code, a message, and extra fields.

Every HTTP answer that refuses something is ``{"error": {"code", "message", ...}}``
(``ErrorResponse``); every part of the server that refuses a request raises a
``Refusal`` (or a subclass named in its own words), and one handler renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
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
