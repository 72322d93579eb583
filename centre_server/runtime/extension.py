"""The parts that start and stop with the server, beside the centre itself.

``create_app`` builds one list of them (the MQTT link, the day closer, the live
pages, the channels), includes the routes each one answers (declared in the HTTP
room, ``centre_server.http.routes.part_routers``, so that no part imports the
HTTP room), starts them in order once the centre is loaded and stops them in
reverse. Routes reach a running part through
``running(request, Kind)``, by its type: one of each kind runs in an app.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from fastapi import Request
from starlette.routing import Mount

if TYPE_CHECKING:
    from centre_server.runtime.centre import Centre, Listener

logger = logging.getLogger(__name__)


class Extension(Protocol):
    """One part of the running server.

    ``on_committed`` is told every committed batch of events (on the thread that
    committed it), or is None for a part that does not listen, or that listens
    from its own creation.
    """

    name: str

    @property
    def on_committed(self) -> Listener | None:
        """Read only: a part may declare it as a plain attribute, None or a listener."""
        ...

    def mounts(self) -> Sequence[Mount]:
        """The static files this part serves."""
        ...

    def start(self, centre: Centre) -> None:
        """Start with the loaded centre, on the event loop's thread."""
        ...

    def stop(self) -> None:
        """Stop; called once, in reverse order of the starts, only after ``start``."""
        ...


E = TypeVar("E")


def running(request: Request, kind: type[E]) -> E:
    """The app's part of type ``kind`` (a KeyError when the app was made without one)."""
    return request.app.state.extensions[kind]


def maybe_running(request: Request, kind: type[E]) -> E | None:
    """The app's part of type ``kind``, or None when the app was made without one (no broker, say)."""
    return request.app.state.extensions.get(kind)
