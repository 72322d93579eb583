"""``huduma-provision``: the technician's tool. Each command is thin over the provisioning modules."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from centre_server.config import ConfigError, centre_label
from provisioning import broker, centre, counters, devices, services, staff
from provisioning.directory import RESTART_NOTE, ProvisionError

logger = logging.getLogger(__name__)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
centre_dir = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
as_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
reload_pid = click.option("--reload-pid", type=int, default=None,
                          help="Mosquitto's pid to send SIGHUP (default: the pid file broker-config set up).")


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (ProvisionError, ConfigError) as err:
        raise click.ClickException(str(err)) from None
    except OSError as err:
        raise click.ClickException(f"{err.strerror or err}: {err.filename or ''}".rstrip(": ")) from None


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _broker_note(result: dict[str, Any]) -> None:
    if result.get("broker"):
        click.echo(f"broker: {result['broker']}", err=True)


@click.group(context_settings=CONTEXT)
def cli() -> None:
    """Set up a Huduma Centre: its directory, menu, counters, devices, staff and broker security.

    A demonstration that shows a breach SMS within minutes (what make run makes):
    huduma-provision init demo-centre --demo --demo-hq --short-targets

    Example: huduma-provision init /srv/huduma --centre-id nairobi-gpo --name "Huduma Centre GPO"
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------------
# The centre
# --------------------------------------------------------------------------


@cli.command()
@centre_dir
@click.option("--demo", is_flag=True, help="Add demo kiosks, a display, a bridge and staff with printed credentials.")
@click.option("--centre-id", default="demo", show_default=True, help="Short id used in MQTT topics.")
@click.option("--name", "centre_name", default=None, help="The centre's name, printed on tickets.")
@click.option("--mqtt", "mqtt_url", default="", help="Broker URL, e.g. mqtt://127.0.0.1:1883 (empty: embedded).")
@click.option("--public-url", default="http://127.0.0.1:8000", show_default=True,
              help="The server's address on the centre's LAN (ticket QR codes and device bundles point here).")
@click.option("--force", is_flag=True, help="Start the centre again, deleting its database.")
@click.option("--county", default="", help="The county it stands in, for HQ's public wait page (e.g. Nakuru).")
@click.option("--town", default="", help="Its town, e.g. Naivasha.")
@click.option("--location", default="", metavar="LAT,LON", help="Its position in degrees, e.g. -0.2833,36.0667.")
@click.option("--short-targets", is_flag=True,
              help="With --demo: every target wait 2 minutes and a breach SMS 30 s over it, so a demonstration "
                   "shows the board's red row and the managers' SMS within minutes (make run).")
@click.option("--mqtt-port", default=1883, show_default=True, type=click.IntRange(1, 65535),
              help="The embedded broker's port (a second centre on one machine needs another).")
@click.option("--demo-hq", is_flag=True,
              help="With --demo: report to huduma-hq --demo on this machine (http://127.0.0.1:8100, the public "
                   "demo token). Without it a demo centre reports to no headquarters (tests, benches).")
def init(directory: Path, demo: bool, centre_id: str, centre_name: str | None, mqtt_url: str,
         public_url: str, force: bool, county: str, town: str, location: str, short_targets: bool,
         mqtt_port: int, demo_hq: bool) -> None:
    """Create a centre directory with the built-in menu (39 services) and 30 counters.

    Also creates the server's own broker user (written to centre.toml [mqtt]).

    A second demo centre beside the first (its own id, name, place, ports):
    huduma-provision init demo-centre-2 --demo --demo-hq --centre-id demo-thika --name "Huduma Centre Thika (demo)"
    --county Kiambu --town Thika --location=-1.0333,37.0693 --public-url http://127.0.0.1:8001 --mqtt-port 1884

    Example: huduma-provision init /srv/huduma --centre-id nairobi-gpo --name "Huduma Centre GPO"
    """
    result = _run(centre.init_centre, directory, demo=demo, centre_id=centre_id, centre_name=centre_name,
                  mqtt_url=mqtt_url, public_url=public_url, force=force, county=county, town=town,
                  location=location, mqtt_port=mqtt_port, short_targets=short_targets, demo_hq=demo_hq)
    click.echo(f"created {centre_label(result['centre_name'], result['centre_id'])} in {directory}: "
               f"{result['services']} services, {result['counters']} counters")
    if demo:
        click.echo(f"demo credentials (also in {directory}/demo-credentials.json):")
        for user, c in result["credentials"]["staff"].items():
            click.echo(f"  staff {user:8} role {c['role']:8} password {c['password']}")
        for dev, c in result["credentials"]["devices"].items():
            click.echo(f"  device {dev:10} bundle {c['bundle']}")


