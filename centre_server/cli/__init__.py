"""``huduma-centre``: serve a centre (and, with later issues, close days, replay traces, back up).

Thin over library functions; a user's mistake is a one-line error, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from centre_server.config import CentreSettings, ConfigError, centre_label, load_settings

if TYPE_CHECKING:
    from centre_server.mqtt.broker import EmbeddedBroker

logger = logging.getLogger(__name__)

CONTEXT = {"help_option_names": ["-h", "--help"]}
centre_dir = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))

# Everything a centre writes (centre.db and its WAL, sms.log, backups, bundles) holds personal data or
# secrets: only the centre's own user may read it, whatever umask the shell or systemd gave us.
PRIVATE_UMASK = 0o077


def make_private(*roots: Path) -> int:
    """Take group and other permissions off everything under ``roots`` (dirs 0700, files 0600 or
    0700); returns how many were changed. Files made before the umask was set (by an older
    version, or by ``huduma-provision`` run with umask 022) are covered this way."""
    changed = 0

    def tighten(path: Path, is_dir: bool) -> None:
        nonlocal changed
        try:
            mode = path.lstat().st_mode & 0o7777
            want = 0o700 if is_dir else mode & 0o700
            if mode != want:
                os.chmod(path, want)
                changed += 1
        except OSError as err:
            logger.warning("cannot make %s private: %s", path, err)

    for root in roots:
        if not root.exists() or root.is_symlink():
            continue
        if root.is_file():
            tighten(root, False)
            continue
        tighten(root, True)
        for here, dirs, files in os.walk(root):
            for name in dirs:
                if not os.path.islink(os.path.join(here, name)):
                    tighten(Path(here, name), True)
            for name in files:
                if not os.path.islink(os.path.join(here, name)):
                    tighten(Path(here, name), False)
    return changed


def sms_log_refusal(settings: CentreSettings) -> str | None:
    """Why a production centre may not start with the ``log`` SMS gateway, or None.

    The log gateway writes every message, phone number and all, to sms.log and never
    forgets it: fine for a demo, not for a real centre unless someone chose it on purpose.
    """
    if settings.demo:
        return None
    try:
        from centre_server.channels.settings import ChannelConfigError, load_channel_settings
    except ModuleNotFoundError:
        return None
    directory = settings.directory
    try:
        channels = load_channel_settings(directory)
        raw = tomllib.loads((directory / "centre.toml").read_text()).get("channels", {})
    except (ChannelConfigError, OSError, tomllib.TOMLDecodeError):
        return None  # the channels report their own configuration errors
    named = "sms_gateway" in raw or "HUDUMA_CHANNELS__SMS_GATEWAY" in os.environ
    if channels.sms_gateway == "log" and not named:
        return (f"{directory / 'centre.toml'}: no SMS gateway is named, and the demo's \"log\" gateway would keep "
                "every citizen's phone number in sms.log for ever. Add a [channels] section with "
                "sms_gateway = \"africastalking\" (and at_username, at_api_key), or sms_gateway = \"none\" "
                "to send no SMS; sms_gateway = \"log\" only if that file is what you want")
    return None


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
    os.umask(PRIVATE_UMASK)  # every file a command here creates is the centre user's alone
    # httpx logs every request at INFO: the inbox poll and live feed would fill a day's log with
    # lines that say nothing; the upstream threads log their own changes of state
    for noisy in ("amqtt", "transitions", "centre_server.mqtt.link.paho", "httpx"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose and noisy == "httpx" else logging.WARNING)


def choose_broker(host: str, port: int, settings: CentreSettings | None = None) -> tuple[str, EmbeddedBroker]:
    """Start the centre's own embedded broker, locked to its registry; never attach to a stranger's.

    A taken port is never silently "used": whatever listens there (Debian's own mosquitto
    starts one on 1883) has none of the centre's access rules. A production centre stops
    with an error naming the port and the fix; a demo centre moves its broker to a free
    port, says so, and points its device bundles there.
    """
    from centre_server.mqtt.broker import EmbeddedBroker, port_is_taken, speaks_mqtt

    demo = settings.demo if settings is not None else True
    if port_is_taken(host, port):
        what = "an MQTT broker that is not this centre's" if speaks_mqtt(host, port) else "another program"
        if not demo:
            raise click.ClickException(
                f"the embedded broker's port {port} on {host} is taken by {what}. This centre starts its own "
                f"locked-down broker ([mqtt] url is empty) and will not use a broker without its access rules. "
                f"Stop that program (e.g. `systemctl disable --now mosquitto`), or set [mqtt] embedded_port "
                f"to a free port in centre.toml (then re-issue device bundles), or, if that broker is yours and "
                f"configured with `huduma-provision broker-config`, name it: [mqtt] url = \"mqtt://host:{port}\".")
        new_port = _free_port()
        click.echo(f"port {port} is taken by {what}: this demo centre's embedded broker uses port {new_port} instead")
        port = new_port
        if settings is not None:
            moved = point_devices_at(settings, port)
            if moved:
                click.echo(f"  device bundles now point at port {port}: {moved} updated in "
                           f"{settings.directory / 'devices'}")
    broker = EmbeddedBroker(host, port) if settings is None else EmbeddedBroker(  # locked down to the registry
        host, port, db_path=settings.db_path, centre_id=settings.centre_id,
        server_username=settings.mqtt.username, server_password=settings.mqtt.password,
        anonymous_read=settings.mqtt.anonymous_read,
        max_packet_bytes=settings.mqtt.max_packet_bytes)
    broker.start()
    return broker.url, broker


def check_public_url(settings: CentreSettings, host: str, port: int) -> None:
    """Ticket QR codes, SMS links and device bundles carry ``public_url``: it must reach this server.

    A demo served on another port follows it (centre.toml and the bundles are rewritten, and
    it says so); a real centre is only warned, as a proxy in front may well use another port.
    """
    from urllib.parse import urlsplit

    public = urlsplit(settings.public_url)
    loopback = public.hostname in ("127.0.0.1", "localhost", "::1")
    if not loopback or (public.port or 80) == port:
        return
    if not settings.demo:
        click.echo(f"warning: public_url {settings.public_url} (printed in ticket QR codes and SMS links) "
                   f"does not name port {port} this server listens on")
        return
    new = f"http://127.0.0.1:{port}"
    settings.public_url = new
    moved = _move_devices(settings, r'^public_url = "[^"]*"', f'public_url = "{new}"',
                          "server_url", lambda url: new)
    click.echo(f"this demo centre now serves on port {port}: public_url and {moved} device bundle(s) point there")


def point_devices_at(settings: CentreSettings, port: int) -> int:
    """Remember the embedded broker's new port in centre.toml and in every device bundle; how many bundles."""
    import re

    settings.mqtt.embedded_port = port
    return _move_devices(settings, r"^embedded_port = \d+", f"embedded_port = {port}", "mqtt_url",
                         lambda url: re.sub(r":\d+$", f":{port}", url) if re.match(r"^mqtts?://[^/]+:\d+$", url)
                         else None)


