"""``huduma-centre plan`` and ``simulate-history``: the staffing advisor on the command line.

Thin over ``centre_server.staffing``: the same plan the board's "Tomorrow" page shows.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

logger = logging.getLogger(__name__)


def _settings(directory: Path):  # noqa: ANN202  (CentreSettings, imported lazily)
    from centre_server.config import ConfigError, load_settings

    try:
        return load_settings(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


@click.command("plan")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--date", "day", default="tomorrow", show_default=True,
              help="YYYY-MM-DD, tomorrow, today or yesterday; a past day: the plan against what happened.")
@click.option("--target-share", default=0.8, show_default=True, type=float,
              help="Share of each service's citizens to call within its target wait.")
@click.option("--csv", "csv_out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the plan per group and half hour to this CSV file.")
def plan_cmd(directory: Path, day: str, target_share: float, csv_out: Path | None) -> None:
    """How many counters each group of services needs, half hour by half hour, from the centre's own history.

    Example: huduma-centre plan /srv/huduma --date tomorrow --csv tomorrow.csv
    """
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from centre_server.staffing import advisor
    from centre_server.staffing.history import slot_label
    from centre_server.staffing.plan import plan_csv
    from centre_server.store import database as storage

    settings = _settings(directory)
    try:
        when = advisor.resolve_day(day, settings.timezone)
    except advisor.PlanError as err:
        raise click.ClickException(str(err)) from None
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    db = storage.connect(settings.db_path)
    try:
        began = time.perf_counter()
        try:
            if when < today:
                rv = advisor.review(settings, db, when, time.time(), target_share)
                plan = rv.plan
            else:
                rv = None
                plan = advisor.make_plan(settings, db, when, target_share, today=today)
        except advisor.PlanError as err:
            raise click.ClickException(str(err)) from None
        took = time.perf_counter() - began
    finally:
        db.conn.close()
    f = plan.forecast
    if f.closed:
        click.echo(f"{when}: the centre does not open ({f.closed}); nothing to plan")
        return
    click.echo(f"{when} ({when:%A}): {f.total():.0f} citizens expected, from {f.history_days} days of history "
               f"(planned in {took:.1f} s)")
    click.echo(f"target: {_pct(plan.target_share)} of each service's citizens called within its target wait")
    slots = list(f.slots)
    header = "group".ljust(24) + "".join(slot_label(s)[:5].rjust(6) for s in slots) + "   plan  roster"
    click.echo(header)
    for g in plan.groups:
        name = g.group.key + (f" +{len(g.group.services) - 1}" if len(g.group.services) > 1 else "")
        click.echo(name[:23].ljust(24) + "".join(str(g.needed(s)).rjust(6) for s in slots)
                   + _pct(g.level).rjust(7) + _pct(g.roster_level).rjust(8) + ("  SHORT" if g.short else ""))
    click.echo("counters".ljust(24) + "".join(str(plan.counters_at(s)).rjust(6) for s in slots))
    click.echo(f"expected within target: plan {_pct(plan.level())} with {plan.counter_hours():.0f} counter-hours; "
               f"roster as it stands ({plan.roster_day or 'none'}) {_pct(plan.level(roster=True))} with "
               f"{plan.counter_hours(roster=True):.0f}")
    short = [g.group.key for g in plan.groups if g.short]
    if short:
        click.echo("short (every counter open, target still missed): " + ", ".join(short))
    if rv is not None:
        click.echo(f"what happened: {rv.arrived} citizens (forecast {rv.forecast_total:.0f}, "
                   f"error {_pct(rv.wape())} over the half hours), within target {_pct(rv.level())}")
    if csv_out is not None:
        try:
            csv_out.write_text(plan_csv(plan), encoding="utf-8")
        except OSError as err:
            raise click.ClickException(f"cannot write {csv_out}: {err.strerror}") from None
        click.echo(f"plan written to {csv_out}")


@click.command("simulate-history")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--days", default=30, show_default=True, type=int, help="How many days before today to simulate.")
@click.option("--citizens", default=450, show_default=True, type=int, help="Citizens on an ordinary Tuesday.")
@click.option("--seed", default=7, show_default=True, type=int, help="The same seed gives the same history.")
@click.option("--force", is_flag=True, help="Write simulated days into a centre that has real tickets.")
def simulate_history(directory: Path, days: int, citizens: int, seed: int, force: bool) -> None:
    """Fill a demo centre with a simulated month of history (known rates: weekdays, paydays, holidays).

    The days run through the real engine into the centre's own database, as if served,
    so the staffing advisor, the reports and "after the day" have something to read.
    Refused beside a running server, and on a centre with real tickets unless --force.

    Example: huduma-centre simulate-history demo-centre --days 30
    """
    from centre_server.staffing.simulate import HistoryError, simulate_history as run

    settings = _settings(directory)
    # a simulated rush makes the wait estimator warn of every capped estimate: true, and not news here
    logging.getLogger("centre_server.queue.estimate").setLevel(logging.ERROR)
    if citizens < 1 or citizens > 5000:
        raise click.ClickException("--citizens must be between 1 and 5000")
    began = time.perf_counter()
    try:
        r = run(settings, days, citizens=citizens, seed=seed, force=force)
    except HistoryError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"simulated {r['days']} days from {r['first']} to {r['last']} ({r['closed_days']} closed): "
               f"{r['issued']} tickets, {r['served']} served, in {time.perf_counter() - began:.0f} s")
    click.echo(f"tomorrow's plan: huduma-centre plan {directory} --date tomorrow")