@cli.command()
@centre_dir
@as_json
def show(directory: Path, as_json: bool) -> None:
    """Show the centre: addresses, menu, counters, devices, staff and the latest changes.

    Example: huduma-provision show /srv/huduma
    """
    info = _run(centre.show_centre, directory)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['centre_name']} ({info['centre_id']})  {info['directory']}")
    click.echo(f"  public URL      {info['public_url']}   timezone {info['timezone']}"
               f"{'   DEMO' if info['demo'] else ''}")
    click.echo(f"  MQTT (server)   {info['mqtt_url_server']} as {info['mqtt_username'] or '(no user)'}")
    click.echo(f"  MQTT (devices)  {info['mqtt_url_devices']}")
    click.echo(f"  Mosquitto files {info['broker_config_dir'] or '(none: run broker-config)'}")
    click.echo(f"  services        {info['services_enabled']} offered of {info['services']}")
    click.echo(f"  counters        {info['counters']}")
    click.echo("  devices         " + ", ".join(f"{n} {k}" for k, n in info["devices"].items())
               + f" ({info['devices_revoked']} revoked)")
    click.echo("  staff           " + ", ".join(f"{n} {r}" for r, n in info["staff"].items())
               + f" ({info['staff_disabled']} disabled)")
    click.echo("latest changes:")
    for e in info["recent_changes"]:
        click.echo(f"  {e['at']}  {e['actor']:20} {e['action']:16} {json.dumps(e['detail'])}")


@cli.command()
@centre_dir
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--action", default=None, help="Only this action, e.g. revoke-device.")
@as_json
def audit(directory: Path, limit: int, action: str | None, as_json: bool) -> None:
    """Show the audit log, newest first: every provisioning, device and staff change, and who made it.

    Example: huduma-provision audit /srv/huduma --action revoke-device
    """
    rows = _run(centre.audit_log, directory, limit, action)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for e in rows:
        click.echo(f"{e['at']}  {e['actor']:20} {e['action']:16} {json.dumps(e['detail'])}")
    if not rows:
        click.echo("(no entries)")


# --------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------


@cli.group("services", context_settings=CONTEXT)
def services_group() -> None:
    """The service menu: list, enable/disable, edit targets, export and import as CSV.

    Changes are read by the centre server when it starts: restart it afterwards.

    Example: huduma-provision services list /srv/huduma
    """


@services_group.command("list")
@centre_dir
@as_json
def services_list(directory: Path, as_json: bool) -> None:
    """List the services with their prefix, target wait and whether kiosks offer them.

    Example: huduma-provision services list /srv/huduma --json
    """
    rows = _run(services.list_services, directory)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, ["id", "prefix", "enabled", "target_wait_min", "service_time_min", "name_en", "name_sw"])


@services_group.command("enable")
@centre_dir
@click.argument("service_ids", nargs=-1, required=True)
def services_enable(directory: Path, service_ids: tuple[str, ...]) -> None:
    """Offer services at the kiosks again.

    Example: huduma-provision services enable /srv/huduma passport work-permit
    """
    done = _run(services.set_services_enabled, directory, list(service_ids), True)
    click.echo(f"enabled {', '.join(done)}")
    click.echo(RESTART_NOTE, err=True)


@services_group.command("disable")
@centre_dir
@click.argument("service_ids", nargs=-1, required=True)
def services_disable(directory: Path, service_ids: tuple[str, ...]) -> None:
    """Stop offering services at the kiosks (tickets already issued are still served).

    Example: huduma-provision services disable /srv/huduma passport
    """
    done = _run(services.set_services_enabled, directory, list(service_ids), False)
    click.echo(f"disabled {', '.join(done)}")
    click.echo(RESTART_NOTE, err=True)


