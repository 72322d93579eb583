"""The one error of every refusal: a status, a machine-readable code, a message, and extra fields.

Every HTTP answer that refuses something is ``{"error": {"code", "message", ...}}``
(``ErrorResponse``); every part of the server that refuses a request raises a
``Refusal`` (or a subclass named in its own words), and one handler renders it.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A request refused for a reason the caller can act on; ``status`` is the HTTP status."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra: dict[str, Any] = extra  # e.g. opens_at, book_day: when to come back

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer: ``{"error": {"code", "message", ...extra}}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error.update({k: v for k, v in self.extra.items() if v is not None})
        return {"error": error}
