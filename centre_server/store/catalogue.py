"""The national catalogue in the centre database: the versions received, the one running, the offerings.

The SQL on the catalogue's tables (migration ``store.migrations.catalogue``) lives
here, beside the schema, for the centre (which loads the running version at start)
and the catalogue room (which stores what it fetched and what a manager decided).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import sqlite_utils
from pydantic import ValidationError

from centre_server.contract.catalogue import Catalogue, Offering, OfferingStatus, Text
from centre_server.store.database import get_meta, set_meta
from centre_server.store.migrations.catalogue import SUSPENSION_EVENTS

logger = logging.getLogger(__name__)

APPLIED_KEY = "catalogue_applied"  # meta: "<version>|<applied at, POSIX seconds>"
REPORT_KEY = "catalogue_report_due"  # meta: since when a report to headquarters waits ("" when sent)
EPOCH_KEY = "catalogue_epoch"  # meta: headquarters' catalogue history the stored versions belong to ("": unknown)


def save_version(db: sqlite_utils.Database, catalogue: Catalogue, received_at: float) -> bool:
    """Keep a version received from headquarters; False when it was already kept."""
    with db.conn:
        cur = db.conn.execute(
            "INSERT OR IGNORE INTO catalogue_versions(version, received_at, published_at, data) VALUES (?,?,?,?)",
            [catalogue.version, received_at,
             catalogue.published_at.isoformat() if catalogue.published_at else None,
             catalogue.model_dump_json()])
    return cur.rowcount == 1


def epoch(db: sqlite_utils.Database) -> str:
    """The catalogue history (headquarters' epoch) this centre's versions come from; "" before the first."""
    return get_meta(db, EPOCH_KEY)


def set_epoch(db: sqlite_utils.Database, value: str) -> None:
    with db.conn:
        set_meta(db.conn, EPOCH_KEY, value)


def start_epoch(db: sqlite_utils.Database, catalogue: Catalogue, value: str, received_at: float) -> None:
    """Headquarters was rebuilt: its versions are numbered anew, so the old history's versions go (one
    transaction) and ``catalogue`` is the only one kept; the centre then runs it whatever its number."""
    with db.conn:
        db.conn.execute("DELETE FROM catalogue_versions")
        db.conn.execute(
            "INSERT INTO catalogue_versions(version, received_at, published_at, data) VALUES (?,?,?,?)",
            [catalogue.version, received_at,
             catalogue.published_at.isoformat() if catalogue.published_at else None,
             catalogue.model_dump_json()])
        set_meta(db.conn, EPOCH_KEY, value)


def newest(db: sqlite_utils.Database) -> Catalogue | None:
    """The newest stored version that still reads as a catalogue (a damaged row is skipped, with a warning)."""
    for version, data in db.execute("SELECT version, data FROM catalogue_versions ORDER BY version DESC"):
        try:
            return Catalogue.model_validate_json(data)
        except ValidationError as err:
            logger.warning("stored catalogue version %s does not read (%s); trying the one before", version, err)
    return None


def versions(db: sqlite_utils.Database) -> list[tuple[int, float, str | None]]:
    """(version, received at, published at) of every stored version, newest first."""
    return [tuple(r) for r in db.execute(
        "SELECT version, received_at, published_at FROM catalogue_versions ORDER BY version DESC")]


def applied(db: sqlite_utils.Database) -> tuple[int, float | None]:
    """The version this centre last ran and since when (0, None: the shipped one, never synced)."""
    version, _, at = get_meta(db, APPLIED_KEY).partition("|")
    try:
        return int(version), float(at)
    except ValueError:
        return 0, None


def set_applied(db: sqlite_utils.Database, version: int, at: float) -> None:
    """The version running from ``at`` on; headquarters is to hear of it (one transaction: one fsync)."""
    with db.conn:
        set_meta(db.conn, APPLIED_KEY, f"{version}|{at}")
        set_meta(db.conn, REPORT_KEY, repr(at))


def offerings(db: sqlite_utils.Database) -> dict[str, Offering]:
    """What a manager decided for each national service (a service never decided on is offered)."""
    out: dict[str, Offering] = {}
    for sid, status, en, sw, since, by in db.execute(
            "SELECT service_id, status, reason_en, reason_sw, since, by FROM catalogue_offerings"):
        try:
            out[sid] = Offering(service_id=sid, status=OfferingStatus(status),
                                reason=Text(en=en, sw=sw) if en and sw else None,
                                since=datetime.fromtimestamp(since, UTC), by=by)
        except (ValueError, ValidationError) as err:
            logger.warning("offering of %s does not read (%s): taken as offered", sid, err)
    return out


def save_offering(db: sqlite_utils.Database, offering: Offering, at: float) -> None:
    """A manager's decision; headquarters is to hear of it (one transaction: one fsync)."""
    since = (offering.since or datetime.now(UTC)).timestamp()
    with db.conn:
        set_meta(db.conn, REPORT_KEY, repr(at))
        db.conn.execute(
            "INSERT OR REPLACE INTO catalogue_offerings(service_id, status, reason_en, reason_sw, since, by) "
            "VALUES (?,?,?,?,?,?)",
            [offering.service_id, offering.status.value, offering.reason.en if offering.reason else None,
             offering.reason.sw if offering.reason else None, since, offering.by])


def suspensions_in_log(db: sqlite_utils.Database) -> list[tuple[float, str, dict]]:
    """Every suspension and resumption in the event log, oldest first: (at, type, data).

    The log is the truth of a suspension (the engine emitted it): replayed at start,
    it survives a restart even if the offering row was never written.
    """
    rows = db.execute(f"SELECT at, type, data FROM events WHERE {SUSPENSION_EVENTS} ORDER BY seq").fetchall()
    return [(at, etype, json.loads(data)) for at, etype, data in rows]


def report_due(db: sqlite_utils.Database) -> float | None:
    """Since when a report to headquarters waits, or None."""
    value = get_meta(db, REPORT_KEY)
    try:
        return float(value) if value else None
    except ValueError:
        return None


def set_report_due(db: sqlite_utils.Database, since: float) -> None:
    """A report waits (kept until sent, across restarts). Always the latest change's time: a report built
    before it and sent after it does not clear it (``clear_report_due`` compares)."""
    with db.conn:
        set_meta(db.conn, REPORT_KEY, repr(since))


def clear_report_due(db: sqlite_utils.Database, since: float) -> None:
    """The report due since ``since`` was sent: cleared, unless another change made one due meanwhile."""
    with db.conn:
        db.conn.execute("UPDATE meta SET value='' WHERE key=? AND value=?", [REPORT_KEY, repr(since)])