def _move_devices(settings: CentreSettings, config_line: str, replacement: str, key: str,
                  new_url: Callable[[str], str | None]) -> int:
    """Rewrite one line of centre.toml and one address of every device bundle; how many bundles changed."""
    import re

    config = settings.directory / "centre.toml"
    config.write_text(re.sub("(?m)" + config_line, replacement, config.read_text(), count=1))
    moved = 0
    for path in sorted((settings.directory / "devices").glob("*.json")):
        try:
            bundle = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        url = bundle.get(key)
        changed = new_url(url) if isinstance(url, str) else None
        if changed is not None:
            bundle[key] = changed
            path.write_text(json.dumps(bundle, indent=2) + "\n")
            moved += 1
    return moved


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

    from centre_server.http.app import create_app, uvicorn_options
    from centre_server.mqtt.broker import BrokerStartError

    try:
        settings = load_settings(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    os.umask(PRIVATE_UMASK)
    private = [directory] + ([Path(settings.backup.directory)] if settings.backup.directory else [])
    try:
        from centre_server.channels.settings import load_channel_settings

        sms_log = Path(load_channel_settings(directory).sms_log)
        private.append(sms_log if sms_log.is_absolute() else directory / sms_log)
    except Exception:  # no channels, or a [channels] error the channels report themselves
        pass
    changed = make_private(*private)
    if changed:
        click.echo(f"made {changed} file(s) and folder(s) of the centre readable by its own user only")
    check_public_url(settings, host, port)
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
    refusal = sms_log_refusal(settings)  # after the ports: a taken port is the first thing to fix
    if refusal:
        if broker is not None:
            broker.stop()
        raise click.ClickException(refusal)
    try:
        app = create_app(settings, url)
    except ConfigError as err:  # a part's settings (payments, alerts) said no: the key to fix, never a traceback
        if broker is not None:
            broker.stop()
        raise click.ClickException(str(err)) from None
    web = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    click.echo(f"{centre_label(settings.centre_name, settings.centre_id)} serving on {web}")
    click.echo(f"  API docs       {web}/docs")
    click.echo(f"  clerk terminal {web}/clerk    manager's board {web}/board    reports {web}/reports")
    click.echo(f"  MQTT broker    {url}{' (embedded)' if broker else ''}  topics huduma/{settings.centre_id}/#")
    creds = directory / "demo-credentials.json"
    if settings.demo and creds.is_file():
        data = json.loads(creds.read_text())
        click.echo("  demo staff     " + "   ".join(f"{u} / {c['password']}" for u, c in data["staff"].items()))
        click.echo(f"  demo devices   bundles in {directory / 'devices'}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    **uvicorn_options(settings))
    finally:
        if broker is not None:
            broker.stop()


from centre_server.cli.replay import export_trace, replay  # noqa: E402

cli.add_command(replay)
cli.add_command(export_trace)

from centre_server.cli.dayclose import close_day, simulate_day, sync_now, sync_status  # noqa: E402

for _cmd in (close_day, sync_status, sync_now, simulate_day):
    cli.add_command(_cmd)

from centre_server.cli.backup import backup_cmd, restore_cmd  # noqa: E402

cli.add_command(backup_cmd)
cli.add_command(restore_cmd)

from centre_server.cli.catalogue import catalogue_cmd  # noqa: E402

cli.add_command(catalogue_cmd)

from centre_server.cli.staffing import plan_cmd, simulate_history  # noqa: E402

cli.add_command(plan_cmd)
cli.add_command(simulate_history)


def main() -> None:
    cli(prog_name="huduma-centre")


if __name__ == "__main__":
    main()