@services_group.command("edit")
@centre_dir
@click.argument("service_id")
@click.option("--target-min", type=float, default=None, help="Target wait in minutes (the service level).")
@click.option("--service-min", type=float, default=None, help="Typical service time in minutes.")
@click.option("--name-en", default=None, help="Name in English.")
@click.option("--name-sw", default=None, help="Name in Kiswahili.")
@click.option("--prefix", default=None, help="Ticket prefix: one or two letters.")
def services_edit(directory: Path, service_id: str, target_min: float | None, service_min: float | None,
                  name_en: str | None, name_sw: str | None, prefix: str | None) -> None:
    """Change a service's target wait, typical service time, names or ticket prefix.

    Example: huduma-provision services edit /srv/huduma good-conduct --target-min 20
    """
    result = _run(services.edit_service, directory, service_id, target_wait_min=target_min,
                  service_time_min=service_min, name_en=name_en, name_sw=name_sw, prefix=prefix)
    click.echo(json.dumps(result))
    click.echo(RESTART_NOTE, err=True)


@services_group.command("export")
@centre_dir
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: print).")
def services_export(directory: Path, out: Path | None) -> None:
    """Export the menu as CSV, to edit in a spreadsheet and import again.

    Example: huduma-provision services export /srv/huduma --out menu.csv
    """
    text = _run(services.export_menu, directory)
    if out is None:
        click.echo(text, nl=False)
    else:
        _run(out.write_text, text, encoding="utf-8")
        click.echo(f"wrote {text.count(chr(10)) - 1} services to {out}")


@services_group.command("import")
@centre_dir
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def services_import(directory: Path, csv_file: Path) -> None:
    """Import the menu from CSV: adds and updates services; those left out are disabled, never deleted.

    Example: huduma-provision services import /srv/huduma menu.csv
    """
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f"{csv_file} is not UTF-8 text: save it as 'CSV UTF-8'") from None
    result = _run(services.import_menu, directory, text)
    click.echo(f"added {len(result['added'])}, updated {result['updated']}, disabled {len(result['disabled'])}"
               + (f" ({', '.join(result['disabled'])})" if result["disabled"] else ""))
    click.echo(RESTART_NOTE, err=True)


# --------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------


@cli.group("counters", context_settings=CONTEXT)
def counters_group() -> None:
    """The counters: list, add, remove, assign services.

    Changes are read by the centre server when it starts: restart it afterwards.

    Example: huduma-provision counters assign /srv/huduma c07 --services birth-cert,death-cert
    """


@counters_group.command("list")
@centre_dir
@as_json
def counters_list(directory: Path, as_json: bool) -> None:
    """List the counters, their services (in order of skill) and the bridges that drive them.

    Example: huduma-provision counters list /srv/huduma
    """
    rows = _run(counters.list_counters, directory)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, ["id", "name", "state", "bridges", "services"])


@counters_group.command("add")
@centre_dir
@click.argument("counter_id")
@click.option("--name", default=None, help="The number shown to citizens, e.g. 31 (default from the id).")
@click.option("--services", default="", help="Services it serves, in order of skill, e.g. kra-pin,kra-returns.")
def counters_add(directory: Path, counter_id: str, name: str | None, services: str) -> None:
    """Add a counter.

    Example: huduma-provision counters add /srv/huduma c31 --name 31 --services kra-pin,kra-returns
    """
    result = _run(counters.add_counter, directory, counter_id, name=name, services=services)
    click.echo(json.dumps(result))
    click.echo(RESTART_NOTE, err=True)


@counters_group.command("remove")
@centre_dir
@click.argument("counter_id")
def counters_remove(directory: Path, counter_id: str) -> None:
    """Remove a closed counter that no bridge drives.

    Example: huduma-provision counters remove /srv/huduma c31
    """
    _run(counters.remove_counter, directory, counter_id)
    click.echo(f"removed {counter_id}")
    click.echo(RESTART_NOTE, err=True)


