"""``huduma-bridge``: run the bridge, run the device simulator, or print a frame.

Thin over the library: parsing and start-up only; every error a user can cause
becomes a one-line ``click`` message, never a traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from firmware_bridge import config as bridge_config, frames
from firmware_bridge.bridge import Bridge
from firmware_bridge.simulate import Simulator, SimulatorError, parse_devices, run_interactive

logger = logging.getLogger(__name__)

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        logging.getLogger("firmware_bridge.bridge.mqtt").setLevel(logging.WARNING)


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Bridge config: the bridge's bundle JSON plus \"ports\".")
@click.option("--demo", is_flag=True, help="Use demo-centre/devices/bridge-1.json and the simulator's pty.")
@click.option("--demo-dir", type=click.Path(file_okay=False, path_type=Path), default=bridge_config.DEMO_DIR,
              show_default=True, help="Where `make run` keeps the demo centre.")
@click.option("--port", "port_url", help="With --demo: the serial URL to open instead of the simulator's link.")
@click.option("--exit-after-ports-down", type=float, default=None, metavar="SECONDS",
              help="Exit with status 3 when every port has been down this long (for systemd "
                   "Restart=on-failure). Default: keep retrying for ever.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv includes MQTT).")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, demo: bool, demo_dir: Path, port_url: str | None,
         exit_after_ports_down: float | None, verbose: int, quiet: bool) -> None:
    """Bridge counter keypads, LED number boards and feedback buttons to the centre.

    Example: huduma-bridge --config /etc/huduma/bridge.json
    """
    _logging(verbose, quiet)
    if ctx.invoked_subcommand is not None:
        return
    if bool(config_path) == demo:
        raise click.UsageError("give either --config FILE or --demo (see huduma-bridge -h)")
    try:
        cfg = (bridge_config.load_demo(demo_dir, port_url) if demo
               else bridge_config.load(config_path))  # type: ignore[arg-type]  # one of the two, checked above
    except bridge_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    bridge = Bridge(cfg, exit_after_down_s=exit_after_ports_down)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: bridge.request_stop(0))
    for port in cfg.ports:
        click.echo(f"port {port.url}: " + ", ".join(f"{d.kind} {d.address} -> {d.counter_id}" for d in port.devices))
    if demo and not port_url and not (demo_dir / bridge_config.DEMO_SIM_LINK).exists():
        click.echo("waiting for the simulator: run `huduma-bridge simulate` in another terminal\n"
                   "inasubiri kiigaji: endesha `huduma-bridge simulate` kwenye terminal nyingine")
    bridge.start()
    code = bridge.wait()
    bridge.stop()
    sys.exit(code)


@main.command(context_settings=CONTEXT)
@click.option("--devices", default="keypad:1,led:2,feedback:3", show_default=True,
              help="kind:address pairs; kinds: keypad, led, feedback.")
@click.option("--link", default=None,
              help="A path to keep a symlink to the pty at, or socket://HOST:PORT to listen on TCP. "
                   "Default: demo-centre/bridge-sim.tty when demo-centre/ exists.")
@click.option("--demo-dir", type=click.Path(file_okay=False, path_type=Path), default=bridge_config.DEMO_DIR,
              show_default=True)
@click.option("--lang", type=click.Choice(["en", "sw"]), default="en", show_default=True,
              help="Language of what the simulator prints (English / Kiswahili).")
def simulate(devices: str, link: str | None, demo_dir: Path, lang: str) -> None:
    """Pretend to be counter hardware on a pty; press keys in this terminal.

    Example: huduma-bridge simulate --devices keypad:1,led:2,feedback:3
    """
    try:
        devs = parse_devices(devices)
    except SimulatorError as exc:
        raise click.BadParameter(str(exc), param_hint="--devices") from None
    if link is None and demo_dir.is_dir():
        link = str(demo_dir / bridge_config.DEMO_SIM_LINK)
    lock = threading.Lock()

    def show(text: str) -> None:
        with lock:
            click.echo(text)

    sim = Simulator(devs, link=link, on_event=show, lang=lang)
    try:
        sim.start()
    except SimulatorError as exc:
        raise click.ClickException(str(exc)) from None
    if sim.path:
        click.echo(f"pty: {sim.path}" + (f" (linked at {link})" if link else ""))
    else:
        click.echo(f"listening on {link}")
    click.echo("devices: " + ", ".join(f"{d.kind}:{d.address}" for d in devs))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        run_interactive(sim)
    finally:
        sim.stop()


@main.command(context_settings=CONTEXT)
@click.argument("address", type=click.IntRange(0, 255))
@click.argument("verb")
@click.argument("args", nargs=-1)
def encode(address: int, verb: str, args: tuple[str, ...]) -> None:
    """Print one frame with its checksum (for a technician's terminal program).

    Example: huduma-bridge encode 2 SHOW B042
    """
    try:
        click.echo(frames.make(address, verb.upper(), *args).decode().rstrip())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
