"""The call centre's requests this centre has answered (issue 22): each answered once, the same answer again."""

from __future__ import annotations

from typing import Any


def national_inbox(db: Any) -> None:
    """A request from headquarters' inbox (a look-up, a booking for a caller) and the answer given: a booking
    handed out again (its answer lost on the way) is answered from here, never booked twice."""
    db.execute("CREATE TABLE national_requests (request_id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
               "answer TEXT NOT NULL, answered_at REAL NOT NULL, sent INTEGER NOT NULL DEFAULT 0)")
