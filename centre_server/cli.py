"""``huduma-centre``: serve a centre (and, with later issues, close days, replay traces, back up).

Thin over library functions; a user's mistake is a one-line error, never a traceback.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from pathlib import Path

import click

from centre_server.config import ConfigError, load_settings

logger = logging.getLogger(__name__)

CONTEXT = {"help_option_names": ["-h", "--help"]}
centre_dir = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@click.group(context_settings=CONTEXT)
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
def cli(verbose: bool) -> None:
    """Run a Huduma Centre's queue server."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("amqtt", "transitions", "centre_server.mqtt_link.paho"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def choose_broker(host: str, port: int, settings: object | None = None) -> tuple[str, object | None]:
    """The embedded broker's URL, or the broker already on its port; never a crash on a taken port."""
    from centre_server.broker import EmbeddedBroker, port_is_taken, speaks_mqtt

    if port_is_taken(host, port):
        if speaks_mqtt(host, port):
            click.echo(f"port {port} already has an MQTT broker: using it instead of starting one")
            return f"mqtt://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}", None
        new_port = _free_port()
        click.echo(f"port {port} is taken by something that is not an MQTT broker: "
                   f"the embedded broker uses port {new_port} instead")
        port = new_port
    broker = EmbeddedBroker(host, port) if settings is None else EmbeddedBroker(  # locked down to the registry
        host, port, db_path=settings.db_path, centre_id=settings.centre_id,  # type: ignore[attr-defined]
        server_username=settings.mqtt.username, server_password=settings.mqtt.password,  # type: ignore[attr-defined]
        anonymous_read=settings.mqtt.anonymous_read)  # type: ignore[attr-defined]
    broker.start()
    return broker.url, broker


@cli.command()
@centre_dir
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP address (0.0.0.0 for the LAN).")
@click.option("--port", default=8000, show_default=True, type=int, help="HTTP port.")
@click.option("--mqtt", "mqtt_url", default=None, help="Use this broker, e.g. mqtt://127.0.0.1:1883.")
@click.option("--mqtt-port", default=None, type=int, help="The embedded broker's port (default from centre.toml).")
def serve(directory: Path, host: str, port: int, mqtt_url: str | None, mqtt_port: int | None) -> None:
    """Serve the centre: HTTP API and pages, MQTT state and events, the embedded broker if none is named.

    Example: huduma-centre serve /srv/huduma --host 0.0.0.0 --mqtt mqtt://127.0.0.1:1883
    """
    import uvicorn

    from centre_server.app import create_app
    from centre_server.broker import BrokerStartError

    try:
        settings = load_settings(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    url = mqtt_url or settings.mqtt.url
    broker = None
    if not url:
        try:
            if not settings.mqtt.username:  # a centre without a server broker user: a secret for this run
                import secrets
                settings.mqtt.username, settings.mqtt.password = "centre-server-run", secrets.token_urlsafe(18)
            url, broker = choose_broker(settings.mqtt.embedded_host, mqtt_port or settings.mqtt.embedded_port,
                                        settings)
        except BrokerStartError as err:
            raise click.ClickException(str(err)) from None
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if s.connect_ex(("127.0.0.1" if host == "0.0.0.0" else host, port)) == 0:
            if broker is not None:
                broker.stop()
            raise click.ClickException(f"HTTP port {port} is taken: choose another with --port")
    app = create_app(settings, url)
    web = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    click.echo(f"{settings.centre_name} ({settings.centre_id}) serving on {web}")
    click.echo(f"  API docs       {web}/docs")
    click.echo(f"  clerk terminal {web}/clerk    manager's board {web}/board    reports {web}/reports")
    click.echo(f"  MQTT broker    {url}{' (embedded)' if broker else ''}  topics huduma/{settings.centre_id}/#")
    creds = directory / "demo-credentials.json"
    if settings.demo and creds.is_file():
        data = json.loads(creds.read_text())
        click.echo("  demo staff     " + "   ".join(f"{u} / {c['password']}" for u, c in data["staff"].items()))
        click.echo(f"  demo devices   bundles in {directory / 'devices'}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if broker is not None:
            broker.stop()


from centre_server.replay_cli import export_trace, replay  # noqa: E402
cli.add_command(replay)
cli.add_command(export_trace)

from centre_server.dayclose_cli import close_day, simulate_day, sync_now, sync_status  # noqa: E402
for _cmd in (close_day, sync_status, sync_now, simulate_day):
    cli.add_command(_cmd)

from centre_server.backup_cli import backup_cmd, restore_cmd  # noqa: E402
cli.add_command(backup_cmd)
cli.add_command(restore_cmd)


def main() -> None:
    cli(prog_name="huduma-centre")


if __name__ == "__main__":
    sys.exit(main())
