"""``huduma-display`` on the command line: help, and a clear sentence for every mistake."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN

EXE = str(BIN / "huduma-display")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "KIVY_NO_ARGS": "1", "HOME": str(cwd or Path.home())})


def test_help_names_the_options_and_an_example():
    for flag in ("--help", "-h"):
        out = run(flag)
        assert out.returncode == 0
        for word in ("--config", "--demo", "--mode", "--counter", "--announce", "Example: huduma-display"):
            assert word in out.stdout


def bundle_file(tmp_path: Path, **changes) -> Path:
    bundle = {"centre_id": "demo", "centre_name": "Huduma Centre GPO", "device_id": "display-1", "kind": "display",
              "role": "display", "token": "x" * 20, "server_url": "http://127.0.0.1:8000",
              "mqtt_url": "mqtt://127.0.0.1:1", "counters": []}
    bundle.update(changes)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return path


@pytest.mark.parametrize("case,args,message", [
    ("nothing", [], "--config FILE (or --demo)"),
    ("missing file", ["--config", "{tmp}/nope.json"], "no such config file"),
    ("not json", ["--config", "{tmp}/bad.json"], "is not valid JSON"),
    ("not a bundle", ["--config", "{tmp}/other.json"], "is not a device bundle (check: centre_id"),
    ("counter without id", ["--config", "{tmp}/bundle.json", "--mode", "counter"], "needs --counter ID"),
    ("counter in hall mode", ["--config", "{tmp}/bundle.json", "--counter", "c01"], "only goes with --mode counter"),
    ("bad window", ["--config", "{tmp}/bundle.json", "--window", "big"], "WIDTHxHEIGHT"),
    ("both", ["--config", "{tmp}/bundle.json", "--demo"], "either --config FILE or --demo"),
])
def test_mistakes_get_one_clear_sentence_and_no_traceback(tmp_path, case, args, message):
    bundle_file(tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    out = run(*[a.format(tmp=tmp_path) for a in args], cwd=tmp_path)
    assert out.returncode != 0, case
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
