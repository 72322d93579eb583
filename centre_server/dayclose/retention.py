"""Phone erasure: a closed day keeps no phone numbers (after ``[day] phone_retention_days``).

The numbers go from the tickets and their events, the channels' tables, the
running engine's memory and the demo SMS gateway's log, in one pass that the
manager's close, the closing-time close and the midnight roll-over all share.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import date as Date, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from centre_server.config import CentreSettings
from centre_server.reports.figures import day_bounds
from centre_server.store import payments as payment_store

logger = logging.getLogger(__name__)

# SMS kinds that serve an appointment still ahead: a pending one keeps its number until sent
FUTURE_KINDS = ("book_confirm", "booked")


def erase_phones(db: sqlite_utils.Database, day: str, retention_days: int = 0,
                 centre: Any | None = None, settings: CentreSettings | None = None) -> int:
    """Erase the phone numbers of ``day`` and before (minus the retention) from every table, memory and the SMS log.

    Tables: tickets and their ``ticket_issued`` events (finished tickets),
    ``remote_codes``, ``sms_outbox`` (sent or failed messages; a pending one
    for a ticket of those days is given up, it cannot matter any more),
    ``sms_inbox``, ``appointments`` whose slot was on those days or that
    are no longer booked, and the payments' (M-Pesa receipt numbers stay).
    A manager's close, the closing-time close and the midnight roll-over
    all close through here. Returns how many rows lost a
    number (tickets first: the figure the close reports).
    """
    upto = (Date.fromisoformat(day) - timedelta(days=retention_days)).isoformat()
    tz = settings.timezone if settings is not None else (centre.settings.timezone if centre is not None else None)
    end = day_bounds(upto, tz)[1] if tz else None
    final = ("done", "no_show", "cancelled")
    lock = centre.lock if centre is not None else contextlib.nullcontext()
    channel_rows = 0
    with lock:
        if centre is not None:  # the running engine's copy would write the number back on its next commit
            for t in centre.state.tickets.values():
                if t.day <= upto and t.state.value in final:
                    t.phone = None
        conn = db.conn
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM tickets WHERE day<=? AND state IN ('done','no_show','cancelled') "
                "AND phone IS NOT NULL", [upto]).fetchall()]
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"UPDATE tickets SET phone=NULL WHERE id IN ({marks})", chunk)
            # the events too, also of tickets whose row the midnight roll-over already cleared
            conn.execute("UPDATE events SET data=json_set(data, '$.phone', NULL) WHERE type='ticket_issued' "
                         "AND json_extract(data, '$.phone') IS NOT NULL AND json_extract(data, '$.ticket_id') IN "
                         "(SELECT id FROM tickets WHERE day<=? AND state IN ('done','no_show','cancelled'))", [upto])
            if end is not None:
                channel_rows = _erase_channel_phones(conn, upto, end, time.time())
            channel_rows += payment_store.erase_phones(conn, upto)  # M-Pesa prompts' phones; receipts stay
    logged = 0
    if end is not None and settings is not None:
        logged = _erase_log(settings, end)
    logger.info("erased phone numbers up to %s: %s tickets, %s channel rows, %s SMS log lines",
                upto, len(ids), channel_rows, logged)
    return len(ids)


def _erase_channel_phones(conn: Any, upto: str, end: float, now: float) -> int:
    """The channels' tables (issue 10): every number of those days, in the close's transaction."""
    n = 0
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()}
    if "remote_codes" in tables:
        n += conn.execute("UPDATE remote_codes SET phone=NULL WHERE day<=? AND phone IS NOT NULL", [upto]).rowcount
    if "sms_outbox" in tables:
        marks = ",".join("?" * len(FUTURE_KINDS))
        n += conn.execute(
            "UPDATE sms_outbox SET failed_at=?, last_error='phone number erased at the day close' "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND created_at < ? AND phone != '' "
            f"AND kind NOT IN ({marks})", [now, end, *FUTURE_KINDS]).rowcount
        n += conn.execute("UPDATE sms_outbox SET phone='' WHERE created_at < ? AND phone != '' "
                          "AND (sent_at IS NOT NULL OR failed_at IS NOT NULL)", [end]).rowcount
    if "sms_inbox" in tables:
        n += conn.execute("UPDATE sms_inbox SET phone=NULL WHERE at < ? AND phone IS NOT NULL", [end]).rowcount
    if "appointments" in tables:
        n += conn.execute(
            "UPDATE appointments SET phone=NULL WHERE phone IS NOT NULL AND (slot_at < ? OR "
            "(state NOT IN ('booked','pending') AND COALESCE(updated_at, created_at) < ?))", [end, end]).rowcount
    return n


def _erase_log(settings: CentreSettings, end: float) -> int:
    """The demo SMS gateway's log file (``[channels] sms_log``): numbers of messages sent before ``end``."""
    from centre_server.channels.settings import ChannelConfigError, load_channel_settings
    from centre_server.channels.sms import erase_log_phones, log_path

    try:
        path = log_path(load_channel_settings(settings.directory), Path(settings.directory))
    except ChannelConfigError as err:
        logger.warning("SMS log not erased: %s", err)
        return 0
    if path is None:
        return 0
    try:
        return erase_log_phones(path, end)
    except OSError as err:
        logger.error("cannot erase the phone numbers in %s: %s", path, err)
        return 0
