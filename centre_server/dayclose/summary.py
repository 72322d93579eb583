"""What a day's summary is: the day's figures, read from the centre database.

The summary is computed from the event log (every call, recall, start, end,
transfer, no-show, cancellation and rating is an event with its time) and the
tickets table (which tickets belong to the day). It is a pure function of
those rows, so closing twice with the same data gives the same summary. Every
figure is defined once, in ``centre_server.reports.figures`` (the board, the
reports and headquarters use the same); this module only names them for the
day close.

Units: a *visit* is one ticket's stay in one service's queue (a transfer ends
one visit and starts another). Service rows count visits; the total and the
hour rows count tickets (citizens), by the hour their ticket was issued.
"""

from __future__ import annotations

import time
from typing import Any

import sqlite_utils

from centre_server.config import CentreSettings
from centre_server.reports import figures

SUMMARY_SCHEMA = figures.SUMMARY_SCHEMA
TICKET_EVENTS = figures.TICKET_EVENTS
COUNTER_EVENTS = figures.COUNTER_EVENTS

percentile = figures.percentile
summarise = figures.summarise


def compute_summary(db: sqlite_utils.Database, settings: CentreSettings, day: str,
                    now: float | None = None) -> dict[str, Any]:
    """Read the day's events and tickets from the centre database and summarise them."""
    return figures.compute_day(db, settings, day, time.time() if now is None else now)
