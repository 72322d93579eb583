"""Headquarters' store of live figures: the latest snapshot per centre and service, and where centres are.

Tables (the same SQL on PostgreSQL and SQLite):

- ``live_centres(centre_id, day, timezone, hours, catalogue_version, taken_at, received_at)``: one row per
  centre, its latest snapshot's envelope;
- ``live_services(centre_id, service_id, data, taken_at, received_at)``: one row per centre and service, the
  latest figures (a snapshot replaces every row of its centre);
- ``centre_places(centre_id, county, town, latitude, longitude)``: where a centre is, for the public page.

A snapshot older than the one held (a retry that arrives late) changes nothing.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from centre_server.contract.live import LiveSnapshot

logger = logging.getLogger(__name__)

class Store(Protocol):
    """What this module needs of ``hq.store.Store`` (which calls ``migrate_in`` here: no import back)."""

    is_pg: bool

    def tx(self) -> AbstractContextManager[Any]: ...


SCHEMA = [
    "CREATE TABLE IF NOT EXISTS live_centres (centre_id TEXT PRIMARY KEY, day TEXT NOT NULL, timezone TEXT NOT NULL, "
    "hours TEXT NOT NULL, catalogue_version INTEGER NOT NULL, taken_at DOUBLE PRECISION NOT NULL, "
    "received_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS live_services (centre_id TEXT NOT NULL, service_id TEXT NOT NULL, data TEXT NOT NULL, "
    "taken_at DOUBLE PRECISION NOT NULL, received_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (centre_id, service_id))",
    "CREATE INDEX IF NOT EXISTS live_services_by_service ON live_services (service_id)",
    "CREATE TABLE IF NOT EXISTS centre_places (centre_id TEXT PRIMARY KEY, county TEXT NOT NULL, town TEXT NOT NULL, "
    "latitude DOUBLE PRECISION, longitude DOUBLE PRECISION)",
]

STALE_AFTER_S = 5 * 60  # five missed minutes: the figures are shown as stale


def migrate_in(cur: Any) -> None:
    """Create the live tables inside ``Store.migrate``'s transaction."""
    for stmt in SCHEMA:
        cur.execute(stmt)


# PostgreSQL: the whole snapshot in one statement (one round trip, one transaction): the centre's envelope
# replaced only when newer (``head`` is empty otherwise, and nothing else changes), its place kept if it has
# none, its services upserted and those it no longer lists removed. 100 centres a minute each send one.
PUT_SNAPSHOT_PG = (
    "WITH head AS (INSERT INTO live_centres(centre_id, day, timezone, hours, catalogue_version, taken_at, "
    "received_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (centre_id) DO UPDATE SET day=excluded.day, "
    "timezone=excluded.timezone, hours=excluded.hours, catalogue_version=excluded.catalogue_version, "
    "taken_at=excluded.taken_at, received_at=excluded.received_at "
    "WHERE live_centres.taken_at < excluded.taken_at RETURNING centre_id), "
    "place AS (INSERT INTO centre_places(centre_id, county, town, latitude, longitude) "
    "SELECT centre_id, ?::text, ?::text, ?::float8, ?::float8 FROM head WHERE ?::boolean "
    "ON CONFLICT (centre_id) DO NOTHING), "
    "gone AS (DELETE FROM live_services WHERE centre_id IN (SELECT centre_id FROM head) "
    "AND NOT (service_id = ANY(?::text[]))), "
    "put AS (INSERT INTO live_services(centre_id, service_id, data, taken_at, received_at) "
    "SELECT head.centre_id, s.service_id, s.data, ?, ? FROM head, unnest(?::text[], ?::text[]) AS s(service_id, data) "
    "ON CONFLICT (centre_id, service_id) DO UPDATE SET data=excluded.data, taken_at=excluded.taken_at, "
    "received_at=excluded.received_at) "
    "SELECT COUNT(*) FROM head")


