"""``huduma-kiosk``: the touchscreen ticket machine.

The app wires the model to its neighbours: HTTP (services, issuing, health) and
printing in worker threads, MQTT in paho's thread; every result comes back to
the UI thread through ``Clock.schedule_once`` before it touches the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")  # our CLI is click's, not Kivy's
os.environ.setdefault("KIVY_LOG_MODE", "MIXED")  # Kivy logs to its own logger; ours go through logging

import json  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from kiosk.config import ConfigError, KioskConfig, PrinterSettings, load_config  # noqa: E402

logger = logging.getLogger(__name__)



def configure_kivy(cfg: KioskConfig) -> None:
    """Window settings must be in Kivy's Config before the window exists."""
    from kivy.config import Config

    k = cfg.kiosk
    Config.set("graphics", "fullscreen", "auto" if k.fullscreen else "0")
    Config.set("graphics", "width", str(k.width))
    Config.set("graphics", "height", str(k.height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "show_cursor", "0" if k.fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0" if k.fullscreen else "1")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")


def build_app(cfg: KioskConfig, printer=None):
    """The KioskApp for this config (Kivy is imported here, after configure_kivy)."""
    from kiosk.ui import KioskApp

    return KioskApp(cfg, printer=printer)


def demo_config(demo_dir: Path) -> KioskConfig:
    """The demo kiosk: ``make run``'s bundle and a file printer beside it."""
    bundle = demo_dir / "devices" / "kiosk-1.json"
    if not bundle.exists():
        raise ConfigError(f"{bundle} does not exist: start the demo centre first with `make run` "
                          "(it provisions demo-centre/)")
    cfg = load_config(bundle)
    data = json.loads(bundle.read_text())
    if "printer" not in data:
        cfg.printer = PrinterSettings(kind="file", path=str((demo_dir / "kiosk-1-tickets.bin").resolve()))
    if "kiosk" not in data:
        cfg.kiosk.fullscreen = False
    return cfg


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Device bundle JSON with optional 'printer' and 'kiosk' sections.")
@click.option("--demo", is_flag=True, help="Run against `make run`'s demo centre (demo-centre/devices/kiosk-1.json).")
@click.option("--demo-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("demo-centre"),
              show_default=True, help="The demo centre directory for --demo.")
@click.option("--windowed/--fullscreen", default=None, help="Override the config's fullscreen setting.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def main(config_path: Path | None, demo: bool, demo_dir: Path, windowed: bool | None, log_level: str) -> None:
    """Run the touchscreen ticket kiosk.

    Example: huduma-kiosk --config /etc/huduma/kiosk-1.json
    or, beside `make run`: huduma-kiosk --demo
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if bool(config_path) == bool(demo):
        raise click.UsageError("give exactly one of --config FILE or --demo")
    try:
        cfg = demo_config(demo_dir) if demo else load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if windowed is not None:
        cfg.kiosk.fullscreen = not windowed
    configure_kivy(cfg)
    app = build_app(cfg)
    _stop_on_sigterm(app)
    app.run()


def _stop_on_sigterm(app) -> None:
    """systemd stops with SIGTERM: leave cleanly so the kiosk says offline itself."""
    import signal

    from kivy.clock import Clock

    def handler(_signum, _frame) -> None:
        logger.info("SIGTERM: stopping")
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, handler)
