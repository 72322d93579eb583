"""``huduma-centre backup`` and ``restore``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from centre_server.store import backup as backups

logger = logging.getLogger(__name__)


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def backup_cmd(directory: Path, out: Path) -> None:
    """Back up a centre into a new folder, safely while it serves (SQLite online backup).

    Example: huduma-centre backup /srv/huduma /backup/huduma-$(date +%F)
    """
    try:
        m = backups.backup(directory, out)
    except backups.BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"backed up {m['tickets']} tickets (events to #{m['last_event_seq']}) to {out} in {m['seconds']} s")


@click.command("restore")
@click.argument("backup_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a centre already in DIRECTORY.")
def restore_cmd(backup_dir: Path, directory: Path, force: bool) -> None:
    """Restore a centre from a backup folder into DIRECTORY (stop the server first).

    Example: huduma-centre restore /backup/huduma-2026-11-21 /srv/huduma --force
    """
    try:
        m = backups.restore(backup_dir, directory, force=force)
    except backups.BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"restored the backup of {m['taken_at']} ({m['tickets']} tickets) into {directory}")