def put_snapshot(store: Store, snap: LiveSnapshot, now: float | None = None) -> str:
    """Keep ``snap`` as the centre's latest; ``stale`` when a newer one is held already (nothing changes)."""
    now = time.time() if now is None else now
    taken = snap.taken_at.timestamp()
    hours = snap.hours.model_dump_json()
    if store.is_pg:
        p = snap.place
        ids = [s.service_id for s in snap.services]
        with store.tx() as cur:
            cur.execute(PUT_SNAPSHOT_PG, [
                snap.centre_id, snap.day, snap.timezone, hours, snap.catalogue_version, taken, now,
                p.county if p else None, p.town if p else None, p.latitude if p else None,
                p.longitude if p else None, p is not None, ids, taken, now, ids,
                [s.model_dump_json() for s in snap.services]])
            return "stored" if cur.fetchone()[0] else "stale"
    with store.tx() as cur:
        cur.execute("INSERT INTO live_centres(centre_id, day, timezone, hours, catalogue_version, taken_at, "
                    "received_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (centre_id) DO UPDATE SET day=excluded.day, "
                    "timezone=excluded.timezone, hours=excluded.hours, catalogue_version=excluded.catalogue_version, "
                    "taken_at=excluded.taken_at, received_at=excluded.received_at "
                    "WHERE live_centres.taken_at < excluded.taken_at RETURNING centre_id",
                    [snap.centre_id, snap.day, snap.timezone, hours, snap.catalogue_version, taken, now])
        if cur.fetchone() is None:
            return "stale"
        if snap.place is not None:  # what the centre says of itself; `huduma-hq place-centre` overrides it
            p = snap.place
            cur.execute("INSERT INTO centre_places(centre_id, county, town, latitude, longitude) VALUES (?,?,?,?,?) "
                        "ON CONFLICT (centre_id) DO NOTHING",
                        [snap.centre_id, p.county, p.town, p.latitude, p.longitude])
        cur.execute("DELETE FROM live_services WHERE centre_id=?", [snap.centre_id])
        if snap.services:
            rows: list[Any] = []
            for s in snap.services:
                rows += [snap.centre_id, s.service_id, s.model_dump_json(), taken, now]
            values = ",".join(["(?,?,?,?,?)"] * len(snap.services))
            cur.execute(f"INSERT INTO live_services(centre_id, service_id, data, taken_at, received_at) "
                        f"VALUES {values}", rows)
    return "stored"


@dataclass
class Place:
    county: str
    town: str
    latitude: float | None
    longitude: float | None


def set_place(store: Store, centre_id: str, county: str, town: str, latitude: float | None,
              longitude: float | None) -> None:
    """Where a centre is (``huduma-hq place-centre``; the demo sets its centres')."""
    with store.tx() as cur:
        cur.execute("INSERT INTO centre_places(centre_id, county, town, latitude, longitude) VALUES (?,?,?,?,?) "
                    "ON CONFLICT (centre_id) DO UPDATE SET county=excluded.county, town=excluded.town, "
                    "latitude=excluded.latitude, longitude=excluded.longitude",
                    [centre_id, county, town, latitude, longitude])


def places(store: Store) -> dict[str, Place]:
    with store.tx() as cur:
        cur.execute("SELECT centre_id, county, town, latitude, longitude FROM centre_places")
        return {r[0]: Place(r[1], r[2], r[3], r[4]) for r in cur.fetchall()}


def latest(store: Store, service_id: str | None = None) -> list[dict[str, Any]]:
    """Every registered centre with its latest envelope and services' figures (only ``service_id``'s if given).

    Centres that never sent a snapshot are listed too (``taken_at`` None): the
    public page says "no live figures" for them rather than leaving them out.
    """
    with store.tx() as cur:
        cur.execute("SELECT c.id, c.name, l.day, l.timezone, l.hours, l.catalogue_version, l.taken_at, l.received_at, "
                    "p.county, p.town, p.latitude, p.longitude FROM centres c "
                    "LEFT JOIN live_centres l ON l.centre_id = c.id LEFT JOIN centre_places p ON p.centre_id = c.id "
                    "WHERE c.disabled = 0 ORDER BY c.name")
        heads = cur.fetchall()
        if service_id is None:
            cur.execute("SELECT centre_id, data FROM live_services")
        else:
            cur.execute("SELECT centre_id, data FROM live_services WHERE service_id=?", [service_id])
        svc_rows = cur.fetchall()
    by_centre: dict[str, list[dict[str, Any]]] = {}
    for cid, data in svc_rows:
        by_centre.setdefault(cid, []).append(json.loads(data))
    out = []
    for cid, name, day, tz, hours, version, taken, received, county, town, lat, lon in heads:
        out.append({"id": cid, "name": name, "day": day, "timezone": tz,
                    "hours": json.loads(hours) if hours else None, "catalogue_version": version,
                    "taken_at": taken, "received_at": received, "county": county, "town": town,
                    "latitude": lat, "longitude": lon, "services": by_centre.get(cid, [])})
    return out


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine): good to a few hundred metres at Kenya's scale."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))
