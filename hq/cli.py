"""``huduma-hq``: serve headquarters, register centres. Thin over hq.store and hq.app.

``huduma-hq --demo`` (or ``huduma-hq serve --demo``) runs a demo headquarters on
http://127.0.0.1:8100 with a local SQLite file; production uses PostgreSQL:
``huduma-hq serve --db postgresql://user@host/huduma``.
"""

from __future__ import annotations

import logging
import socket

import click

from hq.store import Store, StoreError

logger = logging.getLogger(__name__)

CONTEXT = {"help_option_names": ["-h", "--help"]}
DB_HELP = "Database URL: postgresql://user@host:5432/name (or sqlite:///path/hq.db for a demo); env HUDUMA_HQ_DB."


def _store(db: str | None, demo: bool = False) -> Store:
    from hq.demo import DEMO_DB

    url = db or (DEMO_DB if demo else None)
    if not url:
        raise click.ClickException("no database: give --db postgresql://... (or set HUDUMA_HQ_DB), or use --demo")
    store = Store(url)
    try:
        store.migrate()
    except Exception as err:  # a wrong URL or a database that is down: say which, no traceback
        raise click.ClickException(f"cannot open {store.describe()}: {err}") from None
    return store


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--demo", is_flag=True, help="Serve the demo headquarters (same as `huduma-hq serve --demo`).")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.pass_context
def cli(ctx: click.Context, demo: bool, verbose: bool) -> None:
    """Huduma headquarters: receive centres' daily summaries, show the national board, keep the national catalogue."""
    _logging(verbose)
    if ctx.invoked_subcommand is None:
        if demo:
            ctx.invoke(serve, demo=True)
        else:
            click.echo(ctx.get_help())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="HTTP port [default: 8100].")
@click.option("--db", default=None, envvar="HUDUMA_HQ_DB", help=DB_HELP)
@click.option("--demo", is_flag=True, help="SQLite in ./demo-hq, the demo centre registered, simulated neighbours.")
@click.option("--timezone", "tz", default="Africa/Nairobi", show_default=True, envvar="HUDUMA_HQ_TZ",
              help="Time zone of the board's own clock (each centre's times show in the centre's zone).")
