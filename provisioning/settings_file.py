"""Editing centre.toml in place, by a TOML library.

The technician (or the installer) comments and arranges centre.toml; the tool
changes only the values it must (the server's broker credentials) and keeps
everything else as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tomlkit
from tomlkit.items import Table

logger = logging.getLogger(__name__)


def set_values(path: Path, section: str, values: dict[str, str]) -> None:
    """Set string keys of one ``[section]`` of a TOML file, keeping its comments and layout.

    The file is left readable by its owner only: it holds the server's broker password.
    """
    doc = tomlkit.parse(path.read_text())
    table = doc.get(section)
    if not isinstance(table, Table):
        table = tomlkit.table()
        doc[section] = table
    for key, value in values.items():
        table[key] = value
    path.write_text(tomlkit.dumps(doc))
    path.chmod(0o600)
