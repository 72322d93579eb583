"""``huduma-hq --demo``: a headquarters in a local SQLite file with the demo centre and simulated neighbours.

The demo centre (``huduma-provision init demo-centre --demo``, served by ``make run``)
sends to http://127.0.0.1:8100 with a fixed, public demo token; four neighbouring
centres get two weeks of days simulated through the real queue engine, so the
board has something to compare the demo centre with. The national catalogue
starts as version 1: the catalogue shipped in the package (demo data).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import date as Date, timedelta
from pathlib import Path

from hq.catalogue import CatalogueStore, seed_demo
from hq.store import Store

logger = logging.getLogger(__name__)

DEMO_DIR = Path("demo-hq")
DEMO_DB = f"sqlite:///{DEMO_DIR}/hq.db"
DEMO_PORT = 8100
DEMO_ADMIN = "admin"
DEMO_ACCOUNTS = {"admin": DEMO_ADMIN, "agent": "agent", "viewer": "viewer"}  # role -> the demo's username
DEMO_CENTRE = ("demo", "Huduma Centre GPO (demo)")
# The second demo centre (README: `huduma-provision init demo-centre-2 --demo --centre-id demo-thika ...`),
# with the public demo token of its id; both demo centres send live figures here.
SECOND_DEMO_CENTRE = ("demo-thika", "Huduma Centre Thika (demo)")
# Where the demo's centres are (county, town, latitude, longitude), for the public wait page.
PLACES = {"demo": ("Nairobi", "Nairobi", -1.2864, 36.8172), "demo-thika": ("Kiambu", "Thika", -1.0333, 37.0693),
          "city-square": ("Nairobi", "Nairobi", -1.2833, 36.8219), "mombasa": ("Mombasa", "Mombasa", -4.0435, 39.6682),
          "kisumu": ("Kisumu", "Kisumu", -0.0917, 34.7680), "nakuru": ("Nakuru", "Nakuru", -0.2833, 36.0667)}
NEIGHBOURS = [("city-square", "Huduma Centre City Square", 260, 11),
              ("mombasa", "Huduma Centre Mombasa", 220, 12),
              ("kisumu", "Huduma Centre Kisumu", 180, 13),
              ("nakuru", "Huduma Centre Nakuru", 200, 14)]


def prepare(store: Store) -> None:
    """Register the demo centre with the demo token (the centre side knows it too); publish catalogue version 1."""
    from centre_server.contract import DEMO_HQ_TOKEN, demo_hq_token
    from hq import live_store

    store.migrate()
    catalogues = CatalogueStore(store)
    catalogues.migrate()
    if seed_demo(catalogues):
        logger.info("demo: the shipped catalogue published as version 1")
    store.add_centre(DEMO_CENTRE[0], DEMO_CENTRE[1], DEMO_HQ_TOKEN, replace=True)
    store.add_centre(SECOND_DEMO_CENTRE[0], SECOND_DEMO_CENTRE[1], demo_hq_token(SECOND_DEMO_CENTRE[0]), replace=True)
    for cid, (county, town, lat, lon) in PLACES.items():
        live_store.set_place(store, cid, county, town, lat, lon)
    known = {c["id"] for c in store.centres()}
    for cid, name, _, _ in NEIGHBOURS:
        if cid not in known:
            store.add_centre(cid, name)  # a token nobody holds: the demo fills these centres itself


def demo_admin(store: Store, directory: Path = DEMO_DIR) -> str:
    """The demo's HQ admin's password (see ``demo_staff``)."""
    return demo_staff(store, directory)[DEMO_ADMIN][1]


def demo_staff(store: Store, directory: Path = DEMO_DIR) -> dict[str, tuple[str, str]]:
    """The demo's HQ accounts, one per role (admin, agent, viewer): role -> (username, password).

    The passwords are kept in ``demo-hq/demo-credentials.json``, like the centre's
    demo staff: the same at every start (a restart does not log the demo's users
    out); a new one when the file or the account is missing.
    """
    from hq.auth import Accounts, HqRole, new_password

    accounts = Accounts(store)
    accounts.migrate()
    creds = directory / "demo-credentials.json"
    known = {a["username"] for a in accounts.list()}
    try:
        saved = json.loads(creds.read_text())
        saved = saved if isinstance(saved, dict) else {}
    except (OSError, ValueError):
        saved = {}
    out: dict[str, tuple[str, str]] = {}
    changed = False
    for role in (HqRole.admin, HqRole.agent, HqRole.viewer):
        username = DEMO_ACCOUNTS[role]
        entry = saved.get(str(role))
        password = entry.get("password") if isinstance(entry, dict) else None
        if not (password and username in known):
            password = new_password()
            accounts.add(username, role, password, replace=username in known)
            saved[str(role)] = {"username": username, "password": password}
            changed = True
        out[str(role)] = (username, str(password))
    if changed:
        directory.mkdir(parents=True, exist_ok=True)
        creds.write_text(json.dumps(saved, indent=2))
        creds.chmod(0o600)
    return out


def seed_neighbours(store: Store, days: int = 14, today: Date | None = None) -> int:
    """Simulate the neighbours' last ``days`` closed days, up to yesterday (skipping days already stored); returns
    how many were added. Never today: a centre sends a day's summary when it closes, so a neighbour "complete"
    for today at 11:08 would be a day no real centre can have sent yet."""
    from centre_server.sim.daysim import simulate_engine_day

    today = today or Date.today()
    have = {(r["centre_id"], r["date"]) for r in store.summaries_between(
        (today - timedelta(days=days)).isoformat(), (today - timedelta(days=1)).isoformat())}
    added = 0
    for cid, name, citizens, seed in NEIGHBOURS:
        for back in range(days, 0, -1):
            day = (today - timedelta(days=back)).isoformat()
            if (cid, day) in have:
                continue
            n = citizens + (seed * 7 + back * 13) % 60 - 30
            data = simulate_engine_day(day, centre_id=cid, centre_name=name, citizens=n,
                                       seed=seed * 1000 + back, pace=1.0 + (seed % 3) * 0.1)
            store.put_summary(cid, f"{cid}:{day}:1", day, 1, data)
            added += 1
    logger.info("demo: %s simulated neighbour days added", added)
    return added


def seed_in_background(store: Store) -> threading.Thread:
    th = threading.Thread(target=seed_neighbours, args=(store,), name="demo-seed", daemon=True)
    th.start()
    return th