def serve(host: str, port: int | None, db: str | None, demo: bool, tz: str) -> None:
    """Serve the API (POST /api/v1/summaries) and the national board (/).

    Example: huduma-hq serve --db postgresql://hq@127.0.0.1/huduma --host 0.0.0.0 --port 8100
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    import uvicorn

    from hq import demo as demo_mod
    from hq.app import create_app

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.ClickException(f"unknown time zone {tz!r}: use a name like Africa/Nairobi") from None
    port = port or demo_mod.DEMO_PORT
    store = _store(db, demo)
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1" if host == "0.0.0.0" else host, port)) == 0:
            raise click.ClickException(f"port {port} is taken: choose another with --port")
    demo_accounts: dict[str, tuple[str, str]] = {}
    if demo:
        demo_mod.prepare(store)
        demo_accounts = demo_mod.demo_staff(store)
        demo_mod.seed_in_background(store)
    app = create_app(store, demo=demo, timezone=tz)
    web = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    click.echo(f"Huduma headquarters on {web}  (database: {store.describe()})")
    click.echo(f"  national board {web}/    API docs {web}/docs    CSV {web}/export.csv")
    click.echo(f"  catalogue editor {web}/admin    services by centre {web}/admin/centres")
    click.echo(f"  call centre      {web}/callcentre    staff {web}/admin/staff    login {web}/admin/login")
    for role, (username, password) in demo_accounts.items():
        click.echo(f"  demo {role:<11} {username} / {password}")
    if demo_accounts:
        click.echo(f"  (kept in {demo_mod.DEMO_DIR / 'demo-credentials.json'})")
    if demo:
        click.echo("  demo: the demo centre (make run) delivers here; simulate days with")
        click.echo("        huduma-centre simulate-day demo-centre --date yesterday   (and --date today)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@cli.command("add-centre")
@click.argument("centre_id")
@click.option("--name", required=True, help="The centre's name as the board shows it.")
@click.option("--db", default=None, envvar="HUDUMA_HQ_DB", help=DB_HELP)
@click.option("--new-token", is_flag=True, help="The centre exists: issue it a new token (the old one stops working).")
def add_centre(centre_id: str, name: str, db: str | None, new_token: bool) -> None:
    """Register a centre and print its token once (stored hashed). Put it in the centre's centre.toml.

    Example: huduma-hq add-centre nairobi-gpo --name "Huduma Centre GPO" --db postgresql://hq@127.0.0.1/huduma
    """
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", centre_id):
        raise click.ClickException("centre id: lower-case letters, digits and '-', as in the centre's centre.toml")
    store = _store(db)
    try:
        token = store.add_centre(centre_id, name, replace=new_token)
    except StoreError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"centre {centre_id} registered. In its centre.toml:\n\n[upstream]\nhq_url = \"http://HQ-HOST:8100\"\n"
               f"hq_token = \"{token}\"\n\n(the token is shown only now)")


@cli.command("place-centre")
@click.argument("centre_id")
@click.option("--county", required=True, help="The county the centre stands in, e.g. Nakuru.")
@click.option("--town", default="", help="Its town, e.g. Naivasha (SMS and USSD find centres by county or town).")
@click.option("--location", default="", metavar="LAT,LON", help="Decimal degrees, e.g. -0.2833,36.0667.")
@click.option("--db", default=None, envvar="HUDUMA_HQ_DB", help=DB_HELP)
def place_centre(centre_id: str, county: str, town: str, location: str, db: str | None) -> None:
    """Say where a centre is, for the public wait page (overrides what the centre's [place] says).

    Example: huduma-hq place-centre nakuru --county Nakuru --town Nakuru --location=-0.2833,36.0667 --db ...
    """
    from hq import live_store

    lat = lon = None
    if location:
        try:
            lat, lon = (float(x) for x in location.split(","))
        except ValueError:
            raise click.ClickException(f"location {location!r}: write it as LAT,LON, e.g. -0.2833,36.0667") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise click.ClickException("location: latitude between -90 and 90, longitude between -180 and 180")
    county, town = " ".join(county.split()), " ".join(town.split())
    if not county or len(county) > 40 or len(town) > 40 or any(ch in county + town for ch in "<>\x00"):
        raise click.ClickException("county and town: 1 to 40 characters")
    store = _store(db)
    if centre_id not in {c["id"] for c in store.centres()}:
        raise click.ClickException(f"no centre {centre_id!r}: register it first with huduma-hq add-centre")
    live_store.set_place(store, centre_id, county, town, lat, lon)
    click.echo(f"{centre_id}: {town + ', ' if town else ''}{county}" + (f" at {lat},{lon}" if lat is not None else ""))


@cli.command("add-admin")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "agent", "viewer"]), default="admin", show_default=True,
              help="What the account may do (admin: edit and publish the national catalogue).")
@click.option("--password", "ask", is_flag=True, help="Type the password (twice) instead of getting a generated one.")
@click.option("--new-password", "replace", is_flag=True,
              help="The account exists: give it a new password (lifts a lock-out, ends its sessions).")
@click.option("--db", default=None, envvar="HUDUMA_HQ_DB", help=DB_HELP)
def add_admin(username: str, role: str, ask: bool, replace: bool, db: str | None) -> None:
    """Add a headquarters account (argon2-hashed password) and print its password once.

    Example: huduma-hq add-admin wanjiku --db postgresql://hq@127.0.0.1/huduma
    """
    import re

    from hq.auth import USERNAME_PATTERN, Accounts, HqRole, new_password

    username = username.strip().lower()
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise click.ClickException("username: 2 to 40 lower-case letters, digits, '.', '_' or '-'")
    if ask:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < 10:
            raise click.ClickException("a password has at least 10 characters")
    else:
        password = new_password()
    accounts = Accounts(_store(db))
    accounts.migrate()
    try:
        accounts.add(username, HqRole(role), password, replace=replace)
    except StoreError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"{role} {username} {'has a new password' if replace else 'added'}.")
    if not ask:
        click.echo(f"password: {password}\n(shown only now; log in at http://HQ-HOST:8100/admin)")


@cli.command("list-centres")
@click.option("--db", default=None, envvar="HUDUMA_HQ_DB", help=DB_HELP)
def list_centres(db: str | None) -> None:
    """List registered centres.

    Example: huduma-hq list-centres --db postgresql://hq@127.0.0.1/huduma
    """
    for c in _store(db).centres():
        click.echo(f"{c['id']:24} {c['name']}{'  (disabled)' if c['disabled'] else ''}")


@cli.command("refresh-figures")
@click.option("--db", default=None, envvar="HUDUMA_HQ_DB", help=DB_HELP)
@click.option("--from", "first", default=None, help="First date (YYYY-MM-DD) [default: every stored day].")
@click.option("--to", "last", default=None, help="Last date (YYYY-MM-DD) [default: every stored day].")
def refresh_figures(db: str | None, first: str | None, last: str | None) -> None:
    """Fill the board's figure tables from the summaries already stored (once, after an upgrade).

    New summaries fill them as they arrive; this reads the ones stored before,
    or changed by hand, and prints how many it filled.

    Example: huduma-hq refresh-figures --db postgresql://hq@127.0.0.1/huduma
    """
    from datetime import date as Date

    from hq import daily

    for value in (first, last):
        if value is not None:
            try:
                Date.fromisoformat(value)
            except ValueError:
                raise click.ClickException(f"{value!r} is not a date: use YYYY-MM-DD") from None
    if (first is None) != (last is None):
        raise click.ClickException("give both --from and --to, or neither")
    n = daily.refresh(_store(db), first, last)
    click.echo(f"figures filled for {n} stored summaries" if n else "the figures were up to date")


def main() -> None:
    cli(prog_name="huduma-hq", auto_envvar_prefix=None)


if __name__ == "__main__":
    main()
