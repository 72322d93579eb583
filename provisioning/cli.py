"""``huduma-provision``: the technician's tool. Each command is thin over provisioning.core."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from centre_server.config import ConfigError
from provisioning import core

logger = logging.getLogger(__name__)

CONTEXT = {"help_option_names": ["-h", "--help"]}
centre_dir = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (core.ProvisionError, ConfigError) as err:
        raise click.ClickException(str(err)) from None


@click.group(context_settings=CONTEXT)
def cli() -> None:
    """Set up a Huduma Centre: its directory, devices and staff."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@centre_dir
@click.option("--demo", is_flag=True, help="Add demo kiosks, a display, a bridge and staff with printed credentials.")
@click.option("--centre-id", default="demo", show_default=True, help="Short id used in MQTT topics.")
@click.option("--name", "centre_name", default=None, help="The centre's name, printed on tickets.")
@click.option("--mqtt", "mqtt_url", default="", help="Broker URL, e.g. mqtt://127.0.0.1:1883 (empty: embedded).")
@click.option("--public-url", default="http://127.0.0.1:8000", show_default=True,
              help="The server's address on the centre's LAN (ticket QR codes point here).")
@click.option("--force", is_flag=True, help="Start the centre again, deleting its database.")
def init(directory: Path, demo: bool, centre_id: str, centre_name: str | None, mqtt_url: str,
         public_url: str, force: bool) -> None:
    """Create a centre directory with the built-in menu (39 services) and 30 counters.

    Example: huduma-provision init /srv/huduma --centre-id nairobi-gpo --name "Huduma Centre GPO"
    """
    result = _run(core.init_centre, directory, demo=demo, centre_id=centre_id, centre_name=centre_name,
                  mqtt_url=mqtt_url, public_url=public_url, force=force)
    click.echo(f"created {result['centre_name']} ({result['centre_id']}) in {directory}: "
               f"{result['services']} services, {result['counters']} counters")
    if demo:
        click.echo(f"demo credentials (also in {directory}/demo-credentials.json):")
        for user, c in result["credentials"]["staff"].items():
            click.echo(f"  staff {user:8} role {c['role']:8} password {c['password']}")
        for dev, c in result["credentials"]["devices"].items():
            click.echo(f"  device {dev:10} bundle {c['bundle']}")


@cli.command("add-device")
@centre_dir
@click.option("--kind", type=click.Choice(core.DEVICE_KINDS), required=True)
@click.option("--id", "device_id", required=True, help="Device id, e.g. kiosk-3.")
@click.option("--counters", default="", help="Bridges: the counters it serves, e.g. c01,c02.")
@click.option("--note", default="", help="Where the device stands.")
def add_device(directory: Path, kind: str, device_id: str, counters: str, note: str) -> None:
    """Enrol a device and print its JSON bundle (token included; shown once).

    Example: huduma-provision add-device /srv/huduma --kind kiosk --id kiosk-3
    """
    bundle = _run(core.add_device, directory, kind, device_id,
                  counters=[c.strip() for c in counters.split(",") if c.strip()], note=note)
    click.echo(json.dumps(bundle, indent=2))


@cli.command("add-staff")
@centre_dir
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["clerk", "manager", "admin"]), required=True)
@click.option("--full-name", default="")
def add_staff(directory: Path, username: str, role: str, full_name: str) -> None:
    """Add a member of staff and print a generated password (shown once).

    Example: huduma-provision add-staff /srv/huduma --username wanjiku --role clerk
    """
    result = _run(core.add_staff, directory, username, role, full_name=full_name)
    click.echo(json.dumps(result))


def main() -> None:
    cli(prog_name="huduma-provision")


if __name__ == "__main__":
    sys.exit(main())
