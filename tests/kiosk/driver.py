"""Runs the REAL kiosk app in its own process and plays one scenario on it.

    python tests/kiosk/driver.py CONFIG.json SCENARIO OUTDIR

A scenario is a generator of steps run from Kivy's clock: it taps widgets with
real touch events (hit-tested by the window), waits for conditions with a
deadline, saves screenshots and writes ``OUTDIR/result.json``. It talks to the
test process through marker files: ``OUTDIR/mark-<name>`` (written here) and
``OUTDIR/go-<name>`` (written by the test).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from kiosk.app import build_app, configure_kivy  # noqa: E402
from kiosk.config import load_config  # noqa: E402


class Wait:
    """Step: wait until ``pred()`` is true, or fail after ``timeout`` seconds."""

    def __init__(self, pred, what: str, timeout: float = 30.0) -> None:
        self.pred, self.what, self.deadline = pred, what, time.monotonic() + timeout


class Sleep:
    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds


class Driver:
    def __init__(self, app, out: Path) -> None:
        self.app = app
        self.out = out
        self.result: dict = {"ok": False, "screens": [], "data": {}}
        self.gen = None
        self.step = None

    # -- helpers the scenarios use ---------------------------------------------------
    @property
    def screen(self):
        return self.app.sm.current_screen

    def at(self, name: str, timeout: float = 30.0, settle: float = 0.45) -> Wait:
        """Wait for a screen, then a few frames more so its layout is done before we touch it, and past the
        app's guard against a double tap's second touch (``kiosk.ui.TAP_GUARD_S``, counted from the frame
        that showed the screen: a slow frame under load makes a finger wait longer, as it would a citizen)."""
        since: list[float] = []

        def shown() -> bool:
            if self.app.sm.current != name:
                since.clear()
                return False
            if not since:
                since.append(time.monotonic())
            return time.monotonic() - since[0] >= settle and self.app.guard_left() == 0

        return Wait(shown, f"screen {name}", timeout)

    def tap(self, widget) -> None:
        """A real touch: down and up at the widget's centre, dispatched through the window. A deliberate
        tap never lands inside the app's double-tap guard (it would be ignored, and the scenario fail far
        from here): wait for the screen with ``at`` first; ``tap_at`` is the finger that does not wait."""
        from kivy.tests.common import UnitTestTouch

        from kiosk.ui import TAP_GUARD_S  # (Kivy is configured by now)

        left = self.app.guard_left()
        if left > 0:
            raise AssertionError(f"tap on {type(widget).__name__} {getattr(widget, 'text', '')[:30]!r} "
                                 f"{(TAP_GUARD_S - left) * 1000:.0f} ms after {self.app.sm.current} was shown: "
                                 "inside the double-tap guard, so the kiosk ignores it; wait with d.at(screen)")
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def tap_at(self, x: float, y: float) -> None:
        """A real touch at a point of the window, whatever is there now (a finger that does not move)."""
        from kivy.tests.common import UnitTestTouch

        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def press(self, widget):
        """Touch down only (for long presses); returns the touch to release later."""
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center) if widget is not None else (5, self.app.root.height - 5)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        return touch

    def find(self, root, **attrs):
        """The first widget under ``root`` whose attributes match (e.g. value="id-card-new")."""
        for w in root.walk(restrict=True):
            if all(getattr(w, k, None) == v for k, v in attrs.items()):
                return w
        raise LookupError(f"no widget with {attrs} on {root}")

    def shot(self, name: str) -> None:
        path = self.out / f"kiosk-{name}.png"
        self.app.root.export_to_png(str(path))
        self.result["screens"].append(name)

    def mark(self, name: str) -> None:
        (self.out / f"mark-{name}").write_text(str(time.time()))

    def go_signal(self, name: str, timeout: float = 60.0) -> Wait:
        return Wait(lambda: (self.out / f"go-{name}").exists(), f"go-{name}", timeout)

    def keypad_type(self, keypad, text: str):
        """Tap keys one after another, a few frames apart, as a finger would (use with yield from)."""
        for ch in text:
            self.tap(self.find(keypad, key=ch))
            yield Sleep(0.06)

    # -- the loop ---------------------------------------------------------------------
    def run(self, scenario) -> None:
        from kivy.clock import Clock

        self.gen = scenario(self)
        Clock.schedule_interval(self._tick, 0.05)

    def _tick(self, _dt: float) -> None:
        try:
            if isinstance(self.step, Wait):
                if not self.step.pred():
                    if time.monotonic() > self.step.deadline:
                        raise TimeoutError(f"waited in vain for {self.step.what} "
                                           f"(screen {self.app.sm.current})")
                    return
            elif isinstance(self.step, Sleep) and time.monotonic() < self.step.until:
                return
            self.step = next(self.gen)
        except StopIteration:
            self.result["ok"] = True
            self.finish()
        except Exception as exc:
            self.result["error"] = f"{type(exc).__name__}: {exc}"
            self.result["traceback"] = traceback.format_exc()
            try:
                self.shot("failure")
            except Exception:
                pass
            self.finish()

    def finish(self) -> None:
        from kivy.clock import Clock

        Clock.unschedule(self._tick)
        (self.out / "result.json").write_text(json.dumps(self.result, indent=2, default=str))
        self.app.stop()


def main() -> None:
    config_path, scenario_name, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    import logging

    handler = logging.FileHandler(out / "kiosk.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("kiosk", "driver", "scenarios"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    import scenarios  # noqa: E402 - beside this file

    cfg = load_config(config_path)
    configure_kivy(cfg)
    app = build_app(cfg)
    driver = Driver(app, out)
    scenario = getattr(scenarios, scenario_name)

    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: driver.run(scenario), 0.5)
    # A hard stop so a wedged scenario never hangs the suite.
    Clock.schedule_once(lambda _dt: (driver.result.setdefault("error", "driver timeout"), driver.finish()),
                        float(os.environ.get("KIOSK_DRIVER_TIMEOUT", "120")))
    app.run()


if __name__ == "__main__":
    sys.modules["driver"] = sys.modules["__main__"]  # scenarios import Wait/Sleep from here
    sys.path.insert(0, str(Path(__file__).parent))
    main()
