"""``huduma-centre close-day``, ``sync-status``, ``sync-now`` and ``simulate-day``: thin over the library.

close-day works on a stopped server's directory (it takes the directory's server
lock, so it cannot race a running server); with ``--url`` it asks the running
server to close the day over HTTP with a manager's login instead.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import date as Date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from centre_server.cli.remote import as_manager
from centre_server.config import ConfigError, load_settings

logger = logging.getLogger(__name__)

centre_dir = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


def _settings(directory: Path):
    try:
        return load_settings(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


def _resolve_date(value: str | None, tz: str) -> str | None:
    """'today', 'yesterday' or YYYY-MM-DD (centre local date)."""
    if value is None:
        return None
    today = datetime.now(ZoneInfo(tz)).date()
    if value == "today":
        return today.isoformat()
    if value == "yesterday":
        return (today - timedelta(days=1)).isoformat()
    from centre_server.dayclose.closing import check_date
    from centre_server.dayclose.errors import DayCloseError

    try:
        return check_date(value)
    except DayCloseError as err:
        raise click.ClickException(str(err)) from None


def _print_result(r: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    t = r.get("total", {})
    what = "new revision" if r["new_revision"] else "unchanged, no new revision"
    click.echo(f"{r['date']} closed: revision {r['revision']} ({what}); key {r['key']}")
    if r.get("note"):
        click.echo(f"  note: {r['note']}")
    click.echo(f"  cancelled now {r['cancelled']}, phone numbers erased {r['phones_erased']}")
    if r.get("sms_sent") or r.get("sms_not_sent"):
        click.echo(f"  SMS to citizens still waiting: {r['sms_sent']} sent before their numbers were erased"
                   + (f", {r['sms_not_sent']} not taken by the SMS gateway (lost)" if r.get("sms_not_sent") else ""))
    share = t.get("within_target_share")
    click.echo(f"  arrived {t.get('arrived', 0)}, served {t.get('served', 0)}, no-shows {t.get('no_shows', 0)}, "
               f"cancelled {t.get('cancelled', 0)}, transfers {t.get('transfers', 0)}")
    click.echo(f"  wait mean {t.get('wait_mean_s')} s, p90 {t.get('wait_p90_s')} s, within target "
               f"{'-' if share is None else f'{share:.0%}'}, satisfaction {t.get('satisfaction_mean')} "
               f"({t.get('satisfaction_count', 0)} ratings), staffed hours {t.get('staffed_hours', 0)}")


@click.command("close-day")
@centre_dir
@click.option("--date", "day", default=None, help="YYYY-MM-DD, 'today' or 'yesterday' (default: the open day).")
@click.option("--url", default=None, help="A RUNNING server's address: close through it, e.g. http://127.0.0.1:8000.")
@click.option("--user", "username", default="manager", show_default=True, help="With --url: a manager or admin.")
@click.option("--password", default=None, envvar="HUDUMA_PASSWORD",
              help="With --url: the password (or HUDUMA_PASSWORD; asked if absent).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def close_day(directory: Path, day: str | None, url: str | None, username: str, password: str | None,
              as_json: bool) -> None:
    """Close a day: cancel what still waits, summarise, erase phones, queue the summary for headquarters.

    Without --url the server must be stopped (the command refuses otherwise); the
    citizens still waiting are texted through the centre's [channels] SMS gateway
    before their numbers are erased, as the running server's close does. Closing
    again with the same data makes no new revision; after a late correction it does.

    Example: huduma-centre close-day /srv/huduma --date 2026-03-02
    """
    from centre_server.dayclose import closing
    from centre_server.dayclose.errors import DayCloseError

    settings = _settings(directory)
    day = _resolve_date(day, settings.timezone)
    if url:
        result = as_manager(url, username, password, "POST", "/day/close",
                            params={"date": day} if day else {}, timeout=120)
        _print_result(result, as_json)
        return
    from centre_server.channels import CloseMessages

    messages = CloseMessages()  # the citizens still waiting are texted, as the running server's close texts them
    try:
        result = closing.close_offline(settings, day, attach=[messages])
    except (DayCloseError, ConfigError) as err:  # a broken [channels] would lose the close's SMS: nothing closed
        raise click.ClickException(str(err)) from None
    sent, not_sent = messages.told.get(result.date, (0, 0))
    out = result.as_dict()
    out["sms_sent"], out["sms_not_sent"] = sent, not_sent
    _print_result(out, as_json)
    from centre_server.dayclose import upstream

    if upstream.upstream_target(settings)[0] and not as_json:
        click.echo("  the running server sends it upstream; or now: huduma-centre sync-now " + str(directory))


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    delta = ts - time.time()
    stamp = datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    if delta > 0:
        return f"{stamp} (in {int(delta)} s)"
    return stamp


@click.command("sync-status")
@centre_dir
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def sync_status(directory: Path, as_json: bool) -> None:
    """Show what waits in the outbox for headquarters (attempts, next try, last error) and what went last.

    Example: huduma-centre sync-status /srv/huduma
    """
    from centre_server.dayclose import upstream
    from centre_server.store import database as storage

    settings = _settings(directory)
    db = storage.connect(settings.db_path)
    try:
        st = upstream.status(db)
    finally:
        db.conn.close()
    url = upstream.upstream_target(settings)[0]
    st["hq_url"] = url
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"headquarters: {url or 'not configured ([upstream] hq_url in centre.toml)'}")
    click.echo(f"pending {st['pending_count']}, delivered {st['sent_count']}")
    for p in st["pending"]:
        click.echo(f"  PENDING {p['key']:32} attempts {p['attempts']:3}  next {_when(p['next_attempt_at'])}"
                   + (f"\n          last error: {p['last_error']}" if p["last_error"] else ""))
    for s in st["recently_sent"]:
        click.echo(f"  sent    {s['key']:32} attempts {s['attempts']:3}  at {_when(s['sent_at'])}"
                   + (f"\n          note: {s['note']}" if s.get("note") else ""))


@click.command("sync-now")
@centre_dir
def sync_now(directory: Path) -> None:
    """Try to deliver every pending summary now (safe beside a running server: HQ stores each key once).

    Example: huduma-centre sync-now /srv/huduma
    """
    from centre_server.dayclose import upstream

    settings = _settings(directory)
    if not upstream.upstream_target(settings)[0]:
        raise click.ClickException("no headquarters configured: set [upstream] hq_url and hq_token in centre.toml")
    delivered, left = upstream.send_now(settings)
    click.echo(f"delivered {delivered}, still pending {left}"
               + (f" (see huduma-centre sync-status {directory})" if left else ""))
    if left:
        raise SystemExit(1)


@click.command("simulate-day")
@centre_dir
@click.option("--date", "day", required=True, help="YYYY-MM-DD, 'today' or 'yesterday'.")
@click.option("--citizens", default=400, show_default=True, type=click.IntRange(1, 3000))
@click.option("--seed", default=None, type=int, help="Random seed (default: from the date, so repeatable).")
@click.option("--force", is_flag=True, help="Simulate even a day with real tickets (its real figures are replaced).")
def simulate_day(directory: Path, day: str, citizens: int, seed: int | None, force: bool) -> None:
    """Simulate a whole centre day through the queue engine (fake clock) and close it.

    The day runs on a scratch copy of the centre (same services and counters), so the
    real tickets and a running server are untouched; its summary, marked simulated, is
    recorded as the centre's day and queued for headquarters. For demos and training.
    A day with real tickets (e.g. today beside a live centre) is refused unless --force.

    Example: huduma-centre simulate-day demo-centre --date yesterday
    """
    from centre_server.dayclose.errors import DayCloseError
    from centre_server.sim import daysim

    settings = _settings(directory)
    resolved = _resolve_date(day, settings.timezone)
    assert resolved is not None
    if Date.fromisoformat(resolved) > datetime.now(ZoneInfo(settings.timezone)).date():
        raise click.ClickException(f"{resolved} is in the future")
    try:
        r = daysim.simulate_into_centre(settings, resolved, citizens=citizens, seed=seed, force=force)
    except DayCloseError as err:
        raise click.ClickException(str(err)) from None
    t = r["total"]
    click.echo(f"simulated {resolved}: {t['arrived']} citizens, {t['served']} served, {t['no_shows']} no-shows, "
               f"mean wait {t['wait_mean_s']} s; summary revision {r['revision']}"
               f"{'' if r['new_revision'] else ' (unchanged)'} queued as {r['key']}")
    if os.environ.get("HUDUMA_DEBUG"):
        click.echo(json.dumps(r, indent=2))
