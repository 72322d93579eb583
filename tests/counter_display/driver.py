"""Runs the real display app in its own process and lets a test watch and steer it.

Kivy allows one window per process, so every scenario starts this script. It
builds the app exactly as ``huduma-display`` does and adds one Clock callback
that, five times a second, writes ``state.json`` into the output folder (the
model, the views, the texts of the widgets on screen, the announcements made)
and carries out requests the test drops there as ``req-*.json``:
``{"screenshot": "name"}`` saves ``name.png``; ``{"stop": true}`` stops the app
cleanly (as SIGTERM would). ``DISPLAY_TEST_SIZE`` is the window's size (``1280x800``,
the default) or ``screen``: no size, as ``huduma-display`` runs without ``--window``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")

from centre_server.contract import DeviceBundle  # noqa: E402
from counter_display.app import build_app  # noqa: E402
from counter_display.model import Layout, Mode  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", required=True, type=Path)
    parser.add_argument("--mode", default="hall")
    parser.add_argument("--counter")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--audio-dir", type=Path)
    parser.add_argument("--page-size", type=int, default=8)
    parser.add_argument("--layout", default="near")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    bundle = DeviceBundle.model_validate_json(args.bundle.read_text())
    wanted = os.environ.get("DISPLAY_TEST_SIZE", "1280x800")
    size = None if wanted == "screen" else tuple(int(x) for x in wanted.split("x"))
    app = build_app(bundle, Mode(args.mode), args.counter, announce=args.audio_dir is not None,
                    audio_dir=args.audio_dir or out / "audio", size=size, page_size=args.page_size,
                    layout=Layout(args.layout))
    if os.environ.get("DISPLAY_TEST_SLIDE_S"):  # the hall's slides turn faster in a test
        app.model.slide_s = float(os.environ["DISPLAY_TEST_SLIDE_S"])
    if os.environ.get("DISPLAY_TEST_PAGE_S"):  # and its pages (the far layout's panels)
        app.model.page_s = float(os.environ["DISPLAY_TEST_PAGE_S"])

    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from counter_display.ui import Para, Txt

    def fit() -> list[dict]:
        """Every text on screen: its font, and whether it is cut off (too wide, or outside the window)."""
        found = []
        for w in app.screen.walk():
            if isinstance(w, Para) and w.text and w.opacity and w.height > 1:  # wraps, then shrinks to fit
                x, y = w.to_window(w.x, w.y)
                found.append({"text": w.text, "font": round(w.font_size, 1), "max_font": round(w.max_font, 1),
                              "para": True, "cut": not w.fits or w.texture_size[0] > w.width + 1,
                              "box": [round(x), round(y), round(w.width), round(w.height)]})
            if not isinstance(w, Txt) or not w.text or w.opacity == 0 or w.height <= 1:
                continue
            x, y = w.to_window(w.x, w.y)
            room = w.width - 2 * w.padding_x
            outside = x < -1 or y < -1 or x + w.width > Window.width + 1 or y + w.height > Window.height + 1
            found.append({"text": w.text, "font": round(w.font_size, 1), "max_font": round(w.max_font, 1),
                          "cut": w.natural_width(w.font_size) > room + 1 or outside,
                          "box": [round(x), round(y), round(w.width), round(w.height)]})
        return found

    def widget_texts() -> dict:
        screen = app.screen
        ids = {k: w.text for k, w in screen.ids.items() if isinstance(w, Label)}
        for name in ("top", "status", "day", "notice", "slide", "next"):
            # the far layout builds its slide panel in code
            part = screen.ids[name] if name in screen.ids else getattr(screen, f"{name}_panel", None)
            if part is not None:
                ids.update({f"{name}.{k}": w.text for k, w in part.ids.items() if isinstance(w, Label)})
        recent = [[c.ids.number.text, c.ids.counter_en.text, c.ids.counter_sw.text if "counter_sw" in c.ids else ""]
                  for c in getattr(screen, "recent_cells", []) if c.ids.number.text]
        services = [[s.ids.prefix.text, s.ids.name_en.text, s.ids.waiting.text, s.ids.wait_en.text]
                    for s in getattr(screen, "service_lines", []) if s.ids.prefix.text]
        nexts = [[r.ids.number.text, r.ids.counters.text, r.ids.names.text]  # the far layout's visits moving on
                 for r in getattr(screen, "next_rows", []) if r.ids.number.text]
        return {"ids": ids, "recent": recent, "services": services, "panel": getattr(screen, "shown", ""),
                "next": nexts,
                "all": [w.text for w in screen.walk() if isinstance(w, Label) and w.text]}

    seen: list[str] = []  # every text the counter screen's big line showed, in order (no polling gaps)

    def remember(_screen, text: str) -> None:
        if not seen or seen[-1] != text:
            seen.append(text)

    def watch(_dt: float) -> None:
        if app.screen is not None and hasattr(app.screen, "number"):
            app.screen.bind(number=remember)
            remember(app.screen, app.screen.number)

    def snapshot() -> dict:
        m = app.model
        view = m.hall_view(time.monotonic()) if m.mode == Mode.hall else m.counter_view(time.monotonic())
        history = app.announcer.history if app.announcer else []
        return {
            "t": time.time(),
            "window": [Window.width, Window.height, Window.left, Window.top],
            "texts": fit(),
            "seen": list(seen),
            "link": m.link.value,
            "connects": m.connects,
            "server": m.server.value if m.server else None,
            "live": m.live,
            "services": {k: s.waiting for k, s in m.services.items()},
            "counters": {k: c.ticket for k, c in m.counters.items()},
            "calls": [[c.number, c.counter_id, c.recall] for c in m.calls()],
            "rejected": m.rejected,
            "view": dataclasses.asdict(view),
            "screen": widget_texts(),
            "boxes": {k: [round(v) for v in (*app.screen.ids[k].to_window(*app.screen.ids[k].pos),
                                              *app.screen.ids[k].size)]
                      for k in ("now_panel", "slide") if k in app.screen.ids},
            "announcements": [
                {"number": a.call.number, "counter": a.call.counter_name, "recall": a.call.recall,
                 "wav": str(a.wav) if a.wav else None, "played": a.played, "error": a.error,
                 "skipped": a.skipped}
                for a in history
            ],
        }

    def write_state() -> None:
        tmp = out / "state.json.tmp"
        tmp.write_text(json.dumps(snapshot(), default=str))
        tmp.replace(out / "state.json")

    def probe(_dt: float) -> None:
        for req in sorted(out.glob("req-*.json")):
            try:
                order = json.loads(req.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # half written: next time
            req.unlink()
            if "screenshot" in order:
                # export_to_png draws the widget tree into an FBO: the same pixels the
                # window shows, without depending on reading back Xvfb's front buffer.
                app.root.export_to_png(str(out / (order["screenshot"] + ".png")))
                (out / (order["screenshot"] + ".done")).write_text("ok")
            if order.get("stop"):
                app.stop()
        write_state()

    Clock.schedule_once(watch, 0)
    Clock.schedule_interval(probe, 0.2)
    app.run()
    write_state()
    return 0


if __name__ == "__main__":
    sys.exit(main())
