"""The protocol document's example frames are real frames, and every verb is documented."""

from __future__ import annotations

import re
from pathlib import Path

from firmware_bridge import frames

README = Path(frames.__file__).parent / "README.md"


def test_every_example_frame_in_the_readme_parses() -> None:
    text = README.read_text()
    found = re.findall(r"\$\d+,[A-Z]+[^`\s]*\*[0-9A-Fa-f]{2}", text)
    assert len(found) > 20
    for line in found:
        frame = frames.parse(line.encode())  # raises on a wrong checksum
        assert frame.verb in frames.DEVICE_VERBS | frames.BRIDGE_VERBS, line


def test_every_verb_and_key_is_documented() -> None:
    text = README.read_text()
    for verb in frames.DEVICE_VERBS | frames.BRIDGE_VERBS:
        assert f"| `{verb}` |" in text, verb
    for key in frames.KEYS:
        assert f"$1,KEY,{key}*" in text, key
