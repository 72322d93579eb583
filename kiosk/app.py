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
from click.core import ParameterSource  # noqa: E402

from kiosk.config import ConfigError, KioskConfig, PrinterSettings, load_config  # noqa: E402

logger = logging.getLogger(__name__)



def x_screen_size(display: str | None = None) -> tuple[int, int] | None:
    """The X screen's size in pixels (Xlib through ctypes), or None without an X server.

    SDL's "auto" full screen keeps the window's configured size on some bare X
    servers (no window manager): a kiosk must fill the screen it has, portrait or
    landscape, so it asks X itself and makes the window exactly that big.
    """
    import ctypes
    import ctypes.util

    if not (display or os.environ.get("DISPLAY")):
        return None
    name = ctypes.util.find_library("X11")
    if not name:
        return None
    try:
        x11 = ctypes.CDLL(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in (x11.XDefaultScreen, x11.XCloseDisplay):
            fn.argtypes = [ctypes.c_void_p]
        x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        dpy = x11.XOpenDisplay(display.encode() if display else None)
        if not dpy:
            return None
        try:
            screen = x11.XDefaultScreen(dpy)
            size = (int(x11.XDisplayWidth(dpy, screen)), int(x11.XDisplayHeight(dpy, screen)))
        finally:
            x11.XCloseDisplay(dpy)
    except (OSError, AttributeError) as exc:
        logger.warning("cannot ask X for the screen size: %s", exc)
        return None
    return size if size[0] > 0 and size[1] > 0 else None


def parse_window(text: str) -> tuple[int, int]:
    """``1080x1920`` -> (1080, 1920), for ``--window``."""
    w, sep, h = text.lower().partition("x")
    if not sep or not w.strip().isdigit() or not h.strip().isdigit():
        raise click.BadParameter(f"{text!r}: give the size as WIDTHxHEIGHT, e.g. 1080x1920")
    size = int(w), int(h)
    if not all(320 <= v <= 8192 for v in size):
        raise click.BadParameter(f"{text!r}: each side must be 320 to 8192 pixels")
    return size


def configure_kivy(cfg: KioskConfig) -> None:
    """Window settings must be in Kivy's Config before the window exists."""
    from kivy.config import Config

    k = cfg.kiosk
    width, height = k.width, k.height
    if k.fullscreen:
        screen = x_screen_size()
        if screen is not None:
            width, height = screen
            logger.info("full screen on a %dx%d screen", width, height)
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
    Config.set("graphics", "fullscreen", "auto" if k.fullscreen else "0")
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "show_cursor", "0" if k.fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0" if k.fullscreen else "1")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")


def build_app(cfg: KioskConfig, printer=None, demo: bool = False):
    """The KioskApp for this config (Kivy is imported here, after configure_kivy).

    ``demo`` allows the ``dummy`` printer (tickets kept in memory); a real kiosk
    with it, or with no printer at all, stays out of service and says why.
    """
    from kiosk.ui import KioskApp

    return KioskApp(cfg, printer=printer, demo=demo)


CHECKOUT_DEMO_DIR = Path(__file__).resolve().parents[1] / "demo-centre"  # where `make run` puts it


def find_demo_dir(demo_dir: Path, given: bool) -> Path:
    """The demo centre's folder: the one given, else ``demo-centre`` here, else the checkout's own (``make run``
    runs in the checkout; ``huduma-kiosk --demo`` may be typed in another terminal's folder)."""
    if given or (demo_dir / "devices" / "kiosk-1.json").exists():
        return demo_dir
    if (CHECKOUT_DEMO_DIR / "devices" / "kiosk-1.json").exists():
        logger.info("demo centre found at %s", CHECKOUT_DEMO_DIR)
        return CHECKOUT_DEMO_DIR
    return demo_dir


