"""Live figures upstream: the centre's queues now, to headquarters about once a minute.

Transport: the same outbound HTTPS link and centre token as the nightly
summaries (``dayclose/upstream.py``) and the catalogue (``catalogue/sync.py``).
A centre's LAN is not reachable from the internet, so the centre calls out;
HTTPS through the centre's router needs nothing more than what already works
for the summaries (no broker port opened at headquarters, no second set of
credentials). A snapshot is state, not history: nothing is queued. The thread
is a ``runtime.periodic.Periodic`` (one shape with the centre's other links to
headquarters): while headquarters is unreachable it backs off, and the first request that
gets through carries the snapshot taken at that moment, so a link down for
hours resumes with the latest figures and never a backlog.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from starlette.routing import Mount

from centre_server.contract.catalogue import Text
from centre_server.contract.live import LIVE_PATH, CentrePlace, HoursToday, LiveSnapshot, ServiceLive
from centre_server.dayclose.upstream import upstream_target
from centre_server.queue import engine
from centre_server.reports.live import live_day
from centre_server.runtime.centre import Centre
from centre_server.runtime.periodic import Backoff, HeadquartersLink, TryAgain
from centre_server.store import database as storage

logger = logging.getLogger(__name__)


def _hhmm(seconds: int | None) -> str | None:
    return None if seconds is None else f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def snapshot(centre: Centre) -> LiveSnapshot:
    """The centre's queues now, per service (the day's service level from ``reports.figures``, via ``live_day``)."""
    figs = live_day(centre)
    with centre.lock:
        state: engine.State = centre.state
        now = centre.clock()
        rows = {r["service_id"]: r for r in figs["services"]} if figs["date"] == state.day else {}
        local = engine.local_time(state, now)
        hours = state.policy.hours
        open_today = hours.is_open_day(local.date()) and engine.day_closed_reason(state, now) is None
        services = []
        for s in sorted(state.services.values(), key=lambda s: s.position):
            if not s.enabled:
                continue
            f = engine.service_figures(state, s.id, now)
            row: dict[str, Any] = rows.get(s.id, {})
            sus = s.suspension
            services.append(ServiceLive(
                service_id=s.id, prefix=s.prefix, offered=s.offered, suspended=sus is not None,
                reason=Text(en=sus.reason_en, sw=sus.reason_sw) if sus and sus.reason_en and sus.reason_sw else None,
                accepting=bool(f["accepting"]), waiting=f["queued"], in_hall=f["waiting"],
                on_the_way=f["on_the_way"],
                estimated_wait_s=None if f["estimated_wait_s"] is None else max(0, int(f["estimated_wait_s"])),
                open_counters=f["open_counters"], service_level=row.get("within_target_share"),
                measured=int(row.get("measured", 0)), issued_today=int(row.get("arrived", 0))))
        p = centre.settings.place
        place = CentrePlace(county=p.county, town=p.town, latitude=p.latitude, longitude=p.longitude) \
            if p.county else None
        return LiveSnapshot(
            centre_id=centre.settings.centre_id, taken_at=datetime.fromtimestamp(now, centre.tz), day=state.day,
            timezone=centre.settings.timezone, catalogue_version=centre.catalogue.version,
            hours=HoursToday(open_today=open_today, opens=_hhmm(hours.opening_s), closes=_hhmm(hours.closing_s)),
            place=place, services=services)


class LiveFeed(HeadquartersLink):
    """One thread: a snapshot every ``every_s`` while headquarters answers; backs off while it does not."""

    expected = (httpx.HTTPError,)
    user_agent = "huduma-centre-live/1"

    def __init__(self, centre: Centre, hq_url: str, hq_token: str, *, every_s: float = 60.0,
                 backoff: Backoff | None = None, timeout_s: float = 10.0) -> None:
        super().__init__("live-feed", "live figures to", hq_url, hq_token, every_s=every_s,
                         backoff=backoff or Backoff(base_s=min(5.0, every_s), cap_s=max(every_s, 300.0)),
                         timeout_s=timeout_s,
                         off_words="live figures upstream off (no [upstream] hq_url, or live_every_s = 0)")
        self.centre = centre
        self.sent = 0
        self.last_sent_at: float | None = None

    @classmethod
    def for_centre(cls, centre: Centre) -> LiveFeed:
        url, token = upstream_target(centre.settings)
        every = centre.settings.upstream.live_every_s
        feed = cls(centre, url, token, every_s=every,
                   backoff=Backoff.for_link(every, "LIVE", cap_at_least_s=300.0, cap_at_most_s=300.0))
        feed.install_id = storage.install_id(centre.db)
        return feed

    def run_once(self) -> None:
        self.send_once()

    def new_client(self) -> httpx.Client:
        # a connection per snapshot: a minute apart, a kept-alive one would only go stale behind NAT
        return httpx.Client(timeout=self.timeout_s, headers=self.client_headers(),
                            limits=httpx.Limits(max_keepalive_connections=0))

    def send_once(self) -> None:
        """Take a snapshot NOW and send it (a retry never sends an old one)."""
        body = snapshot(self.centre).model_dump_json()
        r = self.http.post(self.hq_url + LIVE_PATH, content=body,
                            headers={"Authorization": f"Bearer {self.hq_token}", "Content-Type": "application/json"})
        if not 200 <= r.status_code < 300:
            raise TryAgain(f"HTTP {r.status_code}: {r.text[:200]}")
        self.sent += 1
        self.last_sent_at = self.centre.clock()
        self.last_error = None


class LiveFeedExtension:
    """The live feed as a part of the running server."""

    name = "livefeed"
    on_committed = None

    def __init__(self) -> None:
        self.feed: LiveFeed | None = None

    def mounts(self) -> Sequence[Mount]:
        return ()

    def start(self, centre: Centre) -> None:
        self.feed = LiveFeed.for_centre(centre)
        centre.headquarters.add(self.feed)
        self.feed.start()

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