@counters_group.command("assign")
@centre_dir
@click.argument("counter_id")
@click.option("--services", required=True, help="Services in order of skill, e.g. birth-cert,death-cert.")
@click.option("--name", default=None, help="Also rename the counter.")
def counters_assign(directory: Path, counter_id: str, services: str, name: str | None) -> None:
    """Set the services a counter serves, in order of skill.

    Example: huduma-provision counters assign /srv/huduma c07 --services birth-cert,death-cert
    """
    result = _run(counters.assign_services, directory, counter_id, services, name)
    click.echo(json.dumps(result))
    click.echo(RESTART_NOTE, err=True)


# --------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------


@cli.command("add-device")
@centre_dir
@click.option("--kind", type=click.Choice(devices.DEVICE_KINDS), required=True)
@click.option("--id", "device_id", required=True, help="Device id, e.g. kiosk-3.")
@click.option("--counters", default="", help="Bridges: the counters it drives, e.g. c01,c02.")
@click.option("--note", default="", help="Where the device stands.")
@reload_pid
def add_device(directory: Path, kind: str, device_id: str, counters: str, note: str,
               reload_pid: int | None) -> None:
    """Enrol a device and print its JSON bundle (token included; also written as DIR/devices/ID.json and .png).

    Example: huduma-provision add-device /srv/huduma --kind bridge --id bridge-2 --counters c04,c05
    """
    bundle = _run(devices.add_device, directory, kind, device_id,
                  counters=[c.strip() for c in counters.split(",") if c.strip()], note=note, reload_pid=reload_pid)
    click.echo(json.dumps(bundle, indent=2))
    if kind == "kiosk":  # the technician needs it for the reprint screen: shown here, kept in the bundle
        click.echo(f"{device_id}: staff PIN {bundle['kiosk']['staff_pin']} (random, in the bundle as kiosk.staff_pin; "
                   "add a 'printer' section before starting the kiosk)", err=True)


@cli.command("list-devices")
@centre_dir
@click.option("--active", is_flag=True, help="Leave out revoked devices.")
@as_json
def list_devices(directory: Path, active: bool, as_json: bool) -> None:
    """List every broker user: kiosks, displays, bridges (with their counters) and the server itself.

    Example: huduma-provision list-devices /srv/huduma --active
    """
    rows = _run(devices.list_devices, directory, include_revoked=not active)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, ["id", "kind", "state", "counters", "created_at", "note"])


@cli.command("revoke-device")
@centre_dir
@click.argument("device_id")
@click.option("--reason", default="", help="Why, for the audit log (stolen, replaced, ...).")
@reload_pid
def revoke_device(directory: Path, device_id: str, reason: str, reload_pid: int | None) -> None:
    """Revoke a device: its API token is refused at once, its broker login as soon as Mosquitto reloads.

    Rewrites the Mosquitto files broker-config set up and signals Mosquitto; the embedded broker
    re-reads the registry by itself within a second.

    Example: huduma-provision revoke-device /srv/huduma kiosk-2 --reason "stolen"
    """
    result = _run(devices.revoke_device, directory, device_id, reason=reason, reload_pid=reload_pid)
    click.echo(f"revoked {device_id}")
    _broker_note(result)


@cli.command("rotate-device")
@centre_dir
@click.argument("device_id")
@click.option("--counters", default=None, help="Bridges: change the counters it drives, e.g. c01,c02.")
@click.option("--reinstate", is_flag=True, help="Enrol a revoked device again.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the new bundle (JSON and QR PNG) into this folder, e.g. a USB stick.")
@reload_pid
def rotate_device(directory: Path, device_id: str, counters: str | None, reinstate: bool, out: Path | None,
                  reload_pid: int | None) -> None:
    """Give a device new credentials (the old ones stop working) and print its new bundle.

    Rotating `centre-server` changes the server's own broker password in centre.toml.

    Example: huduma-provision rotate-device /srv/huduma bridge-1 --counters c01,c02,c03,c04
    """
    result = _run(devices.rotate_device, directory, device_id, counters=counters, reinstate=reinstate, out=out,
                  reload_pid=reload_pid)
    broker = result.pop("broker", "")
    click.echo(json.dumps(result, indent=2))
    _broker_note({"broker": broker})


