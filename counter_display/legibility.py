"""How tall the hall display's letters must be to be read from the back of the hall.

The rule: a character's height must subtend at least 20 minutes of arc at the eye
(ISO 9241-303 and ANSI/HFES 100-2007 give 20 to 22 arc-minutes as the preferred
character height, 16 as the least). At 10 m that is 2 x 10 m x tan(10') = 58.2 mm;
on a 55-inch 16:9 screen (121.8 cm x 68.5 cm, 0.634 mm a pixel at 1920x1080, the
same pitch in portrait at 1080x1920) that is 92 pixels of capital-letter height.
"""

from __future__ import annotations

import math

ARC_MINUTES = 20.0  # ISO 9241-303 / ANSI/HFES 100-2007: preferred character height
HALL_DIAGONAL_IN = 55.0
HALL_DISTANCE_M = 10.0


def min_char_height_mm(distance_m: float = HALL_DISTANCE_M, arc_minutes: float = ARC_MINUTES) -> float:
    """The least character (capital) height, in millimetres, read at ``distance_m``."""
    return 2 * distance_m * 1000 * math.tan(math.radians(arc_minutes / 60) / 2)


def pixel_pitch_mm(diagonal_in: float, width_px: int, height_px: int) -> float:
    """Millimetres a pixel on a screen of square pixels, whatever its orientation."""
    diagonal_px = math.hypot(width_px, height_px)
    return diagonal_in * 25.4 / diagonal_px


def min_char_height_px(width_px: int, height_px: int, diagonal_in: float = HALL_DIAGONAL_IN,
                       distance_m: float = HALL_DISTANCE_M, arc_minutes: float = ARC_MINUTES) -> int:
    """The least capital height in pixels on that screen (rounded up)."""
    return math.ceil(min_char_height_mm(distance_m, arc_minutes) / pixel_pitch_mm(diagonal_in, width_px, height_px))


ROBOTO_CAP_EM = 1456 / 2048  # Roboto's capital height as a share of its font size (the font's own metrics)
MARGIN = 1.04  # a font a little larger than the least: pixel rounding never takes a capital under the rule


def far_font_px(width_px: float, height_px: float, diagonal_in: float = HALL_DIAGONAL_IN,
                distance_m: float = HALL_DISTANCE_M) -> float:
    """The font size whose capitals meet the rule on a ``width_px`` x ``height_px`` screen of
    ``diagonal_in`` inches read at ``distance_m``: what the far hall layout draws its calls and waits at."""
    if width_px < 1 or height_px < 1:
        return 1.0
    need = min_char_height_px(int(width_px), int(height_px), diagonal_in, distance_m)
    return need / ROBOTO_CAP_EM * MARGIN


def legible_distance_m(cap_px: float, width_px: int, height_px: int,
                       diagonal_in: float = HALL_DIAGONAL_IN, arc_minutes: float = ARC_MINUTES) -> float:
    """How far away a capital ``cap_px`` pixels high can be read on that screen (the rule turned round)."""
    cap_mm = cap_px * pixel_pitch_mm(diagonal_in, width_px, height_px)
    return cap_mm / (2 * 1000 * math.tan(math.radians(arc_minutes / 60) / 2))
