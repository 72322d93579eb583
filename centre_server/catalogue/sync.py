"""The downstream sync: the newest national catalogue from headquarters, and what this centre runs, back up.

A daemon thread asks ``GET {hq_url}/api/v1/catalogue`` with the centre's token and
``If-None-Match`` (the running version's ETag) every ``[upstream] catalogue_every_s``.
A 304 changes nothing; a 200 is validated (the whole ``Catalogue``), stored, and
applied between two commands. Then, and after every change of an offering, a
``CentreCatalogueReport`` goes to ``PUT {hq_url}/api/v1/centres/me/catalogue``; a
report that cannot be sent stays due in the database (across restarts) until it is.
The thread is a ``runtime.periodic.Periodic`` (one shape with the centre's other links
to headquarters): while headquarters is unreachable it backs off;
days offline cost nothing: the next answer is simply the newest version.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from centre_server.contract.catalogue import (
    CATALOGUE_EPOCH_HEADER,
    CATALOGUE_PATH,
    CATALOGUE_REPORT_PATH,
    CATALOGUE_VERSION_HEADER,
    EPOCH_PATTERN,
    Catalogue,
    catalogue_etag,
)
from centre_server.dayclose.upstream import upstream_target
from centre_server.runtime.centre import Centre
from centre_server.runtime.periodic import Backoff, HeadquartersLink
from centre_server.store import catalogue as catalogue_store, database as storage

logger = logging.getLogger(__name__)

MAX_CATALOGUE_BYTES = 4 * 2**20  # a catalogue of 500 services is well under 1 MB


class SyncError(Exception):
    """Headquarters could not be asked, or answered something this centre cannot run: the words say which."""


@dataclass
class SyncResult:
    """One pass: the version running after it, whether it changed, and whether the report reached HQ."""

    version: int
    applied: bool
    reported: bool


class CatalogueSync(HeadquartersLink):
    """Fetches, applies and reports; one per running server (and one-off passes for the command line)."""

    expected = (SyncError,)

    def __init__(self, centre: Centre, hq_url: str, hq_token: str, *, every_s: float = 300.0,
                 backoff: Backoff | None = None, timeout_s: float = 15.0, rng: random.Random | None = None) -> None:
        super().__init__("catalogue-sync", "catalogue sync with", hq_url, hq_token, every_s=every_s,
                         backoff=backoff or Backoff(base_s=min(5.0, every_s), cap_s=max(every_s, 1800.0)), rng=rng,
                         timeout_s=timeout_s, off_words=f"no [upstream] hq_url: the centre runs catalogue version "
                                                       f"{centre.catalogue.version} until one is configured")
        self.centre = centre
        self.last_checked_at: float | None = None

    @classmethod
    def for_centre(cls, centre: Centre) -> CatalogueSync:
        """The link and credentials of the upstream sender, and this install's id."""
        url, token = upstream_target(centre.settings)
        every = centre.settings.upstream.catalogue_every_s
        # the upstream sender's retry settings: from a few seconds, doubling, to half an hour at most
        sync = cls(centre, url, token, every_s=every,
                   backoff=Backoff.for_link(every, "SYNC", cap_at_least_s=1800.0, cap_at_most_s=3600.0))
        sync.install_id = storage.install_id(centre.db)
        return sync

    def run_once(self) -> None:
        self.sync_once()

    # ---------------------------------------------------------------- one pass

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.hq_token}",
                CATALOGUE_VERSION_HEADER: str(self.centre.catalogue.version)}

    def sync_once(self) -> SyncResult:
        """Ask for a newer version, apply it, then report if anything is due. Raises SyncError on failure
        (what was fetched and applied stays applied; a report not sent stays due)."""
        if not self.hq_url:
            raise SyncError("no [upstream] hq_url in centre.toml")
        applied = self.fetch_and_apply()
        reported = self.report_if_due()
        return SyncResult(version=self.centre.catalogue.version, applied=applied, reported=reported)

    def fetch_and_apply(self) -> bool:
        """True when a newer version (or any version of a new epoch: a rebuilt headquarters) was fetched and now
        runs."""
        running = self.centre.catalogue.version
        known = catalogue_store.epoch(self.centre.db)
        try:
            r = self.http.get(self.hq_url + CATALOGUE_PATH,
                              headers={**self._headers(), "If-None-Match": catalogue_etag(running, known)})
        except httpx.HTTPError as err:
            raise self._failed(_words(err)) from None
        if r.status_code == 304:
            self._answered()
            return False
        if r.status_code == 404 and _code(r) == "no_catalogue":  # none published yet: keep the one we run
            self._answered()
            return False
        if r.status_code != 200:
            raise self._failed(f"HTTP {r.status_code}: {_message(r)}")
        if len(r.content) > MAX_CATALOGUE_BYTES:
            raise self._failed(f"a catalogue of {len(r.content)} bytes is over {MAX_CATALOGUE_BYTES}")
        try:
            catalogue = Catalogue.model_validate_json(r.content)
        except ValidationError as err:
            raise self._failed(f"headquarters sent a catalogue this centre cannot run: "
                               f"{err.error_count()} error(s), first: {err.errors()[0]['msg']}") from None
        self._answered()
        epoch = r.headers.get(CATALOGUE_EPOCH_HEADER, "")
        epoch = epoch if re.fullmatch(EPOCH_PATTERN, epoch) else ""  # a headquarters before epochs sends none
        if epoch and known and epoch != known:
            logger.warning("headquarters' catalogue history is new (epoch %s, this centre had %s: rebuilt?): "
                           "taking its version %s in place of %s", epoch, known, catalogue.version, running)
            catalogue_store.start_epoch(self.centre.db, catalogue, epoch, time.time())
            return self.centre.apply_catalogue(catalogue, new_epoch=True)
        if epoch and not known:  # the first answer with an epoch: the versions kept so far are of this history
            catalogue_store.set_epoch(self.centre.db, epoch)
        if catalogue.version < running:
            logger.warning("headquarters offers catalogue version %s, older than the %s this centre runs: kept %s",
                           catalogue.version, running, running)
            return False
        if catalogue.version == running and self.centre.catalogue_applied_at is not None:
            return False
        catalogue_store.save_version(self.centre.db, catalogue, time.time())
        return self.centre.apply_catalogue(catalogue)  # makes a report due

    def report_if_due(self) -> bool:
        """Send the report if one waits; True when headquarters took it."""
        due = catalogue_store.report_due(self.centre.db)
        if due is None:
            return False
        report = self.centre.catalogue_report()
        try:
            r = self.http.put(self.hq_url + CATALOGUE_REPORT_PATH, content=report.model_dump_json(),
                              headers={**self._headers(), "Content-Type": "application/json"})
        except httpx.HTTPError as err:
            raise self._failed(f"report: {_words(err)}") from None
        if not 200 <= r.status_code < 300:
            raise self._failed(f"report: HTTP {r.status_code}: {_message(r)}")
        catalogue_store.clear_report_due(self.centre.db, due)
        logger.info("told headquarters: catalogue version %s, %d offering(s)", report.version,
                    sum(1 for o in report.offerings if o.status.value != "offered"))
        return True

    def _answered(self) -> None:
        self.last_checked_at = time.time()
        self.last_error = None

    def _failed(self, words: str) -> SyncError:
        self.last_error = words[:300]
        return SyncError(self.last_error)


def _words(err: httpx.HTTPError) -> str:
    """A failed request in a manager's words (the board shows it), with the technical detail after."""
    if isinstance(err, httpx.ConnectError):
        what = "no connection"
    elif isinstance(err, httpx.TimeoutException):
        what = "no answer in time"
    else:
        what = "the connection failed"
    return f"{what} ({type(err).__name__}: {err})" if str(err) else f"{what} ({type(err).__name__})"


def _code(r: httpx.Response) -> str | None:
    try:
        return str(r.json()["error"]["code"])
    except Exception:
        return None


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json()["error"]["message"])[:200]
    except Exception:
        return r.text[:200]
