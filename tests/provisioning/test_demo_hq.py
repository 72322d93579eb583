"""Which headquarters a provisioned centre reports to: none unless it was told (newuser finding 1).

A demo centre made by a test or a bench used to fall back to ``huduma-hq --demo`` on this machine's port 8100
with the public demo token, so a demo headquarters someone was running took the stray centre's figures as the
demo centre's and handed it a caller's booking. Only ``--demo-hq`` (``make run``) points a centre there now.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from centre_server.config import load_settings
from centre_server.contract import DEMO_HQ_TOKEN, DEMO_HQ_URL, demo_hq_token
from centre_server.dayclose.upstream import upstream_target
from tests.conftest import provision


def test_a_plain_demo_centre_reports_to_no_headquarters(tmp_path: Path) -> None:
    provision(tmp_path / "c", "init", str(tmp_path / "c"), "--demo")
    assert upstream_target(load_settings(tmp_path / "c")) == ("", "")


def test_demo_hq_points_the_centre_at_the_demo_headquarters_with_its_own_token(tmp_path: Path) -> None:
    provision(tmp_path / "a", "init", str(tmp_path / "a"), "--demo", "--demo-hq", "--short-targets")
    assert upstream_target(load_settings(tmp_path / "a")) == (DEMO_HQ_URL, DEMO_HQ_TOKEN)
    provision(tmp_path / "b", "init", str(tmp_path / "b"), "--demo", "--demo-hq", "--centre-id", "demo-thika",
              "--mqtt-port", "1884")
    assert upstream_target(load_settings(tmp_path / "b")) == (DEMO_HQ_URL, demo_hq_token("demo-thika"))
    assert demo_hq_token("demo-thika") != DEMO_HQ_TOKEN


def test_demo_hq_is_refused_for_a_real_centre(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--demo-hq is for a demo centre only"):
        provision(tmp_path / "r", "init", str(tmp_path / "r"), "--demo-hq")
    assert not (tmp_path / "r" / "centre.toml").exists()


def test_the_makefile_demo_centre_is_the_one_that_reports_to_the_demo_headquarters() -> None:
    """``make run`` + ``huduma-hq --demo`` must still find each other (README)."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "--demo --demo-hq" in makefile
