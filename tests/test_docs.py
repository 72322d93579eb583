"""The documentation keeps up with the code: every command, topic and event type is written down.

In the style of sqlite-utils' ``tests/test_docs.py``: the commands are read from
the click groups of every entry point, the topics from ``contract.Topics`` and
the event types from ``contract.EventType``, and each must appear in the
documents a newcomer reads (README.md and docs/). A document that names another
document the repository does not hold sends the reader nowhere, so that fails
too.
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
from importlib.metadata import entry_points
from pathlib import Path

import click
import pytest

from centre_server.contract import EventType, Topics

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROGRAMS = ("huduma-centre", "huduma-provision", "huduma-hq", "huduma-bridge", "huduma-kiosk", "huduma-display",
            "huduma-mpesa-sim")
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def _program(name: str) -> click.Command:
    """The click command behind an entry point (a ``main()`` that calls its module's ``cli`` group, or the command)."""
    [ep] = [e for e in entry_points(group="console_scripts") if e.name == name]
    target = ep.load()
    return target if isinstance(target, click.Command) else importlib.import_module(ep.module).cli


def _commands() -> list[tuple[str, click.Command]]:
    """Every command line a user can type, e.g. ``huduma-provision counters add``, with its command."""
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, path: str) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, f"{path} {name}")

    for program in PROGRAMS:
        walk(_program(program), program)
    return found


def _text(paths: list[Path]) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


@pytest.fixture(scope="module")
def documented() -> str:
    """What a newcomer reads: the README and every document in docs/."""
    return _text([ROOT / "README.md", *sorted(DOCS.rglob("*.md"))])


@pytest.fixture(scope="module")
def docs_text() -> str:
    return _text(sorted(DOCS.rglob("*.md")))


@pytest.mark.parametrize("path", [p for p, _ in _commands()])
def test_commands_are_documented(documented: str, path: str) -> None:
    assert re.search(re.escape(path) + r"(?![\w-])", documented), f"`{path}` is not in README.md or docs/"


@pytest.mark.parametrize("path,command", _commands(), ids=[p for p, _ in _commands()])
def test_commands_have_help(path: str, command: click.Command) -> None:
    assert command.help, f"`{path}` has no help"


def _topics() -> list[str]:
    """Every topic ``Topics`` builds, as ``…/state/service/{}`` (ids as placeholders, subscriptions left out)."""
    topics = Topics("centre")
    shapes = []
    for name, member in inspect.getmembers(Topics):
        if name.startswith("_") or name.startswith("all_") or name == "parse":
            continue
        if isinstance(member, property):
            topic = getattr(topics, name)
        elif inspect.isfunction(member):
            params = list(inspect.signature(member).parameters)[1:]
            topic = getattr(topics, name)(*(f"{{{p}}}" for p in params))
        else:
            continue
        shapes.append("…/" + PLACEHOLDER.sub("{}", topic.removeprefix(topics.base + "/")))
    return sorted(shapes)


def test_every_topic_is_found() -> None:
    assert "…/state/service/{}" in _topics() and "…/event/{}" in _topics()


@pytest.mark.parametrize("topic", _topics())
def test_topics_are_documented(docs_text: str, topic: str) -> None:
    assert topic in PLACEHOLDER.sub("{}", docs_text), f"topic {topic} is not in docs/"


@pytest.mark.parametrize("event_type", [e.value for e in EventType])
def test_event_types_are_documented(docs_text: str, event_type: str) -> None:
    assert f"`{event_type}`" in docs_text, f"event type {event_type} is not in docs/"


def _repository_files() -> list[Path]:
    """The repository's own files (tracked or new, never ignored ones such as the venv or test artifacts)."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        paths = [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked sdist)
        paths = [p for p in ROOT.rglob("*") if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    return [p for p in paths if p.is_file()]


MARKDOWN_NAME = re.compile(r"[\w./-]*\w\.md\b")
LOST_DESIGN = re.compile("DESIGN" + r"(?:\.md|\s*§)")


def test_no_file_names_a_document_the_repository_lacks() -> None:
    files = _repository_files()
    held = {p.name for p in files if p.suffix == ".md"}
    lost = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        where = path.relative_to(ROOT)
        lost += [f"{where}: {m.group(0)}" for m in LOST_DESIGN.finditer(text)]
        lost += [f"{where}: {m.group(0)}" for m in MARKDOWN_NAME.finditer(text)
                 if Path(m.group(0)).name not in held]
    assert not lost, "documents named but not in the repository:\n" + "\n".join(lost)
