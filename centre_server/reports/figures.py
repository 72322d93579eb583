"""Every figure of a centre's day, defined once: the board, the reports, the day close and HQ all read these.

Before this module a day's figures were computed in four places with four
slightly different definitions (two percentiles, two meanings of "served"),
so the same day showed one p90 on the board and another once closed. Now:

* **Source.** A day's figures are a pure function of its events (the
  append-only log) and, for a day still open, the moment they are read:
  ``summarise``. ``compute_day`` reads the events from the database;
  ``reports.live.live_day`` keeps the open day's events in memory, reading only the new
  ones on each call (the board asks after every event).
* **Visit.** One ticket's stay in one service's queue; a transfer ends one
  visit and begins another. Service rows count visits; the total and the
  hour rows count tickets (citizens), by the hour of issue.
* **Wait.** From entering the queue (issue or transfer) to the visit's
  first call.
* **Served.** A visit ended by ``ticket_done`` from a clerk. A ticket that
  the day's close finished (``ticket_done`` with outcome ``day_closed``,
  called or at the counter when the day closed) was not served: it counts
  as cancelled, and has no service time.
* **Service time.** From the start (or the last call or recall, if the clerk
  did not press start) to done, over served visits.
* **Percentile.** Nearest rank: the smallest value with at least q % of the
  values at or below it (``percentile``); for waits 1..10 s the p90 is 9 s.
* **Mean, median.** Of the values present, in seconds to one decimal.
* **Service level.** ``within_target / measured``: ``measured`` counts the
  visits that were called, plus those never called that waited longer than
  the service's target (until they ended, or until now when still
  waiting), but not a web, SMS or USSD ticket never checked in (its citizen
  never waited in the hall); ``within_target`` counts the calls within the target. A citizen
  still waiting past the target counts against the centre at once, and
  still does once the close cancels the ticket, so the figure does not jump
  at the close. ``measured_not_called`` counts those never-called visits: the
  waits (mean, max) are of called visits only, so the reports show the share
  "incl. N not called" beside them.
* **Shares.** Of arrivals, to four decimals.
* **Parked.** A parked visit (sent to fetch a document) stays one visit; its
  service time adds the time at the counter before the park to the time after
  the call back. A ticket still parked at the close is cancelled.
* **Per counter and per clerk** (``staff_rows``): *served*, *no-shows* and
  *outcome codes* count visits ended there (the clerk is the one who called the
  ticket to that counter); *service time* as above; *busy* is the time a ticket
  was at the counter (from each call to its done, no-show, transfer, park or
  the next call); *idle share* is ``1 - busy / staffed`` over the time the
  counter was open and not paused (a clerk's: the time a counter was open in
  their name). Headquarters gets the clerk rows under a per-centre pseudonym
  (``clerk_pseudonym``: a keyed hash that only the centre can link to a name),
  never the staff username.
* **One-stop visit** (not the ``Visit`` above): a ticket that planned or took
  more than one service (docs/design.md §3). Each of its services is a
  ``Visit`` of kind ``step`` after the first, so service rows count it where it
  was served. ``visits`` (the optional block of the summary) counts them, the
  services planned and served, and the **time in the centre**: from the
  ticket's issue to its last service's completion, over the visits completed
  (every planned service served).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date as Date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centre_server.contract import (
    CounterOpened,
    CounterResumed,
    Event,
    FeedbackGiven,
    TicketCalled,
    TicketCancelled,
    TicketCheckedIn,
    TicketDone,
    TicketEvent,
    TicketIssued,
    TicketNoShow,
    TicketReactivated,
    TicketRecalled,
    TicketStarted,
    TicketTransferred,
    counter_of,
    event_from_row,
    ticket_of,
)
from centre_server.contract.events import TicketParked, VisitChanged, VisitPlanned, VisitStepQueued

logger = logging.getLogger(__name__)

SUMMARY_SCHEMA = 1
TICKET_EVENTS = ("ticket_issued", "ticket_called", "ticket_recalled", "ticket_started", "ticket_done",
                 "ticket_no_show", "ticket_transferred", "ticket_cancelled", "ticket_reactivated",
                 "feedback_given", "ticket_parked", "visit_planned", "visit_changed", "visit_step_queued",
                 "ticket_checked_in")
COUNTER_EVENTS = {"counter_opened": "open", "counter_resumed": "open", "counter_paused": "paused",
                  "counter_closed": "closed"}
DEFAULT_TARGET_S = 1800
# outcomes of ``ticket_done`` that are not a service: the close finishing what was left at a counter
NOT_SERVED_OUTCOMES = frozenset({"day_closed", "closing_time", "closed_by_manager"})


# --------------------------------------------------------------------------
# The definitions
# --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it; None if empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(1, math.ceil(q / 100 * len(s)))
    return s[k - 1]


def seconds(x: float | None) -> float | None:
    """A duration as the figures show it: seconds to one decimal."""
    return None if x is None else round(float(x), 1)


def mean(values: list[float]) -> float | None:
    return seconds(statistics.fmean(values)) if values else None


def median(values: list[float]) -> float | None:
    return seconds(statistics.median(values)) if values else None


def share(part: int, whole: int) -> float | None:
    """A share to four decimals; None when there is nothing to share."""
    return round(part / whole, 4) if whole else None


def satisfaction(ratings: list[int]) -> dict[str, Any]:
    return {"satisfaction_mean": round(statistics.fmean(ratings), 2) if ratings else None,
            "satisfaction_count": len(ratings)}


# --------------------------------------------------------------------------
# Visits and tickets, from the events
# --------------------------------------------------------------------------


@dataclass
class Visit:
    """One ticket's stay in one service's queue."""

    ticket_id: str
    service_id: str
    entered_at: float
    kind: str  # "issued", "transfer" or "step" (a one-stop visit's next service)
    first_call_at: float | None = None
    last_call_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # served | no_show | cancelled | transferred | None (still open)
    counter_id: str | None = None
    service_time_s: float | None = None
    clerk: str | None = None  # who called it to the counter it ended at
    code: str | None = None  # the outcome code a clerk picked (served visits)
    # times at counters: (counter, clerk, from, to); the open one is ``held``
    sessions: list[tuple[str, str | None, float, float]] = field(default_factory=list)
    held: tuple[str, str | None, float] | None = None
    served_before_s: float = 0.0  # service time before a park, added at the end
    away: bool = False  # a web, SMS or USSD ticket not checked in: its citizen is not in the hall

    def leave(self, at: float) -> None:
        """The ticket leaves the counter it is at (done, no-show, transfer, park, cancel)."""
        if self.held is not None:
            cid, clerk, since = self.held
            self.sessions.append((cid, clerk, since, max(since, at)))
            self.held = None

    @property
    def wait_s(self) -> float | None:
        return None if self.first_call_at is None else self.first_call_at - self.entered_at


@dataclass
class TicketStory:
    ticket_id: str
    issued_at: float
    visits: list[Visit] = field(default_factory=list)
    rating: int | None = None
    rating_service_id: str | None = None
    next_planned: list[str] = field(default_factory=list)  # a one-stop visit's services still ahead
    multi: bool = False  # more than one service planned or taken: a one-stop visit

    @property
    def outcome(self) -> str | None:
        return self.visits[-1].outcome if self.visits else None


def fold(stories: dict[str, TicketStory], ev: Event) -> None:
    """Apply one ticket event to the stories; events come in seq order."""
    d = ev.data
    at = ev.at
    if isinstance(d, TicketIssued):
        s = TicketStory(ticket_id=d.ticket_id, issued_at=at)
        s.visits.append(Visit(d.ticket_id, d.service_id, at, "issued", away=not d.checked_in))
        stories[d.ticket_id] = s
        return
    if not isinstance(d, TicketEvent):
        return
    tid = d.ticket_id
    s = stories.get(tid)
    if s is None or not s.visits:
        return
    v = s.visits[-1]
    if isinstance(d, TicketCheckedIn):
        v.away = False
    elif isinstance(d, TicketCalled):
        v.leave(at)
        if v.first_call_at is None:
            v.first_call_at = at
        v.last_call_at = at
        v.started_at = None
        v.counter_id = d.counter_id
        v.clerk = d.clerk
        v.held = (d.counter_id, d.clerk, at)
    elif isinstance(d, TicketRecalled):
        v.last_call_at = at
    elif isinstance(d, TicketStarted):
        v.started_at = at
    elif isinstance(d, TicketDone):
        v.ended_at = at
        v.leave(at)
        if d.outcome in NOT_SERVED_OUTCOMES:  # finished by the close, not by a clerk
            v.outcome, v.service_time_s = "cancelled", None
        else:
            v.outcome = "served"
            v.code = d.outcome or "served"
            begun = v.started_at or v.last_call_at
            v.service_time_s = v.served_before_s + (at - begun) if begun is not None else None
    elif isinstance(d, TicketParked):
        v.leave(at)
        begun = v.started_at or v.last_call_at
        if begun is not None:
            v.served_before_s += at - begun
        v.started_at = None
    elif isinstance(d, TicketNoShow):
        v.outcome, v.ended_at = "no_show", at
        v.leave(at)
    elif isinstance(d, TicketReactivated):
        v.outcome, v.ended_at = None, None
    elif isinstance(d, TicketCancelled):
        v.outcome, v.ended_at = "cancelled", at
        v.leave(at)
    elif isinstance(d, TicketTransferred):
        v.outcome, v.ended_at = "transferred", at
        v.leave(at)
        s.visits.append(Visit(tid, d.to_service_id, at, "transfer"))
    elif isinstance(d, FeedbackGiven):
        s.rating = d.rating
        s.rating_service_id = d.service_id
    elif isinstance(d, (VisitPlanned, VisitChanged)):
        s.next_planned = list(d.next_services)
        s.multi = s.multi or bool(d.next_services)
    elif isinstance(d, VisitStepQueued):
        s.next_planned = list(d.next_services)
        s.multi = True
        s.visits.append(Visit(tid, d.service_id, at, "step"))


def stories_from_events(events: list[Event]) -> dict[str, TicketStory]:
    """Replay the ticket events (in seq order) into visits per ticket."""
    stories: dict[str, TicketStory] = {}
    for ev in events:
        fold(stories, ev)
    return stories


# --------------------------------------------------------------------------
# Figures over visits and tickets
# --------------------------------------------------------------------------


def service_level(visits: list[Visit], targets: dict[str, int], now: float) -> tuple[int, int, int]:
    """(within_target, measured, not_called) as defined at the top of this module; ``not_called``: of the
    measured, those never called (still waiting past the target, or ended uncalled after it), which the
    waits (called visits only) do not hold: the reports say so beside the share."""
    within = measured = not_called = 0
    for v in visits:
        target = targets.get(v.service_id, DEFAULT_TARGET_S)
        if v.first_call_at is not None:
            measured += 1
            within += v.first_call_at - v.entered_at <= target
        elif v.away:
            continue  # never checked in, never called: a citizen at home, not a wait in the hall (README)
        elif (v.ended_at if v.ended_at is not None else now) - v.entered_at > target:
            measured += 1  # never called, and waited past the target: against the centre
            not_called += 1
    return within, measured, not_called


def wait_figures(visits: list[Visit], targets: dict[str, int], now: float) -> dict[str, Any]:
    """Waits, service times and the service level of some visits."""
    waits = [v.wait_s for v in visits if v.wait_s is not None]
    services = [v.service_time_s for v in visits if v.outcome == "served" and v.service_time_s is not None]
    within, measured, not_called = service_level(visits, targets, now)
    return {
        "wait_mean_s": mean(waits),
        "wait_median_s": median(waits),
        "wait_p90_s": seconds(percentile(waits, 90)),
        "wait_max_s": seconds(max(waits)) if waits else None,
        "service_mean_s": mean(services),
        "service_median_s": median(services),
        "service_p90_s": seconds(percentile(services, 90)),
        "service_max_s": seconds(max(services)) if services else None,
        "within_target": within,
        "measured": measured,
        "within_target_share": share(within, measured),
        "measured_not_called": not_called,  # in ``measured``, never called: no wait of theirs in the waits
    }


def with_shares(row: dict[str, Any]) -> dict[str, Any]:
    """Served and no-show shares of arrivals."""
    row["served_share"] = share(row["served"], row["arrived"])
    row["no_show_share"] = share(row["no_shows"], row["arrived"])
    return row


def ticket_figures(stories: list[TicketStory], targets: dict[str, int], now: float) -> dict[str, Any]:
    """Figures over tickets (citizens): the total and the hour rows."""
    visits = [v for s in stories for v in s.visits]
    return with_shares({
        "arrived": len(stories),
        "served": sum(1 for s in stories if s.outcome == "served"),
        "no_shows": sum(1 for s in stories if s.outcome == "no_show"),
        "cancelled": sum(1 for s in stories if s.outcome == "cancelled"),
        "unfinished": sum(1 for s in stories if s.outcome is None),
        "transfers": sum(1 for v in visits if v.kind == "transfer"),
        **wait_figures(visits, targets, now),
        **satisfaction([s.rating for s in stories if s.rating]),
    })


def one_stop_figures(stories: list[TicketStory]) -> dict[str, Any]:
    """The one-stop visits of some tickets: how many, services per visit, time in the centre."""
    multi = [s for s in stories if s.multi]
    planned = [sum(1 for v in s.visits if v.kind != "transfer") + len(s.next_planned) for s in multi]
    completed = [s for s in multi if s.outcome == "served" and not s.next_planned]
    times = [s.visits[-1].ended_at - s.issued_at for s in completed if s.visits[-1].ended_at is not None]
    return {
        "visits": len(multi),
        "completed": len(completed),
        "services_planned": sum(planned),
        "services_served": sum(1 for s in multi for v in s.visits if v.outcome == "served"),
        "services_per_visit_mean": round(statistics.fmean(planned), 2) if planned else None,
        "time_in_centre_mean_s": mean(times),
        "time_in_centre_median_s": median(times),
        "time_in_centre_p90_s": seconds(percentile(times, 90)),
        "time_in_centre_max_s": seconds(max(times)) if times else None,
    }


def visit_figures(visits: list[Visit], targets: dict[str, int], now: float) -> dict[str, Any]:
    """Figures over visits: a service's row."""
    return with_shares({
        "arrived": len(visits),
        "issued": sum(1 for v in visits if v.kind == "issued"),
        "transfers_in": sum(1 for v in visits if v.kind == "transfer"),
        "steps_in": sum(1 for v in visits if v.kind == "step"),
        "served": sum(1 for v in visits if v.outcome == "served"),
        "no_shows": sum(1 for v in visits if v.outcome == "no_show"),
        "cancelled": sum(1 for v in visits if v.outcome == "cancelled"),
        "unfinished": sum(1 for v in visits if v.outcome is None),
        "transfers": sum(1 for v in visits if v.outcome == "transferred"),
        **wait_figures(visits, targets, now),
    })


