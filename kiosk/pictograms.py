"""Pictograms drawn with Kivy canvas instructions: nothing to download, sharp at any size.

They are for citizens who cannot read well: each priority class, each mode toggle and "read aloud"
has a figure beside its words. Drawn in a unit square (0..1), scaled to the widget.
"""

from __future__ import annotations

import logging

from kivy.graphics import Color, Ellipse, Line, Mesh, Rectangle
from kivy.properties import ListProperty, StringProperty
from kivy.uix.widget import Widget

logger = logging.getLogger(__name__)

KINDS = ("elderly", "disability", "expectant", "none", "large_text", "contrast", "low", "speaker")


class Pictogram(Widget):
    """A simple figure of ``kind`` in ``ink`` (see KINDS)."""

    kind = StringProperty("none")
    ink = ListProperty([0.04, 0.10, 0.07, 1])

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self.draw, size=self.draw, kind=self.draw, ink=self.draw)

    def draw(self, *_a) -> None:
        self.canvas.clear()
        side = min(self.width, self.height)
        if side <= 0:
            return
        ox, oy = self.center_x - side / 2, self.center_y - side / 2

        def p(x: float, y: float) -> tuple[float, float]:
            return ox + x * side, oy + y * side

        def line(*pts: float, w: float = 0.07) -> None:
            flat: list[float] = []
            for i in range(0, len(pts), 2):
                flat += p(pts[i], pts[i + 1])
            Line(points=flat, width=max(1.5, w * side / 2), cap="round", joint="round")

        def disc(x: float, y: float, r: float) -> None:
            Ellipse(pos=p(x - r, y - r), size=(2 * r * side, 2 * r * side))

        with self.canvas:
            Color(*self.ink)
            kind = self.kind
            if kind == "elderly":  # a bent figure with a walking stick
                disc(0.45, 0.85, 0.09)
                line(0.42, 0.74, 0.36, 0.42)
                line(0.36, 0.42, 0.28, 0.06)
                line(0.36, 0.42, 0.48, 0.06)
                line(0.40, 0.64, 0.62, 0.48)
                line(0.62, 0.48, 0.70, 0.04, w=0.05)
            elif kind in ("disability", "low"):  # the wheelchair symbol
                disc(0.42, 0.88, 0.08)
                line(0.42, 0.76, 0.42, 0.45, 0.70, 0.45, 0.80, 0.15, 0.90, 0.15)
                line(0.42, 0.64, 0.64, 0.64)
                Line(circle=(*p(0.40, 0.30), 0.24 * side, 200, 520), width=max(1.5, 0.035 * side))
                if kind == "low":  # and an arrow: the controls come down
                    line(0.10, 0.95, 0.10, 0.45)
                    line(0.02, 0.56, 0.10, 0.45, 0.18, 0.56)
            elif kind == "expectant":  # a mother with a rounded belly
                disc(0.45, 0.87, 0.09)
                line(0.45, 0.76, 0.45, 0.40)
                Ellipse(pos=p(0.42, 0.40), size=(0.24 * side, 0.26 * side))
                line(0.40, 0.40, 0.36, 0.05)
                line(0.50, 0.40, 0.56, 0.05)
                line(0.45, 0.68, 0.30, 0.48)
            elif kind == "none":  # a standing person: no priority
                disc(0.5, 0.86, 0.09)
                line(0.5, 0.75, 0.5, 0.40)
                line(0.5, 0.40, 0.40, 0.05)
                line(0.5, 0.40, 0.60, 0.05)
                line(0.32, 0.52, 0.5, 0.68, 0.68, 0.52)
            elif kind == "large_text":  # a small and a large letter A
                line(0.05, 0.15, 0.18, 0.55, 0.31, 0.15, w=0.05)
                line(0.10, 0.30, 0.26, 0.30, w=0.05)
                line(0.38, 0.10, 0.63, 0.90, 0.88, 0.10, w=0.09)
                line(0.47, 0.38, 0.79, 0.38, w=0.08)
            elif kind == "contrast":  # a circle, half black, half white
                Color(1, 1, 1, 1)
                disc(0.5, 0.5, 0.45)
                Color(*self.ink)
                Ellipse(pos=p(0.05, 0.05), size=(0.9 * side, 0.9 * side), angle_start=180, angle_end=360)
                Line(circle=(*p(0.5, 0.5), 0.45 * side), width=max(1.5, 0.03 * side))
            elif kind == "speaker":  # a loudspeaker and sound waves
                Mesh(vertices=[*p(0.28, 0.36), 0, 0, *p(0.50, 0.14), 0, 0, *p(0.50, 0.86), 0, 0,
                               *p(0.28, 0.64), 0, 0], indices=[0, 1, 2, 3], mode="triangle_fan")
                Rectangle(pos=p(0.08, 0.36), size=(0.2 * side, 0.28 * side))
                for r in (0.16, 0.28, 0.40):
                    Line(circle=(*p(0.52, 0.5), r * side, 50, 130), width=max(1.5, 0.03 * side))
            else:
                logger.warning("no pictogram %r", kind)