@cli.command()
@centre_dir
@click.argument("device_id")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for ID.json and ID.png (default: DIR/devices).")
@click.option("--rotate", is_flag=True, help="Always issue new credentials.")
@reload_pid
def bundle(directory: Path, device_id: str, out: Path | None, rotate: bool, reload_pid: int | None) -> None:
    """Write a device's bundle as JSON and as a QR code PNG it can scan; a device starts from it alone.

    Tokens are stored hashed, so the bundle is rebuilt from the copy written at enrolment while that
    is still valid; when it is missing (or with --rotate) the device gets NEW credentials and the old
    ones stop working.

    Example: huduma-provision bundle /srv/huduma kiosk-1 --out /media/usb
    """
    result = _run(devices.device_bundle, directory, device_id, out=out, rotate=rotate, reload_pid=reload_pid)
    files = result["files"]
    click.echo(f"wrote {files['json']} and {files['png']}"
               + (" (new credentials: the old ones no longer work)" if result["rotated"] else ""))
    _broker_note(result)


# --------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------


@cli.command("add-staff")
@centre_dir
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(list(staff.STAFF_ROLE_NAMES)), required=True)
@click.option("--full-name", default="")
def add_staff(directory: Path, username: str, role: str, full_name: str) -> None:
    """Add a member of staff and print a generated password (shown once).

    Example: huduma-provision add-staff /srv/huduma --username wanjiku --role clerk
    """
    result = _run(staff.add_staff, directory, username, role, full_name=full_name)
    click.echo(json.dumps(result))


@cli.command("list-staff")
@centre_dir
@as_json
def list_staff(directory: Path, as_json: bool) -> None:
    """List the staff, their roles and whether they are disabled or locked out.

    Example: huduma-provision list-staff /srv/huduma
    """
    rows = _run(staff.list_staff, directory)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, ["username", "role", "disabled", "locked", "full_name"])


@cli.command("reset-password")
@centre_dir
@click.argument("username")
def reset_password(directory: Path, username: str) -> None:
    """Give a member of staff a new password (printed once); ends their sessions and lifts a lock-out.

    Example: huduma-provision reset-password /srv/huduma wanjiku
    """
    result = _run(staff.reset_password, directory, username)
    click.echo(json.dumps(result))


@cli.command("disable-staff")
@centre_dir
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def disable_staff(directory: Path, username: str, enable: bool) -> None:
    """Disable a member of staff: they cannot log in and their open sessions end at once.

    Example: huduma-provision disable-staff /srv/huduma wanjiku
    """
    result = _run(staff.set_staff_disabled, directory, username, not enable)
    click.echo(f"{'disabled' if result['disabled'] else 'enabled'} {username} ({result['role']})")


# --------------------------------------------------------------------------
# Broker
# --------------------------------------------------------------------------


@cli.command("broker-config")
@centre_dir
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for mosquitto.conf, passwd, acl and the systemd drop-in.")
@click.option("--port", default=1883, show_default=True, type=int)
@click.option("--bind", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--user", default=None, help="System user Mosquitto runs as (default: you).")
@reload_pid
def broker_config(directory: Path, out: Path, port: int, bind: str, user: str | None,
                  reload_pid: int | None) -> None:
    """Write a locked-down Mosquitto setup: config, password file ($7$ hashes) and ACL by role.

    The folder is remembered: add-device, revoke-device and rotate-device rewrite its files and
    send Mosquitto SIGHUP (its pid file, --reload-pid, or run `systemctl reload mosquitto`).

    Example: huduma-provision broker-config /srv/huduma --out /srv/huduma/mosquitto
    """
    files = _run(broker.broker_config, directory, out, port=port, bind=bind, user=user, reload_pid=reload_pid)
    click.echo(f"wrote {files.conf}, {files.password_file} ({files.users} users), {files.acl_file}")
    click.echo(f"systemd: copy {files.systemd_dropin} to /etc/systemd/system/mosquitto.service.d/ "
               "then systemctl daemon-reload && systemctl restart mosquitto")
    click.echo(f"or run:  mosquitto -c {files.conf}")
    if files.reloaded:
        click.echo(f"broker: {files.reloaded}", err=True)
    for note in files.notes:
        click.echo(f"note: {note}", err=True)


def main() -> None:
    cli(prog_name="huduma-provision")


if __name__ == "__main__":
    main()
