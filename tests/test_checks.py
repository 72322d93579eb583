"""The checks that keep the code as it is meant to be: ruff (style and likely bugs), mypy (types),
import-linter (which room may import which). Configured in pyproject.toml; run here so `make test`
runs them too. Outside CI a tool that is not installed skips its check; in CI (CI=true) it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The tool beside this Python (the project's venv), else on PATH."""
    found = BIN / name
    if found.is_file():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        message = f"{name} is not installed: pip install -e '.[dev]'"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return on_path


def run(args: list[str], timeout: float = 300) -> None:
    """Run one check from the repository's root; its whole output is the failure message."""
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{output}", pytrace=False)


def test_ruff() -> None:
    run([tool("ruff"), "check", "--no-cache", "."])


def test_mypy() -> None:
    # the incremental cache (.mypy_cache) keeps a second run to a few seconds
    run([tool("mypy")])


def test_import_contracts() -> None:
    run([tool("lint-imports"), "--no-logo", "--no-cache"])
