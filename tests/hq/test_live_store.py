"""A centre's live snapshot kept at headquarters: PostgreSQL's one-statement path and SQLite's agree.

PostgreSQL keeps a snapshot in one statement (``live_store.PUT_SNAPSHOT_PG``: the
envelope replaced only when newer, services upserted, those no longer listed
removed, a place kept only when the centre has none); SQLite (the demo) in
several. The same snapshots through both must leave the same rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from centre_server.contract.live import LiveSnapshot
from hq import live_store
from hq.store import Store
from tests.hq.conftest import pg_schema

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def snap(minute: int, services: dict[str, int], place: dict[str, Any] | None = None) -> LiveSnapshot:
    """A snapshot taken ``minute`` minutes after T0 with ``waiting`` per service."""
    body: dict[str, Any] = {
        "centre_id": "nakuru", "taken_at": (T0 + timedelta(minutes=minute)).isoformat(), "day": "2026-03-02",
        "timezone": "Africa/Nairobi", "catalogue_version": 3,
        "hours": {"open_today": True, "opens": "08:00", "closes": "17:00"},
        "services": [{"service_id": sid, "prefix": "K", "offered": True, "suspended": False, "reason": None,
                      "accepting": True, "waiting": waiting, "estimated_wait_s": waiting * 120, "open_counters": 2,
                      "service_level": 0.9, "measured": 10, "issued_today": 14 + minute}
                     for sid, waiting in services.items()]}
    if place is not None:
        body["place"] = place
    return LiveSnapshot.model_validate_json(json.dumps(body))


def held(store: Store) -> dict[str, Any]:
    """What headquarters holds for the centre: its envelope, each service's waiting, its place."""
    with store.tx() as cur:
        cur.execute("SELECT day, catalogue_version, taken_at, received_at FROM live_centres WHERE centre_id='nakuru'")
        head = cur.fetchone()
        cur.execute("SELECT service_id, data, taken_at, received_at FROM live_services WHERE centre_id='nakuru' "
                    "ORDER BY service_id")
        services = {r[0]: (json.loads(r[1])["waiting"], r[2], r[3]) for r in cur.fetchall()}
        cur.execute("SELECT county, town, latitude, longitude FROM centre_places WHERE centre_id='nakuru'")
        place = cur.fetchone()
    return {"head": tuple(head) if head else None, "services": services,
            "place": tuple(place) if place else None}


def day_of_snapshots(store: Store) -> list[tuple[str, dict[str, Any]]]:
    """A centre's morning: first snapshot, a newer one (a service gone, one new), a late retry, an empty one."""
    store.migrate()
    store.add_centre("nakuru", "Huduma Centre Nakuru")
    out = []
    nakuru = {"county": "Nakuru", "town": "Nakuru", "latitude": -0.28, "longitude": 36.07}
    out.append((live_store.put_snapshot(store, snap(0, {"kra-pin": 4, "nhif": 2, "id-card": 0}, nakuru), 100.0),
                held(store)))
    elsewhere = {"county": "Kisumu", "town": "Kisumu", "latitude": -0.1, "longitude": 34.75}
    out.append((live_store.put_snapshot(store, snap(1, {"kra-pin": 6, "passport": 1, "id-card": 3}, elsewhere),
                                        160.0), held(store)))
    out.append((live_store.put_snapshot(store, snap(0, {"kra-pin": 99}), 170.0), held(store)))  # a late retry
    out.append((live_store.put_snapshot(store, snap(2, {}), 220.0), held(store)))
    return out


def test_a_snapshot_replaces_the_last_whole_and_a_late_one_changes_nothing_on_postgresql_as_on_sqlite(
        tmp_path: Path) -> None:
    with pg_schema() as url:
        on_pg = day_of_snapshots(Store(url))
    on_sqlite = day_of_snapshots(Store(f"sqlite:///{tmp_path / 'hq.db'}"))
    assert on_pg == on_sqlite
    first, newer, late, empty = on_pg
    taken = [(T0 + timedelta(minutes=m)).timestamp() for m in range(3)]
    assert first[0] == "stored" and first[1]["services"] == {
        "id-card": (0, taken[0], 100.0), "kra-pin": (4, taken[0], 100.0), "nhif": (2, taken[0], 100.0)}
    assert first[1]["place"] == ("Nakuru", "Nakuru", -0.28, 36.07)
    assert newer[0] == "stored" and newer[1]["services"] == {  # nhif gone, passport new, the rest updated
        "id-card": (3, taken[1], 160.0), "kra-pin": (6, taken[1], 160.0), "passport": (1, taken[1], 160.0)}
    assert newer[1]["head"] == ("2026-03-02", 3, taken[1], 160.0)
    assert newer[1]["place"] == first[1]["place"]  # a centre's say never overrides the place held
    assert late[0] == "stale" and late[1] == newer[1]
    assert empty[0] == "stored" and empty[1]["services"] == {} and empty[1]["head"][2] == taken[2]
