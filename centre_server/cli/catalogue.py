"""``huduma-centre catalogue …``: which national catalogue the centre runs, a sync now, and a manager's offerings.

Thin over ``centre_server.catalogue``. On a stopped server's directory each command
works on the database itself (taking the directory's server lock for a change); with
``--url`` it goes through the running server with a manager's login, so the running
queue hears of it at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from centre_server.cli.remote import as_manager
from centre_server.config import CentreSettings, ConfigError, load_settings
from centre_server.contract.catalogue import OfferingStatus, Text

logger = logging.getLogger(__name__)

centre_dir = click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
service_arg = click.argument("service_id")


def _settings(directory: Path) -> CentreSettings:
    try:
        return load_settings(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


def _through(url: str | None) -> Any:
    """The --url, --user and --password options of a command that may go through a running server."""
    def wrap(f: Any) -> Any:
        f = click.option("--password", default=None, envvar="HUDUMA_PASSWORD",
                         help="With --url: the password (or HUDUMA_PASSWORD; asked if absent).")(f)
        f = click.option("--user", "username", default="manager", show_default=True,
                         help="With --url: a manager or admin.")(f)
        return click.option("--url", default=url, help="A RUNNING server's address, e.g. http://127.0.0.1:8000: "
                            "go through it (needed while it runs).")(f)
    return wrap


@contextlib.contextmanager
def _offline(directory: Path, change: bool) -> Iterator[Any]:
    """A Centre on a directory; for a change, only while no server runs there (its lock)."""
    from centre_server.dayclose.errors import DayCloseError
    from centre_server.dayclose.lock import server_lock
    from centre_server.runtime.centre import Centre

    settings = _settings(directory)
    lock = server_lock(directory) if change else contextlib.nullcontext()
    try:
        with lock:
            centre = Centre(settings)
            try:
                yield centre
            finally:
                centre.close()
    except DayCloseError:
        raise click.ClickException(f"a centre server is running on {directory}: add --url http://HOST:PORT "
                                   "to go through it") from None


@click.group("catalogue")
def catalogue_cmd() -> None:
    """The national service catalogue: the version this centre runs, a sync now, offerings and suspensions."""


@catalogue_cmd.command("show")
@centre_dir
@click.option("--service", "service_id", default=None, help="One service's requirements and fee in full.")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON (the same as state/catalogue).")
def show(directory: Path, service_id: str | None, as_json: bool) -> None:
    """Show the catalogue version this centre runs and each service's offering (safe beside a running server).

    Example: huduma-centre catalogue show /srv/huduma --service kra-pin
    """
    from centre_server.store import catalogue as catalogue_store

    with _offline(directory, change=False) as centre:
        payload = centre.catalogue_payload()
        due = catalogue_store.report_due(centre.db)
    if service_id is not None:
        info = payload.info(service_id)
        if info is None:
            raise click.ClickException(f"no service {service_id!r} in catalogue version {payload.version}")
        if as_json:
            click.echo(info.model_dump_json(indent=2))
            return
        s, o = info.service, info.offering
        click.echo(f"{s.id} ({s.prefix}) {s.name.en} / {s.name.sw} — {s.agency}")
        click.echo(f"  {o.status.value}" + (f": {o.reason.en} / {o.reason.sw}" if o.reason else "")
                   + (f" (since {o.since:%Y-%m-%d %H:%M}{', by ' + o.by if o.by else ''})" if o.since else ""))
        amount = "varies" if s.fee.varies else "free" if s.fee.free else f"KSh {s.fee.amount_ksh:,}"
        click.echo(f"  fee: {amount}" + (f" — {s.fee.note.en}" if s.fee.note else ""))
        click.echo(f"  target wait {s.target_wait_min} min, typical {s.typical_duration_min:g} min")
        for d in s.documents:
            click.echo(f"  bring: {d.en}")
        return
    if as_json:
        click.echo(payload.model_dump_json(indent=2))
        return
    when = f", running since {payload.applied_at:%Y-%m-%d %H:%M}" if payload.applied_at else ""
    click.echo(f"catalogue version {payload.version}{' (shipped with the package)' if payload.version == 0 else ''}"
               f"{' — demo data' if payload.demo else ''}{when}")
    counts = {st: sum(1 for i in payload.services if i.offering.status is st) for st in OfferingStatus}
    click.echo(f"  {counts[OfferingStatus.offered]} offered, {counts[OfferingStatus.suspended]} suspended, "
               f"{counts[OfferingStatus.not_offered]} not offered here")
    for i in payload.services:
        if i.offering.status is OfferingStatus.suspended:
            click.echo(f"  suspended {i.service.id}: {i.offering.reason.en if i.offering.reason else ''}")
    if due is not None:
        click.echo("  a report to headquarters waits to be sent")


@catalogue_cmd.command("sync")
@centre_dir
@_through(None)
def sync(directory: Path, url: str | None, username: str, password: str | None) -> None:
    """Ask headquarters now for a newer catalogue and apply it; send the report if one waits.

    Example: huduma-centre catalogue sync /srv/huduma --url http://127.0.0.1:8000
    """
    if url:
        r = as_manager(url, username, password, "POST", "/catalogue/sync/now")
        if r.get("last_error"):
            raise click.ClickException(f"headquarters could not be asked: {r['last_error']} "
                                       f"(still running version {r['running_version']})")
        click.echo(f"running catalogue version {r['running_version']}"
                   + ("; a report to headquarters waits" if r.get("report_pending") else ""))
        return
    from centre_server.catalogue.sync import CatalogueSync, SyncError

    with _offline(directory, change=True) as centre:
        client = CatalogueSync.for_centre(centre)
        try:
            result = client.sync_once()
        except SyncError as err:
            raise click.ClickException(f"headquarters could not be asked: {err} "
                                       f"(still running version {centre.catalogue.version})") from None
        finally:
            client.close()
    click.echo(f"running catalogue version {result.version}" + (" (new)" if result.applied else " (unchanged)")
               + ("; headquarters told" if result.reported else ""))


def _set(directory: Path, service_id: str, status: OfferingStatus, reason: Text | None,
         url: str | None, username: str, password: str | None) -> None:
    if url:
        body = {"status": status.value, "reason": reason.model_dump() if reason else None}
        r = as_manager(url, username, password, "POST", f"/catalogue/{service_id}/offering", body=body)
        click.echo(f"{service_id}: {r['status']}")
        return
    from centre_server.catalogue.offerings import set_offering
    from centre_server.contract.errors import Refusal
    from centre_server.store import database as storage

    with _offline(directory, change=True) as centre:
        try:
            offering = set_offering(centre, service_id, status, reason, by=f"cli:{_who()}")
        except Refusal as err:
            raise click.ClickException(err.message) from None
        storage.audit(centre.db, f"cli:{_who()}", "catalogue_offering", service_id=service_id,
                      status=status.value, reason=json.loads(reason.model_dump_json()) if reason else None)
    click.echo(f"{service_id}: {offering.status.value} (headquarters hears of it at the server's next sync)")


def _reason(en: str | None, sw: str | None) -> Text:
    try:
        return Text(en=en or "", sw=sw or "")
    except ValueError:
        raise click.BadParameter("give the reason in both languages, neither empty") from None


@catalogue_cmd.command("suspend")
@centre_dir
@service_arg
@click.option("--reason-en", required=True, help='What citizens are told, e.g. "KRA\'s iTax system is down".')
@click.option("--reason-sw", required=True, help='The same in Kiswahili, e.g. "Mfumo wa iTax wa KRA haufanyi kazi".')
@_through(None)
def suspend(directory: Path, service_id: str, reason_en: str, reason_sw: str, url: str | None, username: str,
            password: str | None) -> None:
    """Suspend a service now: new tickets are refused with the reason; those waiting keep their place.

    Example: huduma-centre catalogue suspend /srv/huduma kra-pin --reason-en "iTax is down"
    --reason-sw "iTax haifanyi kazi" --url http://127.0.0.1:8000
    """
    _set(directory, service_id, OfferingStatus.suspended, _reason(reason_en, reason_sw), url, username, password)


@catalogue_cmd.command("resume")
@centre_dir
@service_arg
@_through(None)
def resume(directory: Path, service_id: str, url: str | None, username: str, password: str | None) -> None:
    """Offer a service again: it ends a suspension, or a "not offered here".

    Example: huduma-centre catalogue resume /srv/huduma kra-pin --url http://127.0.0.1:8000
    """
    _set(directory, service_id, OfferingStatus.offered, None, url, username, password)


@catalogue_cmd.command("not-offered")
@centre_dir
@service_arg
@click.option("--reason-en", default=None, help="Optional: why, e.g. \"No NHIF desk at this centre\".")
@click.option("--reason-sw", default=None, help="Optional: the same in Kiswahili.")
@_through(None)
def not_offered(directory: Path, service_id: str, reason_en: str | None, reason_sw: str | None, url: str | None,
                username: str, password: str | None) -> None:
    """Mark a national service not offered at this centre (no desk for it): no ticket is issued for it.

    Example: huduma-centre catalogue not-offered /srv/huduma nhif-register --url http://127.0.0.1:8000
    """
    reason = _reason(reason_en, reason_sw) if reason_en or reason_sw else None
    _set(directory, service_id, OfferingStatus.not_offered, reason, url, username, password)


def _who() -> str:
    """Who typed a change on the server itself (the audit log's actor): the system user."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
