"""The one error of the day close: a close the centre cannot do, and what to do instead."""

from __future__ import annotations


class DayCloseError(Exception):
    """A close the centre cannot do (bad date, server running), with what to do instead."""
