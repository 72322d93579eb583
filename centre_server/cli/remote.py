"""One call to a running centre server as a signed-in manager: what a command does while the server runs."""

from __future__ import annotations

import logging
from typing import Any

import click
import httpx

logger = logging.getLogger(__name__)


def as_manager(url: str, username: str, password: str | None, method: str, path: str, *,
               body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
               timeout: float = 60) -> dict[str, Any]:
    """Log in, make the call under ``/api/v1``; a refusal or an unreachable server becomes the command's error."""
    if password is None:
        password = click.prompt(f"password for {username}", hide_input=True)
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=timeout) as http:
            r = http.post("/api/v1/auth/login", json={"username": username, "password": password})
            if r.status_code != 200:
                raise click.ClickException(f"login refused: {refusal_message(r)}")
            r = http.request(method, "/api/v1" + path, json=body, params=params,
                             headers={"Authorization": f"Bearer {r.json()['token']}"})
    except httpx.HTTPError as err:
        raise click.ClickException(f"cannot reach the server at {url}: {err}") from None
    if r.status_code >= 300:
        raise click.ClickException(f"the server refused: {refusal_message(r)}")
    result: dict[str, Any] = r.json()
    return result


def refusal_message(r: httpx.Response) -> str:
    """The server's own words for a refusal (``{"error": {"message"}}``), else the status."""
    try:
        return str(r.json()["error"]["message"])
    except Exception:
        return f"HTTP {r.status_code}"
