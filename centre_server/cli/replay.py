"""``huduma-centre replay ARRIVALS.csv COUNTERS.csv --out RESULT.csv``.

Runs a trace through the real engine at simulated time and writes every
ticket's estimate, wait, counter and outcome. A manager's "what if we had opened
two more counters yesterday?" is yesterday's arrivals with two more rows in
COUNTERS.csv (see bench/README.md).
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import click

logger = logging.getLogger(__name__)


def _minutes(x: float) -> str:
    return f"{x / 60:.1f} min"


@click.command()
@click.argument("arrivals", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("counters", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="RESULT.csv: ticket,arrival_s,estimate_s,wait_s,counter_id,outcome")
@click.option("--centre", "centre_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Take services and queue rules from this centre (default: the built-in menu and rules).")
@click.option("--start", default=None,
              help="Local date or date-time of the trace's second 0 (default 2026-01-05, midnight).")
@click.option("--no-show-wait", "no_show_s", default=60.0, show_default=True, type=float,
              help="Seconds a counter waits for an absent citizen before marking the no-show.")
def replay(arrivals: Path, counters: Path, out: Path, centre_dir: Path | None, start: str | None,
           no_show_s: float) -> None:
    """Replay a day (or many) of arrivals through the real queue engine, without waiting.

    Example: huduma-centre replay arrivals.csv counters.csv --out result.csv
    """
    from centre_server.sim import replay as rp

    policy = None
    services = None
    if centre_dir is not None:
        from centre_server.config import ConfigError, load_settings
        from centre_server.runtime.centre import policy_from
        from centre_server.store import database as storage, rows

        try:
            settings = load_settings(centre_dir)
        except ConfigError as err:
            raise click.ClickException(str(err)) from None
        policy = policy_from(settings)
        db = storage.connect(settings.db_path)
        services = [rows.service_from_row(r) for r in db.query("SELECT * FROM services")]
        db.conn.close()
    try:
        trace = rp.read_arrivals(arrivals)
        shifts = rp.read_counters(counters)
        tz = policy.timezone if policy else "Africa/Nairobi"
        base = rp.start_epoch(start or rp.DEFAULT_START, tz)
        began = time.perf_counter()
        result = rp.replay(trace, shifts, services=services, policy=policy, start=base, no_show_s=no_show_s)
        took = time.perf_counter() - began
        rp.write_result(out, result.outcomes)
    except rp.ReplayError as err:
        raise click.ClickException(str(err)) from None
    except OSError as err:
        raise click.ClickException(f"cannot write {out}: {err.strerror}") from None
    served = [o for o in result.outcomes if o.outcome == "served"]
    tally: dict[str, int] = {}
    for o in result.outcomes:
        tally[o.outcome] = tally.get(o.outcome, 0) + 1
    click.echo(f"{len(result.outcomes)} tickets over {len(result.days)} day(s) replayed in {took:.2f} s "
               f"({result.events} engine events) -> {out}")
    click.echo("  " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    if served:
        waits = sorted(o.wait_s or 0.0 for o in served)
        p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))]
        click.echo(f"  wait of the served: mean {_minutes(statistics.fmean(waits))}, "
                   f"90th percentile {_minutes(p90)}, longest {_minutes(waits[-1])}")


@click.command("export-trace")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--date", "first", required=True, help="The (first) day: YYYY-MM-DD, 'today' or 'yesterday'.")
@click.option("--to", "last", default=None, help="The last day of a range (default: the same day).")
@click.option("--arrivals", "arrivals_out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--counters", "counters_out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_trace(directory: Path, first: str, last: str | None, arrivals_out: Path, counters_out: Path) -> None:
    """Write a centre's real day(s) as ARRIVALS.csv and COUNTERS.csv for ``replay``.

    Example (what if we had opened two more counters yesterday?):
    huduma-centre export-trace /srv/huduma --date yesterday --arrivals a.csv --counters c.csv
    """
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from centre_server.config import ConfigError, load_settings
    from centre_server.sim import replay as rp
    from centre_server.store import database as storage

    try:
        settings = load_settings(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    today = datetime.now(ZoneInfo(settings.timezone)).date()

    def day(text: str) -> str:
        if text == "today":
            return today.isoformat()
        if text == "yesterday":
            return (today - timedelta(days=1)).isoformat()
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise click.ClickException(f"{text!r} is not a date like 2026-03-02 (or today, yesterday)") from None

    a, b = day(first), day(last or first)
    if b < a:
        raise click.ClickException("--to is before --date")
    db = storage.connect(settings.db_path)
    try:
        arrivals, shifts = rp.export_trace(db, a, b, settings.timezone)
    finally:
        db.conn.close()
    try:
        rp.write_arrivals(arrivals_out, arrivals)
        rp.write_counters(counters_out, shifts)
    except OSError as err:
        raise click.ClickException(f"cannot write: {err.strerror}") from None
    click.echo(f"{len(arrivals)} tickets and {len(shifts)} counter shifts from {a}"
               f"{'' if a == b else ' to ' + b} -> {arrivals_out}, {counters_out}")
    click.echo(f"replay them: huduma-centre replay {arrivals_out} {counters_out} --out result.csv "
               f"--centre {directory} --start {a}")