def _intervals(prior: dict[str, str], counter_events: list[Event], start: float,
               end: float) -> dict[str, list[tuple[float, float]]]:
    """Staffed (open, not paused) intervals per counter, clipped to [start, end)."""
    state = dict(prior)
    since: dict[str, float] = {cid: start for cid, st in state.items() if st == "open"}
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for ev in counter_events:
        cid = counter_of(ev.data)
        if cid is None:
            continue
        new = COUNTER_EVENTS[ev.type]
        at = min(max(ev.at, start), end)
        if state.get(cid) == "open" and new != "open":
            if at > since[cid]:
                out[cid].append((since[cid], at))
            since.pop(cid, None)
        elif state.get(cid) != "open" and new == "open":
            since[cid] = at
        state[cid] = new
    for cid, t0 in since.items():
        if end > t0:
            out[cid].append((t0, end))
    return out


def _overlap(spans: list[tuple[float, float]], a: float, b: float) -> float:
    return sum(max(0.0, min(e, b) - max(s, a)) for s, e in spans)


def _clerk_spans(prior: dict[str, str], counter_events: list[Event], start: float,
                 end: float) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Staffed intervals per (counter, clerk): a counter is staffed in the name of the clerk who opened or
    resumed it. A counter already open at the day's start, by a clerk the day's events do not name, is left
    out (its counter row still counts it)."""
    clerk_of: dict[str, str | None] = {}
    since: dict[str, float] = {}
    state = dict(prior)
    out: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)

    def stop(cid: str, at: float) -> None:
        who, t0 = clerk_of.get(cid), since.pop(cid, None)
        if who and t0 is not None and at > t0:
            out[(cid, who)].append((t0, at))

    for ev in counter_events:
        cid = counter_of(ev.data)
        if cid is None:
            continue
        new = COUNTER_EVENTS[ev.type]
        at = min(max(ev.at, start), end)
        if isinstance(ev.data, (CounterOpened, CounterResumed)) and ev.data.clerk:
            if state.get(cid) == "open" and clerk_of.get(cid) != ev.data.clerk:
                stop(cid, at)  # another clerk takes the open counter over
            clerk_of[cid] = ev.data.clerk
        if state.get(cid) == "open" and new != "open":
            stop(cid, at)
        elif new == "open" and cid not in since:
            since[cid] = at
        state[cid] = new
    for cid in list(since):
        stop(cid, end)
    return out


def clerk_pseudonym(key: str, clerk: str) -> str:
    """A clerk as headquarters sees them: the same name every day at this centre, linkable to the person
    only with the centre's own key (kept in its database, never sent)."""
    return "clerk-" + hmac.new(key.encode(), clerk.encode(), hashlib.sha256).hexdigest()[:10]


