"""``huduma-display``: the hall board or the screen above one counter.

The command line only reads the device bundle, checks the options and starts
the Kivy app (``counter_display.ui``); everything it shows is decided by
``counter_display.model``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
from pathlib import Path

import click
from pydantic import ValidationError

from centre_server.contract import DeviceBundle
from counter_display.model import Layout, Mode

logger = logging.getLogger(__name__)

DEMO_BUNDLE = Path("demo-centre") / "devices" / "display-1.json"


def load_bundle(path: Path) -> DeviceBundle:
    """Read a device bundle; every problem becomes one clear sentence."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"no such config file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read config file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"config file {path} is not valid JSON: {exc}") from None
    try:
        bundle = DeviceBundle.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise click.ClickException(f"config file {path} is not a device bundle (check: {fields})") from None
    if bundle.kind != "display":
        logger.warning("bundle %s is for a %s, not a display", path, bundle.kind)
    return bundle


def demo_bundle_path() -> Path:
    """``demo-centre/devices/display-1.json`` from here or from the repository root."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (base / DEMO_BUNDLE).exists():
            return base / DEMO_BUNDLE
    raise click.ClickException(
        f"no demo centre found ({DEMO_BUNDLE}): run `make run` in the repository first")


def default_audio_dir(device_id: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "huduma-display" / device_id / "announcements"


def parse_window(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        w, h = (int(x) for x in value.lower().split("x", 1))
    except ValueError:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1280x800", param_hint="--window") from None
    if w < 320 or h < 240:
        raise click.BadParameter("the window must be at least 320x240", param_hint="--window")
    return w, h


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(path_type=Path, dir_okay=False),
              help="Device bundle JSON of this display (from huduma-provision add-device).")
@click.option("--demo", is_flag=True, help="Use the demo centre's bundle demo-centre/devices/display-1.json.")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default="hall", show_default=True,
              help="hall: the board for the whole hall; counter: the screen above one counter.")
@click.option("--counter", "counter_id", help="Counter id for --mode counter (default: the bundle's first).")
@click.option("--announce/--no-announce", default=None,
              help="Speak the calls (default: on in hall mode, off in counter mode).")
@click.option("--audio-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where announcement WAV files go (default: ~/.cache/huduma-display/<device>/announcements).")
@click.option("--timezone", default="Africa/Nairobi", show_default=True, help="Time zone of the clock.")
@click.option("--window", help="Run in a window of WIDTHxHEIGHT instead of full screen, e.g. 1280x800.")
@click.option("--page-size", type=click.IntRange(1, 20), default=8, show_default=True,
              help="Services per page on the hall board (pages turn every 8 s).")
@click.option("--layout", type=click.Choice([x.value for x in Layout]), default="near", show_default=True,
              help="Hall board: near shows everything at once (read within about 4.5 m); far draws calls and "
                   "waits at the height read from 10 m on a 55-inch screen, turning its right half between "
                   "the last calls and the services three at a time.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def main(config: Path | None, demo: bool, mode: str, counter_id: str | None, announce: bool | None,
         audio_dir: Path | None, timezone: str, window: str | None, page_size: int, layout: str,
         log_level: str) -> None:
    """Show who is called where, and say it, on a hall board or above a counter.

    It only listens to the centre's broker (retained state and call events) and
    publishes nothing but its own availability.

    Example: huduma-display --demo --mode hall
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config and demo:
        raise click.UsageError("use either --config FILE or --demo, not both")
    if not config and not demo:
        raise click.UsageError("say which display this is: --config FILE (or --demo)")
    bundle = load_bundle(config if config else demo_bundle_path())
    display_mode = Mode(mode)
    if display_mode == Mode.counter:
        counter_id = counter_id or (bundle.counters[0] if bundle.counters else None)
        if not counter_id:
            raise click.UsageError("--mode counter needs --counter ID (the bundle names no counter)")
    elif counter_id:
        raise click.UsageError("--counter only goes with --mode counter")
    size = parse_window(window)
    if announce is None:
        announce = display_mode == Mode.hall
    run(bundle, display_mode, counter_id, announce, audio_dir or default_audio_dir(bundle.device_id),
        timezone, size, page_size, log_level.upper(), Layout(layout))


def x11_screen_size(display: str | None = None) -> tuple[int, int] | None:
    """The X screen's size in pixels, asked of libX11 itself; None without X.

    Signage PCs run a bare X server with no window manager, where SDL's "fullscreen"
    leaves an 800x600 window in the middle of the screen: the display sizes its
    window from this instead.
    """
    name = display if display is not None else os.environ.get("DISPLAY")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return None
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    lib.XDisplayWidth.argtypes = lib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = lib.XOpenDisplay(name.encode())
    if not handle:
        return None
    try:
        screen = lib.XDefaultScreen(handle)
        width, height = lib.XDisplayWidth(handle, screen), lib.XDisplayHeight(handle, screen)
    finally:
        lib.XCloseDisplay(handle)
    return (width, height) if width > 0 and height > 0 else None


def configure_kivy(size: tuple[int, int] | None) -> None:
    """Kivy reads these before its window exists: set them before importing ``ui``.

    Without ``size`` the display fills the screen: on X, a borderless window at the
    screen's own size and origin (which needs no window manager); elsewhere (Wayland,
    the Raspberry Pi's KMS) SDL's desktop fullscreen.
    """
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")  # Kivy's records reach our own handler once
    from kivy.config import Config

    screen = None if size else x11_screen_size()
    if size or screen:
        width, height = size or screen  # type: ignore[misc]  # one of them is set, checked above
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
    if screen:
        logger.info("filling the %dx%d screen", *screen)
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
    elif not size:
        logger.info("no X screen size found: asking for SDL's fullscreen")
        Config.set("graphics", "fullscreen", "auto")
    Config.set("graphics", "show_cursor", "0" if not size else "1")
    Config.set("kivy", "exit_on_escape", "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")


def build_app(bundle: DeviceBundle, mode: Mode, counter_id: str | None, announce: bool, audio_dir: Path,
              timezone: str = "Africa/Nairobi", size: tuple[int, int] | None = None, page_size: int = 8,
              layout: Layout = Layout.near):
    """The Kivy app, configured; tests build it the same way the command does."""
    configure_kivy(size)
    from counter_display.ui import DisplayApp, DisplaySettings

    settings = DisplaySettings(bundle=bundle, mode=mode, counter_id=counter_id, announce=announce,
                               audio_dir=audio_dir, timezone=timezone, fullscreen=size is None,
                               page_size=page_size, layout=layout)
    return DisplayApp(settings)


def run(bundle: DeviceBundle, mode: Mode, counter_id: str | None, announce: bool, audio_dir: Path,
        timezone: str, size: tuple[int, int] | None, page_size: int, log_level: str = "INFO",
        layout: Layout = Layout.near) -> None:
    app = build_app(bundle, mode, counter_id, announce, audio_dir, timezone, size, page_size, layout)
    logging.getLogger().setLevel(log_level)  # Kivy lowers the root logger's level when it loads
    try:
        app.run()
    except KeyboardInterrupt:
        app.stop()


if __name__ == "__main__":
    main()