def demo_config(demo_dir: Path, given: bool = True) -> KioskConfig:
    """The demo kiosk: ``make run``'s bundle and a file printer beside it."""
    demo_dir = find_demo_dir(demo_dir, given)
    bundle = demo_dir / "devices" / "kiosk-1.json"
    if not bundle.exists():
        where = f"{bundle.resolve()} does not exist"
        if not given and demo_dir.resolve() != CHECKOUT_DEMO_DIR:
            where += f" (nor {CHECKOUT_DEMO_DIR / 'devices' / 'kiosk-1.json'})"
        raise ConfigError(f"{where}: start the demo centre first with `make run` in {CHECKOUT_DEMO_DIR.parent} "
                          "(it provisions demo-centre/), or name its folder with --demo-dir")
    cfg = load_config(bundle)
    data = json.loads(bundle.read_text())
    if "printer" not in data:
        cfg.printer = PrinterSettings(kind="file", path=str((demo_dir / "kiosk-1-tickets.bin").resolve()))
    if "fullscreen" not in (data.get("kiosk") or {}):  # a window beside the terminals, unless asked
        cfg.kiosk.fullscreen = False
    return cfg


def check_demo_centre(cfg: KioskConfig, bundle_path: str) -> None:
    """The demo centre must be running and be the one whose bundle this is; its broker is where the centre
    says (a demo centre moves it off a taken 1883 and rewrites the bundles; an older bundle is followed)."""
    import httpx

    from centre_server.contract import parse_mqtt_url

    b = cfg.bundle
    try:
        r = httpx.get(f"{b.server_url.rstrip('/')}/healthz", timeout=3.0)
        health = r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"the demo centre of {bundle_path} is not running: nothing answers at {b.server_url} "
                          f"({type(exc).__name__}). Start it with `make run`, then try again.") from None
    if not isinstance(health, dict):
        raise ConfigError(f"{b.server_url} answered {r.status_code} to /healthz: it is not a Huduma centre "
                          "server. Is another program on that port? Stop it and run `make run` again.")
    if health.get("centre_id") != b.centre_id:
        raise ConfigError(f"{b.server_url} is centre {health.get('centre_id')!r}, but {bundle_path} is for "
                          f"{b.centre_id!r}: another centre serves that port. Stop it, or give --demo-dir.")
    served = str(health.get("broker_url") or "")
    if served.startswith("mqtt") and parse_mqtt_url(served) != parse_mqtt_url(b.mqtt_url):
        click.echo(f"the demo centre's broker is at {served}, not {b.mqtt_url} as {bundle_path} says: using {served}")
        b.mqtt_url = served
    if health.get("broker") != "connected":
        click.echo(f"warning: the demo centre says its broker at {served or b.mqtt_url} is {health.get('broker')}: "
                   "live waits will come by HTTP until it is back")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Device bundle JSON with optional 'printer' and 'kiosk' sections.")
@click.option("--demo", is_flag=True, help="Run against `make run`'s demo centre (demo-centre/devices/kiosk-1.json).")
@click.option("--demo-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("demo-centre"),
              show_default=True, help="The demo centre directory for --demo.")
@click.option("--windowed/--fullscreen", default=None, help="Override the config's fullscreen setting.")
@click.option("--window", "window", default=None, metavar="WxH",
              help="Development: a window of this size instead of the full screen, e.g. 1080x1920 (portrait).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def main(config_path: Path | None, demo: bool, demo_dir: Path, windowed: bool | None, window: str | None,
         log_level: str) -> None:
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
        given = click.get_current_context().get_parameter_source("demo_dir") is not ParameterSource.DEFAULT
        cfg = demo_config(demo_dir, given) if demo else load_config(config_path)  # type: ignore[arg-type]  # one of the two, checked above
        if demo:
            check_demo_centre(cfg, str(find_demo_dir(demo_dir, given) / "devices" / "kiosk-1.json"))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    size = parse_window(window) if window else None
    if windowed is not None:
        cfg.kiosk.fullscreen = not windowed
    if size is not None:
        cfg.kiosk.fullscreen = False
        cfg.kiosk.width, cfg.kiosk.height = size
    configure_kivy(cfg)
    app = build_app(cfg, demo=demo)
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
