"""The server lock: ``DIR/.server.lock``, held by a running server.

The command line takes it before it closes a day on a directory, to prove no
server writes there behind its back; beside a running server it refuses and
says how to close the day through that server instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from centre_server.dayclose.errors import DayCloseError

LOCK_NAME = ".server.lock"


@contextlib.contextmanager
def server_lock(directory: Path, *, wait: bool = False) -> Iterator[IO[str]]:
    """Held by a running server; the command line takes it to prove no server writes the directory."""
    path = Path(directory) / LOCK_NAME
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise DayCloseError(
                f"a centre server is running on {directory}: close the day through it with "
                f"`huduma-centre close-day {directory} --url http://HOST:PORT --user MANAGER`") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield fh
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
