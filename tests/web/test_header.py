"""The centre's whole name shows on a phone (360 px) on every citizen and staff page, in both languages.

The longest centre name in the project's data is served by a real centre process;
each page's header must show it uncut (nothing hidden by an ellipsis or pushed off
the screen), and nothing of the header may stick out sideways.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CentreProcess
from tests.web.conftest import issue, login_page, serve_demo

LONGEST_NAME = "Huduma Centre Nairobi GPO Teleposta Towers"
CITIZEN_PAGES = {"ticket": "/t/{id}", "ticket-missing": "/t/AAAAAAAAAAAAAAAAAAAAAA", "join": "/join",
                 "join-service": "/join?service=kra-pin", "book": "/book", "feedback": "/t/{id}/feedback"}
STAFF_PAGES = ("login", "clerk", "board", "reports", "staff", "tomorrow")

# the name's box: not cut (scrollWidth) and inside the screen; the header no wider than the screen
NAME_SHOWN = """() => {
  const brand = document.querySelector('header .brand');
  const boxes = [brand, ...brand.querySelectorAll('span:not(.logo)')];
  const r = brand.getBoundingClientRect();
  return {text: brand.textContent.replace(/\\s+/g, ' ').trim(),
          cut: boxes.filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.outerHTML.slice(0, 80)),
          left: r.left, right: r.right, width: window.innerWidth,
          header: document.querySelector('header').scrollWidth};
}"""


@pytest.fixture(scope="module")
def long_name_server(tmp_path_factory) -> Iterator[CentreProcess]:
    """A demo centre named with the longest name in the data, served for real on a private Mosquitto."""
    with serve_demo(tmp_path_factory.mktemp("header"), "--name", LONGEST_NAME) as server:
        yield server


def assert_name_shown(page, where: str) -> None:
    seen = page.evaluate(NAME_SHOWN)
    assert LONGEST_NAME in seen["text"], (where, seen)
    assert not seen["cut"], (where, seen)
    assert seen["left"] >= 0 and seen["right"] <= seen["width"], (where, seen)
    assert seen["header"] <= seen["width"], (where, seen)  # nothing of the header off screen either


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_the_whole_name_shows_on_a_phone_on_every_page(long_name_server, context_factory, shots, lang):
    server = long_name_server
    ticket = issue(server, server.centre.bundle("kiosk-1")["token"], "kra-pin")
    page = context_factory(viewport={"width": 360, "height": 740}).new_page()
    for name, url in CITIZEN_PAGES.items():
        page.goto(server.url + url.format(id=ticket["id"]) + ("&" if "?" in url else "?") + f"lang={lang}")
        assert_name_shown(page, f"{name} ({lang})")
        shots(page, f"web-header-360-{name}-{lang}")
    login_page(page, server, "admin", server.centre.staff_password("admin"))
    page.wait_for_load_state("networkidle")
    for name in STAFF_PAGES:
        page.goto(f"{server.url}/{name}?lang={lang}")
        page.wait_for_load_state("networkidle")
        assert_name_shown(page, f"{name} ({lang})")
        shots(page, f"web-header-360-{name}-{lang}")
