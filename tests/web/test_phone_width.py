"""Every page fits a phone's width (360 px) in both languages: no sideways scrolling of the page.

A manager checks the board on a phone between counters; a citizen opens the ticket page from the SMS.
A page wider than the screen hides its right-hand side behind a sideways scroll that many never find.
Wide tables and strips of day chips may scroll inside a box of their own, never the page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CentreProcess
from tests.web.conftest import issue, login_page, serve_demo

CITIZEN_PAGES = {"ticket": "/t/{id}", "join": "/join", "book": "/book", "book-service": "/book?service=kra-pin"}
STAFF_PAGES = ("clerk", "board", "reports", "staff", "tomorrow")

# the page's width, and the elements (outside a scroll region of their own) that stick out past the screen
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const inScroller = (e) => {  // inside a box that scrolls (or clips) sideways by itself: not the page's width
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  const out = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (inScroller(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) {
      const name = `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')}`;
      out.push(`${name} ${Math.round(r.right)}`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 12)};
}"""


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory) -> Iterator[CentreProcess]:
    with serve_demo(tmp_path_factory.mktemp("phone-width")) as server:
        yield server


def too_wide(page, where: str) -> list[str]:
    seen = page.evaluate(TOO_WIDE)
    return [] if seen["scroll"] <= seen["width"] and not seen["out"] else [f"{where}: {seen}"]


@pytest.mark.parametrize("lang", ["en", "sw"])
def test_every_page_fits_a_phone(phone_server, context_factory, shots, lang):
    server = phone_server
    ticket = issue(server, server.centre.bundle("kiosk-1")["token"], "kra-pin")
    page = context_factory(viewport={"width": 360, "height": 740}).new_page()
    found: list[str] = []
    for name, url in CITIZEN_PAGES.items():
        page.goto(server.url + url.format(id=ticket["id"]) + ("&" if "?" in url else "?") + f"lang={lang}")
        page.wait_for_load_state("networkidle")
        found += too_wide(page, f"{name} ({lang})")
    login_page(page, server, "admin", server.centre.staff_password("admin"))
    page.wait_for_load_state("networkidle")
    for name in STAFF_PAGES:
        page.goto(f"{server.url}/{name}?lang={lang}")
        page.wait_for_load_state("networkidle")
        shots(page, f"web-phone-360-{name}-{lang}", full_page=True)
        found += too_wide(page, f"{name} ({lang})")
    assert not found, "\n".join(found)
