"""The catalogue as a part of the running server: the downstream sync thread, woken by every change."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.routing import Mount

from centre_server.catalogue.sync import CatalogueSync
from centre_server.runtime.centre import Centre
from centre_server.store import catalogue as catalogue_store

logger = logging.getLogger(__name__)


class CatalogueExtension:
    """Fetches the newest national catalogue from headquarters and reports what the centre runs and offers."""

    name = "catalogue"
    on_committed = None

    def __init__(self) -> None:
        self.sync: CatalogueSync | None = None
        self._centre: Centre | None = None

    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        self._centre = centre
        self.sync = CatalogueSync.for_centre(centre)
        # headquarters hears what this centre runs at the first answer after every start (a restored backup,
        # a centre that reported before headquarters was rebuilt)
        catalogue_store.set_report_due(centre.db, centre.clock())
        centre.catalogue_listeners.append(self.sync.wake)  # an offering changed: headquarters hears of it soon
        centre.headquarters.add(self.sync)
        self.sync.start()

    def stop(self) -> None:
        if self._centre is not None and self.sync is not None and self.sync.wake in self._centre.catalogue_listeners:
            self._centre.catalogue_listeners.remove(self.sync.wake)
        if self.sync is not None:
            self.sync.stop()
