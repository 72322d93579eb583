"""Screens that fit (issue 15): the kiosk fills a bare X screen of any shape, landscape or portrait,
and every service name of the standard menu fits its button in both languages."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from tests.kiosk.conftest import kiosk_config

pytestmark = pytest.mark.timeout(700)

MENU = Path(__file__).resolve().parents[2] / "centre_server" / "data" / "menu.csv"


@pytest.mark.parametrize("size", [(1280, 800), (1080, 1920)], ids=["landscape-1280x800", "portrait-1080x1920"])
def test_fills_the_screen_and_every_label_fits(size, centre_server, mosquitto, tmp_path, run_kiosk, screen_of):
    """Full screen on an X server with no window manager: the window is the screen. Every category page
    in English and Kiswahili: each label (texture) inside its button, every button in view.
    Before the fix the AGPO button showed only "tenders)" and a portrait screen got a 1080x800 band."""
    width, height = size
    display = screen_of(width, height)
    tag = "portrait" if height > width else "landscape"
    config = kiosk_config(centre_server, mosquitto, tmp_path, {"kind": "file", "path": str(tmp_path / "t.bin")},
                          fullscreen=True)
    # every page of 39 services, twice: on a machine shared with other test runs this takes minutes
    run = run_kiosk(config, "fit_all", env={"DISPLAY": display, "KIOSK_TAG": tag, "KIOSK_DRIVER_TIMEOUT": "560"})
    data = run.result(timeout=600)["data"]

    assert data["window"] == [width, height] and data["portrait"] is (tag == "portrait"), data["window"]
    shot = Image.open(run.out / f"kiosk-categories-{tag}-en.png")  # (moved to ARTIFACTS at the end)
    assert shot.size == (width, height)
    # no black band: the deep green background reaches every edge of the screen
    for xy in ((2, 2), (width - 3, 2), (2, height - 3), (width - 3, height - 3)):
        r, g, b = shot.convert("RGB").getpixel(xy)[:3]
        assert g > r and g > 30, (xy, (r, g, b))
    assert data["welcome_outside"] == [] and data["welcome_fault_outside"] == []
    # language buttons keep their distance from the screen's edges
    for x, y, w, h in data["welcome_buttons"]:
        assert x >= 40 and x + w <= width - 40 and w >= 300 and h >= 120, (x, y, w, h)

    menu = list(csv.DictReader(MENU.open()))
    assert data["services"] == len(menu) == 39
    labels = data["labels"]
    pages = {lab["page"] for lab in labels}
    assert len(pages) == 2 * (1 + len(data["categories"]))  # categories + each category page, twice
    for lab in labels:
        (tw, th), (rw, rh) = lab["texture"], lab["room"]
        assert lab["fits"] and tw <= rw + 1 and th <= rh, f"{lab['page']}: {lab['text']!r} {tw}x{th} > {rw}x{rh}"
        assert lab["visible"], f"{lab['page']}: {lab['value']} is scrolled out of sight {lab['where']}"
        assert lab["font"] >= 15
    # every name of the menu is on a button, whole, in both languages
    texts = {lab["value"]: [] for lab in labels}
    for lab in labels:
        texts[lab["value"]].append(lab["text"])
    for row in menu:
        shown = " ".join(texts[row["id"]])
        assert f"[b]{row['name_en']}[/b]" in shown and f"[b]{row['name_sw']}[/b]" in shown, row["id"]
