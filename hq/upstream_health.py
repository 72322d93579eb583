"""When each centre last called in, for the national board: its live snapshot, its night summary, its inbox poll.

A centre reaches headquarters only outbound (``hq/README.md``): when its link or
server is down, headquarters simply stops hearing from it, and nothing else says
so. The board therefore shows, per centre, when its last snapshot, its newest
day's summary and its last inbox poll arrived, and marks a centre **silent**:
nothing heard (snapshot or inbox poll) for more than five minutes while it is
open. "Open" comes from the hours in its latest snapshot; when that snapshot is
of an earlier day, the hours it last sent stand for today's (the centre has not
said otherwise), and a centre that never sent a snapshot is never called open.

Added to the board's answer per request, after ``board.board_data`` (whose
answers are kept until a summary changes, while these times move every minute).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

from hq import board, live_store
from hq.store import Store

logger = logging.getLogger(__name__)

SILENT_AFTER_S = live_store.STALE_AFTER_S  # five missed snapshots

HEARD_SQL = [
    "SELECT centre_id, day, timezone, hours, received_at FROM live_centres",
    # the newest day each centre has a summary for, by the primary key (centre_id, date): no scan of the history
    "SELECT d.centre_id, d.date, d.received_at, d.timezone FROM day_totals d JOIN (SELECT c.id AS cid, "
    "(SELECT MAX(e.date) FROM day_totals e WHERE e.centre_id = c.id) AS newest FROM centres c) m "
    "ON d.centre_id = m.cid AND d.date = m.newest",
    "SELECT centre_id, last_poll_at FROM hq_centre_polls",
]


def open_now(hours: dict[str, Any], day: str, tz: str, now: float) -> bool | None:
    """Whether the centre is open at ``now`` by the hours it sent for ``day`` (None: it never said)."""
    local = datetime.fromtimestamp(now, board.zone(tz))
    if day == local.date().isoformat() and not hours.get("open_today"):
        return False  # it said it does not open today (a Sunday, a holiday, closed early)
    opens, closes = hours.get("opens"), hours.get("closes")
    if not opens:
        return None
    hhmm = local.strftime("%H:%M")
    return opens <= hhmm < (closes or "24:00")


def heard(store: Store, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Per centre id: when headquarters last heard from it, and whether it is silent while open."""
    now = time.time() if now is None else now
    with store.tx() as cur:
        results = []
        for sql in HEARD_SQL:
            cur.execute(sql)
            results.append(cur.fetchall())
    live, summaries, polls = results
    out: dict[str, dict[str, Any]] = {}

    def entry(cid: str) -> dict[str, Any]:
        return out.setdefault(cid, {"snapshot": None, "summary": None, "inbox": None, "open_now": None,
                                    "silent": False, "silent_s": None, "timezone": None})

    for cid, day, tz, hours, received in live:
        e = entry(cid)
        e["timezone"] = tz
        e["snapshot"] = {**(board.local_time(received, tz) or {}), "age_s": max(0, int(now - received))}
        try:
            e["open_now"] = open_now(json.loads(hours), day, tz, now)
        except (ValueError, TypeError, AttributeError):
            logger.warning("centre %s: hours %r unreadable", cid, hours)
    for cid, date, received, tz in summaries:
        e = entry(cid)
        # ``day``: the centre's newest day held; ``date``/``time``: when that summary arrived, in its time zone
        e["summary"] = {**(board.local_time(received, e["timezone"] or tz) or {}), "day": date}
    for cid, polled in polls:
        e = entry(cid)
        e["inbox"] = {**(board.local_time(polled, e["timezone"]) or {}), "age_s": max(0, int(now - polled))}
    for e in out.values():
        ages = [x["age_s"] for x in (e["snapshot"], e["inbox"]) if x is not None]
        e["silent_s"] = min(ages) if ages else None
        e["silent"] = bool(e["open_now"]) and e["silent_s"] is not None and e["silent_s"] > SILENT_AFTER_S
    return out


def add_upstream_health(data: dict[str, Any], store: Store, now: float | None = None) -> dict[str, Any]:
    """Each of the board's centres with ``upstream`` (``heard``'s entry; all None for one never heard from)."""
    found = heard(store, now)
    silent = 0
    for c in data.get("centres", []):
        c["upstream"] = found.get(c["id"]) or {"snapshot": None, "summary": None, "inbox": None, "open_now": None,
                                               "silent": False, "silent_s": None, "timezone": None}
        silent += c["upstream"]["silent"]
    data["centres_silent"] = silent
    return data