def _staff_figures(visits: list[Visit], busy_s: float, staffed_s: float) -> dict[str, Any]:
    served = [v for v in visits if v.outcome == "served"]
    times = [v.service_time_s for v in served if v.service_time_s is not None]
    codes: dict[str, int] = defaultdict(int)
    for v in served:
        codes[v.code or "served"] += 1
    return {
        "served": len(served),
        "no_shows": sum(1 for v in visits if v.outcome == "no_show"),
        "service_mean_s": mean(times),
        "service_p90_s": seconds(percentile(times, 90)),
        "staffed_hours": round(staffed_s / 3600, 2),
        "busy_hours": round(busy_s / 3600, 2),
        "idle_share": round(max(0.0, staffed_s - busy_s) / staffed_s, 4) if staffed_s > 0 else None,
        "outcomes": dict(sorted(codes.items())),
    }


def staff_rows(stories: list[TicketStory], spans: dict[str, list[tuple[float, float]]],
               clerk_spans: dict[tuple[str, str], list[tuple[float, float]]], counters: dict[str, str],
               start: float, end: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The figures a manager acts on, per counter and per clerk (the definitions at the top)."""
    ended_at_counter: dict[str, list[Visit]] = defaultdict(list)
    ended_by_clerk: dict[str, list[Visit]] = defaultdict(list)
    busy_counter: dict[str, list[tuple[float, float]]] = defaultdict(list)
    busy_clerk: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for s in stories:
        for v in s.visits:
            if v.outcome in ("served", "no_show"):
                if v.counter_id:
                    ended_at_counter[v.counter_id].append(v)
                if v.clerk:
                    ended_by_clerk[v.clerk].append(v)
            open_now = [(v.held[0], v.held[1], v.held[2], end)] if v.held is not None else []
            for cid, clerk, a, b in v.sessions + open_now:
                a, b = max(a, start), min(b, end)
                if b > a:
                    busy_counter[cid].append((a, b))
                    if clerk:
                        busy_clerk[(cid, clerk)].append((a, b))

    def busy_within(busy: list[tuple[float, float]], staffed: list[tuple[float, float]]) -> float:
        return sum(_overlap(staffed, a, b) for a, b in busy)

    counter_rows = []
    for cid in sorted(set(spans) | set(ended_at_counter)):
        staffed = spans.get(cid, [])
        counter_rows.append({"counter_id": cid, "name": counters.get(cid, cid),
                             **_staff_figures(ended_at_counter.get(cid, []),
                                              busy_within(busy_counter.get(cid, []), staffed),
                                              sum(b - a for a, b in staffed))})
    clerks = sorted({c for _, c in clerk_spans} | set(ended_by_clerk))
    clerk_rows = []
    for clerk in clerks:
        mine = {cid: sp for (cid, who), sp in clerk_spans.items() if who == clerk}
        staffed_s = sum(b - a for sp in mine.values() for a, b in sp)
        busy_s = sum(busy_within(busy_clerk.get((cid, clerk), []), sp) for cid, sp in mine.items())
        clerk_rows.append({"clerk": clerk, "counters": len(mine),
                           **_staff_figures(ended_by_clerk.get(clerk, []), busy_s, staffed_s)})
    return counter_rows, clerk_rows


def day_bounds(day: str, tz: str) -> tuple[float, float]:
    """The day's first and last instant (midnight to midnight, local time) as timestamps."""
    zone = ZoneInfo(tz)
    d = Date.fromisoformat(day)
    start = datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()
    if d == Date.max:  # 9999-12-31 has no next day: its end is 24 h on
        return start, start + 86400.0
    nd = d + timedelta(days=1)
    return start, datetime(nd.year, nd.month, nd.day, tzinfo=zone).timestamp()


def summarise(*, centre_id: str, centre_name: str, day: str, tz: str, ticket_events: list[Event],
              counter_prior: dict[str, str], counter_events: list[Event],
              services: dict[str, dict[str, Any]], counters: dict[str, str], now: float,
              stories: dict[str, TicketStory] | None = None, clerk_key: str | None = None) -> dict[str, Any]:
    """The day's figures: a pure function of the day's events and ``now`` (no clock, no database).

    ``now`` matters only while the day is open (counters still open, tickets
    still waiting); ``stories`` may be given already folded from
    ``ticket_events`` (the live board keeps them). ``clerk_key`` is the centre's key for clerk
    pseudonyms: without it the summary has no clerk rows (it never carries a staff username).
    """
    zone = ZoneInfo(tz)
    d = Date.fromisoformat(day)
    start, day_end = day_bounds(day, tz)
    end = min(day_end, max(now, start))
    targets = {sid: int(s.get("target_wait_s") or DEFAULT_TARGET_S) for sid, s in services.items()}
    all_stories = list((stories if stories is not None else stories_from_events(ticket_events)).values())
    spans = _intervals(counter_prior, counter_events, start, end)

    def hour_of(ts: float) -> int:
        return datetime.fromtimestamp(ts, zone).hour

    by_service: dict[str, list[Visit]] = defaultdict(list)
    ratings_by_service: dict[str, list[int]] = defaultdict(list)
    counters_by_service: dict[str, set[str]] = defaultdict(set)
    for s in all_stories:
        for v in s.visits:
            by_service[v.service_id].append(v)
            if v.counter_id:
                counters_by_service[v.service_id].add(v.counter_id)
        if s.rating:
            ratings_by_service[s.rating_service_id or s.visits[-1].service_id].append(s.rating)
    service_rows = []
    for sid in sorted(by_service, key=lambda x: (services.get(x, {}).get("position", 999), x)):
        info = services.get(sid, {})
        service_rows.append({
            "service_id": sid, "name_en": info.get("name_en", sid), "name_sw": info.get("name_sw", sid),
            "target_wait_s": targets.get(sid, DEFAULT_TARGET_S),
            **visit_figures(by_service[sid], targets, end),
            **satisfaction(ratings_by_service.get(sid, [])),
            "counters": len(counters_by_service.get(sid, ())),
        })

    by_hour: dict[int, list[TicketStory]] = defaultdict(list)
    for s in all_stories:
        by_hour[hour_of(s.issued_at)].append(s)
    staffed_hours_set = {h for cid, sp in spans.items() for (a, b) in sp
                         for h in range(hour_of(a), hour_of(max(a, b - 1e-6)) + 1)}
    hour_rows = []
    for h in sorted(set(by_hour) | staffed_hours_set):
        hs = datetime(d.year, d.month, d.day, h, tzinfo=zone).timestamp()
        he = hs + 3600
        open_here = [cid for cid, sp in spans.items() if _overlap(sp, hs, he) > 0]
        hour_rows.append({"hour": h, **ticket_figures(by_hour.get(h, []), targets, end),
                          "counters_open": len(open_here),
                          "staffed_hours": round(sum(_overlap(sp, hs, he) for sp in spans.values()) / 3600, 2)})

    counter_rows, clerk_rows = staff_rows(all_stories, spans, _clerk_spans(counter_prior, counter_events, start, end),
                                          counters, start, end)
    clerks = [{**row, "clerk": clerk_pseudonym(clerk_key, row["clerk"])} for row in clerk_rows] if clerk_key else []
    total = {**ticket_figures(all_stories, targets, end),
             "counters_open": sum(1 for sp in spans.values() if sp),
             "staffed_hours": round(sum(b - a for sp in spans.values() for a, b in sp) / 3600, 2)}
    return {"schema": SUMMARY_SCHEMA, "centre_id": centre_id, "centre_name": centre_name, "date": day,
            "timezone": tz, "total": total, "services": service_rows, "hours": hour_rows,
            "counters": counter_rows, "clerks": clerks, "visits": one_stop_figures(all_stories)}


# --------------------------------------------------------------------------
# Reading a day from the centre's database
# --------------------------------------------------------------------------


# the meta row holding the centre's key for clerk pseudonyms (made by the storage step clerk.parking_and_outcomes)
CLERK_KEY = "clerk_pseudonym_key"


def clerk_key(db: Any) -> str | None:
    """The centre's key for clerk pseudonyms, or None in a database older than the key."""
    row = db.execute("SELECT value FROM meta WHERE key=?", [CLERK_KEY]).fetchone()
    return row[0] if row and row[0] else None


def clerk_names(db: Any, day_summary: dict[str, Any]) -> dict[str, str]:
    """Pseudonym -> staff username, for the centre's own reports (it holds the key; headquarters does not)."""
    key = clerk_key(db)
    if not key:
        return {}
    names = {r[0] for r in db.execute("SELECT username FROM staff")}
    names |= {r[0] for r in db.execute("SELECT DISTINCT clerk FROM tickets WHERE day=? AND clerk IS NOT NULL",
                                       [day_summary.get("date", "")])}
    return {clerk_pseudonym(key, n): n for n in names}


def _menu(db: Any) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    services = {r["id"]: dict(r) for r in db.query("SELECT * FROM services")}
    counters = {r["id"]: r["name"] for r in db.query("SELECT id, name FROM counters")}
    return services, counters


@dataclass
class DayEvents:
    """What ``summarise`` needs of one day, read from the database (and, for the open day, kept up to date)."""

    day: str
    tz: str
    start: float
    end: float
    last_seq: int = 0
    ids: set[str] = field(default_factory=set)
    ticket_events: list[Event] = field(default_factory=list)
    counter_prior: dict[str, str] = field(default_factory=dict)
    counter_events: list[Event] = field(default_factory=list)
    stories: dict[str, TicketStory] = field(default_factory=dict)

    @classmethod
    def read(cls, db: Any, day: str, tz: str) -> DayEvents:
        start, end = day_bounds(day, tz)
        out = cls(day=day, tz=tz, start=start, end=end)
        out.last_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        marks = ",".join("?" * len(TICKET_EVENTS))
        # a day's tickets are those whose ticket_issued event carries the day (the log is the truth)
        for row in db.execute(f"SELECT seq, at, type, data FROM events WHERE type IN ({marks}) AND at >= ? "
                              f"AND seq <= ? ORDER BY seq", [*TICKET_EVENTS, start - 86400, out.last_seq]):
            out._ticket_event(event_from_row(*row))
        cmarks = ",".join("?" * len(COUNTER_EVENTS))
        out.counter_prior = {cid: COUNTER_EVENTS[typ] for cid, typ, _ in db.execute(
            f"SELECT json_extract(data, '$.counter_id') AS cid, type, MAX(seq) FROM events "
            f"WHERE type IN ({cmarks}) AND at < ? AND seq <= ? GROUP BY cid",
            [*COUNTER_EVENTS, start, out.last_seq]).fetchall()}
        out.counter_events = [event_from_row(*row) for row in db.execute(
            f"SELECT seq, at, type, data FROM events WHERE type IN ({cmarks}) AND at >= ? AND at < ? "
            f"AND seq <= ? ORDER BY seq", [*COUNTER_EVENTS, start, end, out.last_seq]).fetchall()]
        return out

    def _ticket_event(self, ev: Event) -> None:
        d = ev.data
        if isinstance(d, TicketIssued) and d.day == self.day:
            self.ids.add(d.ticket_id)
        if ticket_of(d) in self.ids:
            self.ticket_events.append(ev)
            fold(self.stories, ev)

    def catch_up(self, db: Any) -> None:
        """Read the events committed since the last look (only those: the board asks after every event)."""
        for row in db.execute("SELECT seq, at, type, data FROM events WHERE seq > ? ORDER BY seq",
                              [self.last_seq]).fetchall():
            ev = event_from_row(*row)
            self.last_seq = ev.seq
            if ev.type in TICKET_EVENTS:
                self._ticket_event(ev)
            elif ev.type in COUNTER_EVENTS:
                if ev.at < self.start:  # a clock behind the day: as the full read would see it
                    cid = counter_of(ev.data)
                    if cid is not None:
                        self.counter_prior[cid] = COUNTER_EVENTS[ev.type]
                elif ev.at < self.end:
                    self.counter_events.append(ev)

    def summarise(self, db: Any, centre_id: str, centre_name: str, now: float) -> dict[str, Any]:
        services, counters = _menu(db)
        out = summarise(centre_id=centre_id, centre_name=centre_name, day=self.day, tz=self.tz,
                        ticket_events=self.ticket_events, counter_prior=self.counter_prior,
                        counter_events=self.counter_events, services=services, counters=counters, now=now,
                        stories=self.stories, clerk_key=clerk_key(db))
        money = day_payments(db, self.day, list(self.stories.values()))
        if money is not None and (money["services"] or money["unmatched_count"]):
            out["payments"] = money  # optional: a day with nothing owed or paid sends what it always sent
        return out


# --------------------------------------------------------------------------
# Payments: fees due against money received (issue 20)
# --------------------------------------------------------------------------


def payment_figures(stories: list[TicketStory], payments: list[dict[str, Any]], fees: dict[str, tuple[int, bool]],
                    unmatched: tuple[int, int] = (0, 0), day_over: bool = True) -> dict[str, Any]:
    """The day's reconciliation, per service: what the served tickets owed against what came in.

    * **Due.** A ticket served (a clerk's ``ticket_done``) in a service with a fee owes that fee once,
      in the service that served it (a transfer moves the debt). A fee paid (or waived) for a service the
      ticket then left by a transfer stays with the service it was paid for: the ticket served through the
      transfer counts as served there, and that fee as due and settled. A fee that varies is due, but its
      amount is known only at the counter: it counts in ``served``, not in ``due_ksh``. A fee paid online
      when applying (eCitizen) is passed in as free: nothing of it is due at the centre.
    * **Received.** M-Pesa payments confirmed (``paid``) and cash the clerks recorded, by the service
      the ticket was in when paid, whatever became of the ticket (money received is money received).
    * **Waived.** The fee the clerk waived, with a reason (in the payments table).
    * **Unpaid served.** Served tickets owing a fee with neither payment nor waiver: what to look into.
    * **Unmatched.** M-Pesa callbacks refused as matching no request, that reported money received.
    * **Refund due.** Money received (M-Pesa or cash) for a ticket never served that ended cancelled
      (the close, a clerk) or a no-show: the citizen paid for nothing and is owed it back, with the
      M-Pesa receipts to find the payments by. A ticket still waiting owes nothing back; a no-show only
      once the day is over (``day_over``: closed, or past): until then the citizen may come back and be served.
    """
    rows: dict[str, dict[str, Any]] = {}

    def row(sid: str) -> dict[str, Any]:
        if sid not in rows:
            amount, varies = fees.get(sid, (0, False))
            rows[sid] = {"service_id": sid, "fee_ksh": amount, "fee_varies": varies, "served": 0, "due_ksh": 0,
                         "mpesa_count": 0, "mpesa_ksh": 0, "cash_count": 0, "cash_ksh": 0, "waived_count": 0,
                         "waived_ksh": 0, "unpaid_served": 0, "failed_attempts": 0,
                         "refund_count": 0, "refund_ksh": 0, "refund_receipts": []}
        return rows[sid]

    settled = {(p["ticket_id"], p["service_id"]) for p in payments if p["state"] in ("paid", "cash", "waived")}
    # tickets that ended unserved (cancelled, a no-show), with the services they were served in before that
    # (a one-stop visit): a payment for one of those was for a service given, so nothing is owed back
    ended_unserved = {s.ticket_id: {v.service_id for v in s.visits if v.outcome == "served"}
                      for s in stories if s.outcome == "cancelled" or (s.outcome == "no_show" and day_over)}
    for story in stories:
        served = [v for v in story.visits if v.outcome == "served"]
        if not served:
            continue
        # the service that served the ticket owes its fee; a fee settled for another service of the ticket
        # (paid, then transferred) stays with the service it was paid for, served there through the transfer
        owing = [served[-1].service_id]
        owing += sorted({sid for tid, sid in settled if tid == story.ticket_id} - set(owing))
        for sid in owing:
            amount, varies = fees.get(sid, (0, False))
            if amount == 0 and not varies:
                continue
            r = row(sid)
            r["served"] += 1
            r["due_ksh"] += 0 if varies else amount
            if (story.ticket_id, sid) not in settled:
                r["unpaid_served"] += 1
    for p in payments:
        r = row(p["service_id"])
        amount = int(p["amount_ksh"] or 0)
        if p["state"] == "paid":
            r["mpesa_count"] += 1
            r["mpesa_ksh"] += amount
        elif p["state"] == "cash":
            r["cash_count"] += 1
            r["cash_ksh"] += amount
        elif p["state"] == "waived":
            r["waived_count"] += 1
            r["waived_ksh"] += amount
        elif p["state"] == "failed":
            r["failed_attempts"] += 1
        served_in = ended_unserved.get(p["ticket_id"])  # None: the ticket was served, or may still be
        if p["state"] in ("paid", "cash") and served_in is not None and p["service_id"] not in served_in:
            r["refund_count"] += 1
            r["refund_ksh"] += amount
            if p.get("receipt"):
                r["refund_receipts"].append(p["receipt"])
    services = [rows[k] for k in sorted(rows)]
    return {"services": services, "unmatched_count": unmatched[0], "unmatched_ksh": unmatched[1],
            "received_ksh": sum(r["mpesa_ksh"] + r["cash_ksh"] for r in services),
            "refund_ksh": sum(r["refund_ksh"] for r in services)}


_FEES: dict[int, dict[str, tuple[int, bool]]] = {}  # by the newest stored catalogue version (0: none stored)


def fees_of(db: Any) -> dict[str, tuple[int, bool]]:
    """Each service's fee in the catalogue the centre runs (the newest stored version that reads, else the
    one shipped): what ``Centre`` runs, read here from the table (headquarters imports this module, not store).

    Kept per catalogue version: reading a catalogue takes ~30 ms, and the live board asks after every event.
    """
    from pydantic import ValidationError

    from centre_server.contract.catalogue import Catalogue, shipped_catalogue

    newest = 0
    if _has_table(db, "catalogue_versions"):
        newest = db.execute("SELECT COALESCE(MAX(version), 0) FROM catalogue_versions").fetchone()[0]
    if newest in _FEES:
        return _FEES[newest]
    catalogue = None
    if newest:
        for (data,) in db.execute("SELECT data FROM catalogue_versions ORDER BY version DESC").fetchall():
            try:
                catalogue = Catalogue.model_validate_json(data)
                break
            except ValidationError:
                continue
    catalogue = catalogue or shipped_catalogue()
    # a fee paid on eCitizen when applying is not the centre's to take: nothing is due here, as for a free service
    fees = _FEES[newest] = {s.id: (s.fee.amount_ksh, s.fee.varies) if s.fee.due_here else (0, False)
                            for s in catalogue.services}
    return fees


def _has_table(db: Any, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [name]).fetchone() is not None


def day_payments(db: Any, day: str, stories: list[TicketStory]) -> dict[str, Any] | None:
    """The day's ``payment_figures`` from the payments tables; None before they exist."""
    if not _has_table(db, "payments"):
        return None
    rows = [{"ticket_id": t, "service_id": sid, "state": st, "amount_ksh": a, "receipt": rc}
            for t, sid, st, a, rc in db.execute("SELECT ticket_id, service_id, state, amount_ksh, receipt "
                                                "FROM payments WHERE day=? ORDER BY id", [day]).fetchall()]
    # refused callbacks that say money moved, once per receipt, unless that receipt reached a payment after all
    n, ksh = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(amount_ksh), 0) FROM (SELECT receipt, MAX(amount_ksh) AS amount_ksh "
        "FROM payment_refusals WHERE day=? AND result_code=0 AND receipt IS NOT NULL AND receipt NOT IN "
        "(SELECT receipt FROM payments WHERE receipt IS NOT NULL) GROUP BY receipt)", [day]).fetchone()
    # whether the day is over matters only for a paid no-show: the events are read only then
    no_shows = {s.ticket_id for s in stories if s.outcome == "no_show"}
    over = any(r["ticket_id"] in no_shows and r["state"] in ("paid", "cash") for r in rows) and day_is_over(db, day)
    return payment_figures(stories, rows, fees_of(db), (int(n), int(ksh)), over)


def day_is_over(db: Any, day: str) -> bool:
    """True once ``day`` has closed (by a manager, at closing time or at midnight) and not been reopened since:
    from the events, as every figure is."""
    row = db.execute("SELECT type FROM events WHERE type IN ('day_closed', 'day_reopened') AND "
                     "json_extract(data, '$.day') = ? ORDER BY seq DESC LIMIT 1", [day]).fetchone()
    return row is not None and row[0] == "day_closed"


def compute_day(db: Any, settings: Any, day: str, now: float) -> dict[str, Any]:
    """A day's figures from the centre database (the close, and any day the reports ask for)."""
    return DayEvents.read(db, day, settings.timezone).summarise(db, settings.centre_id, settings.centre_name, now)
