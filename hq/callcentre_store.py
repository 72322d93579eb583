"""The Huduma Call Centre's records at headquarters: calls, the inbox each centre collects, callers' feedback.

Headquarters cannot reach into a centre's LAN, so every question for a centre
waits in ``hq_inbox`` until the centre asks for it (``take``) over its own
token link, and its answer comes back the same way (``answer``). A look-up is
worth asking only while the caller is on the line (``LOOKUP_TTL_S``); a
booking is held until the centre takes and answers it, handed out again after
``REDELIVER_AFTER_S`` without an answer, and given up once its day has passed.

Phone numbers are personal data. Headquarters keeps a caller's number only
while it is needed: on a call's record and its inbox rows until the end of the
day the call was taken (Nairobi time; ``erase_phones``), on a held booking
until the centre has answered it. After that only the last three digits stay
(``…678``), so a call log still reads sensibly; centres erase theirs at their
day close in the same way.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centre_server.contract.national import (
    MAX_BATCH,
    REDELIVER_AFTER_S,
    AskKind,
    BookAsk,
    InboxAnswer,
    InboxRequest,
    LookupAsk,
)
from hq import daily
from hq.auth import Accounts
from hq.store import Store, StoreError

logger = logging.getLogger(__name__)

LOOKUP_TTL_S = 120.0  # a caller waits on the line a minute or two, not longer
# a centre online asks every few seconds (``POLL_EVERY_S``) and answers at once: one silent this long is not
# answering while the caller waits, and the agent is told so (an answer that comes later still shows)
LOOKUP_ANSWER_S = 8.0
ERASE_EVERY_S = 60.0
HQ_TZ = ZoneInfo("Africa/Nairobi")

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS hq_inbox (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "ask TEXT NOT NULL, phone TEXT, search_id TEXT, call_id TEXT, asked_by TEXT NOT NULL, "
    "asked_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL, "
    "handed_at DOUBLE PRECISION, handed INTEGER NOT NULL DEFAULT 0, answered_at DOUBLE PRECISION, "
    "answer TEXT, state TEXT NOT NULL DEFAULT 'waiting', sms_told INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS hq_inbox_by_centre ON hq_inbox (centre_id, state)",
    "CREATE INDEX IF NOT EXISTS hq_inbox_by_search ON hq_inbox (search_id)",
    "CREATE TABLE IF NOT EXISTS hq_centre_polls (centre_id TEXT PRIMARY KEY, last_poll_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS hq_calls (id TEXT PRIMARY KEY, agent TEXT NOT NULL, "
    "started_at DOUBLE PRECISION NOT NULL, phone TEXT, phone_tail TEXT, outcome TEXT, note TEXT, "
    "closed_at DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS hq_calls_by_time ON hq_calls (started_at)",
    "CREATE TABLE IF NOT EXISTS hq_feedback (id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, "
    "agent TEXT NOT NULL, centre_id TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT, call_id TEXT)",
    "CREATE INDEX IF NOT EXISTS hq_feedback_by_centre ON hq_feedback (centre_id, at)",
]

OUTCOMES = ["told_standing", "booked", "booking_held", "info_given", "feedback_taken", "referred", "not_found",
            "dropped"]
RATINGS = [1, 2, 3, 4, 5]


FEEDBACK_SQL = ("SELECT centre_id, COUNT(*), AVG(rating), SUM(CASE WHEN rating <= 2 THEN 1 ELSE 0 END) "
                "FROM hq_feedback WHERE at >= ? {until} GROUP BY centre_id")


def feedback_sums(cur: Any, since: float, until: float | None = None) -> dict[str, dict[str, Any]]:
    """Callers' ratings per centre from ``since`` (up to ``until``): count, mean (1-5), unhappy (1-2).

    Added up by the database, inside the caller's transaction: the call-centre
    page and the national board read the same figures.
    """
    if until is None:
        cur.execute(FEEDBACK_SQL.format(until=""), [since])
    else:
        cur.execute(FEEDBACK_SQL.format(until="AND at < ?"), [since, until])
    return {r[0]: {"count": int(r[1]), "mean": round(float(r[2]), 2), "unhappy": int(r[3])}
            for r in cur.fetchall()}


def new_id() -> str:
    return secrets.token_urlsafe(12)


def tail(phone: str | None) -> str | None:
    """The last three digits of a number: what stays once the number itself is erased."""
    return f"…{phone[-3:]}" if phone else None


def start_of_today(now: float) -> float:
    d = datetime.fromtimestamp(now, HQ_TZ)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class CallCentre:
    """Calls, the centres' inbox and feedback, in headquarters' database."""

    def __init__(self, store: Store, accounts: Accounts) -> None:
        self.store = store
        self.accounts = accounts
        self._erased_at = 0.0

    def migrate(self) -> None:
        with self.store.tx() as cur:
            for stmt in SCHEMA:
                cur.execute(stmt)

    # ------------------------------------------------------------------ calls

    def start_call(self, agent: str, phone: str | None, now: float | None = None) -> str:
        now = time.time() if now is None else now
        call_id = new_id()
        with self.store.tx() as cur:
            cur.execute("INSERT INTO hq_calls(id, agent, started_at, phone, phone_tail) VALUES (?,?,?,?,?)",
                        [call_id, agent, now, phone, tail(phone)])
            self.accounts.audit(cur, agent, "call_started", call_id, tail(phone) or "")
        return call_id

    def call(self, call_id: str) -> dict[str, Any] | None:
        if not call_id or len(call_id) > 40:
            return None
        with self.store.tx() as cur:
            cur.execute("SELECT id, agent, started_at, phone, phone_tail, outcome, note, closed_at FROM hq_calls "
                        "WHERE id=?", [call_id])
            row = cur.fetchone()
        keys = ("id", "agent", "started_at", "phone", "phone_tail", "outcome", "note", "closed_at")
        return dict(zip(keys, row)) if row else None

    def set_phone(self, call_id: str, phone: str) -> None:
        with self.store.tx() as cur:
            cur.execute("UPDATE hq_calls SET phone=?, phone_tail=? WHERE id=? AND closed_at IS NULL",
                        [phone, tail(phone), call_id])

    def close_call(self, agent: str, call_id: str, outcome: str, note: str, now: float | None = None) -> None:
        if outcome not in OUTCOMES:
            raise StoreError("bad_outcome", f"outcome is one of {', '.join(OUTCOMES)}", 422)
        now = time.time() if now is None else now
        with self.store.tx() as cur:
            cur.execute("UPDATE hq_calls SET outcome=?, note=?, closed_at=? WHERE id=? AND closed_at IS NULL",
                        [outcome, note[:500] or None, now, call_id])
            if cur.rowcount == 0:
                raise StoreError("call_closed", "this call is logged already", 409)
            self.accounts.audit(cur, agent, "call_logged", call_id, outcome)

    def calls(self, since: float, agent: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.store.tx() as cur:
            sql = ("SELECT id, agent, started_at, phone_tail, outcome, note, closed_at FROM hq_calls "
                   "WHERE started_at >= ?")
            args: list[Any] = [since]
            if agent:
                sql += " AND agent=?"
                args.append(agent)
            cur.execute(sql + " ORDER BY started_at DESC LIMIT ?", [*args, limit])
            keys = ("id", "agent", "started_at", "phone_tail", "outcome", "note", "closed_at")
            return [dict(zip(keys, r)) for r in cur.fetchall()]

    # ------------------------------------------------------------------ asking centres

    def ask_lookup(self, agent: str, call_id: str, centre_ids: list[str], ask: LookupAsk,
                   now: float | None = None) -> str:
        """One look-up, put in each named centre's inbox; returns the search's id (its answers gather under it)."""
        now = time.time() if now is None else now
        search_id = new_id()
        body = ask.model_dump_json(exclude_none=True)
        with self.store.tx() as cur:
            for cid in centre_ids:
                cur.execute("INSERT INTO hq_inbox(id, centre_id, kind, ask, phone, search_id, call_id, asked_by, "
                            "asked_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            [new_id(), cid, AskKind.lookup.value, body, ask.phone, search_id, call_id, agent, now,
                             now + LOOKUP_TTL_S])
            self.accounts.audit(cur, agent, "lookup_asked", call_id,
                                f"{ask.code or tail(ask.phone)} → {len(centre_ids)}")
        return search_id

    def ask_booking(self, agent: str, call_id: str, centre_id: str, ask: BookAsk, now: float | None = None) -> str:
        """A booking for the caller, held in the centre's inbox until the centre takes it and answers."""
        now = time.time() if now is None else now
        day_end = datetime(ask.day.year, ask.day.month, ask.day.day, tzinfo=HQ_TZ) + timedelta(days=1)
        if day_end.timestamp() <= now:
            raise StoreError("past_day", "that day has passed", 422)
        request_id = new_id()
        with self.store.tx() as cur:
            cur.execute("INSERT INTO hq_inbox(id, centre_id, kind, ask, phone, call_id, asked_by, asked_at, "
                        "expires_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        [request_id, centre_id, AskKind.book.value, ask.model_dump_json(), ask.phone, call_id,
                         agent, now, day_end.timestamp()])
            self.accounts.audit(cur, agent, "booking_asked", call_id,
                                f"{ask.service_id} @ {centre_id} {ask.day} {ask.earliest}")
        return request_id

    def search(self, search_id: str, now: float | None = None) -> list[dict[str, Any]]:
        """Each centre's part of a look-up: waiting, answered (with what it found), ``late`` (no answer within
        ``LOOKUP_ANSWER_S``: the agent is told so, and an answer that comes later still shows) or ``expired``
        (no longer asked: the caller has hung up)."""
        now = time.time() if now is None else now
        with self.store.tx() as cur:
            cur.execute("SELECT i.centre_id, i.state, i.answer, i.expires_at, p.last_poll_at, i.asked_at "
                        "FROM hq_inbox i LEFT JOIN hq_centre_polls p ON p.centre_id = i.centre_id "
                        "WHERE i.search_id=? ORDER BY i.centre_id", [search_id])
            rows = cur.fetchall()
        out = []
        for cid, state, answer, expires_at, last_poll, asked_at in rows:
            if state in ("waiting", "handed") and expires_at <= now:
                state = "expired"
            elif state in ("waiting", "handed") and now - asked_at >= LOOKUP_ANSWER_S:
                state = "late"
            out.append({"centre_id": cid, "state": state, "last_poll_at": last_poll,
                        "answer": InboxAnswer.model_validate_json(answer) if answer else None})
        return out

    def searches_of(self, call_id: str) -> list[dict[str, Any]]:
        with self.store.tx() as cur:
            cur.execute("SELECT search_id, MIN(ask), MIN(asked_at) FROM hq_inbox WHERE call_id=? AND kind='lookup' "
                        "GROUP BY search_id ORDER BY MIN(asked_at) DESC", [call_id])
            return [{"search_id": r[0], "ask": json.loads(r[1]), "asked_at": r[2]} for r in cur.fetchall()]

    def bookings(self, *, call_id: str | None = None, held_only: bool = False,
                 now: float | None = None) -> list[dict[str, Any]]:
        """Bookings asked for (of one call, or every one still held for a centre), newest first."""
        now = time.time() if now is None else now
        sql = ("SELECT i.id, i.centre_id, i.state, i.ask, i.answer, i.asked_at, i.asked_by, i.handed, "
               "i.expires_at, p.last_poll_at, i.call_id FROM hq_inbox i "
               "LEFT JOIN hq_centre_polls p ON p.centre_id = i.centre_id WHERE i.kind='book'")
        args: list[Any] = []
        if call_id is not None:
            sql += " AND i.call_id=?"
            args.append(call_id)
        if held_only:
            sql += " AND i.state IN ('waiting','handed') AND i.expires_at > ?"
            args.append(now)
        with self.store.tx() as cur:
            cur.execute(sql + " ORDER BY i.asked_at DESC LIMIT 200", args)
            rows = cur.fetchall()
        out = []
        for rid, cid, state, ask, answer, asked_at, by, handed, expires_at, last_poll, call in rows:
            if state in ("waiting", "handed") and expires_at <= now:
                state = "expired"
            out.append({"id": rid, "centre_id": cid, "state": state, "ask": json.loads(ask),
                        "answer": InboxAnswer.model_validate_json(answer) if answer else None,
                        "asked_at": asked_at, "asked_by": by, "handed": handed, "last_poll_at": last_poll,
                        "call_id": call})
        return out

    # ------------------------------------------------------------------ the centre's side

    def take(self, centre_id: str, now: float | None = None) -> list[InboxRequest]:
        """The requests waiting for ``centre_id`` (and those handed out but unanswered for a while), oldest first."""
        now = time.time() if now is None else now
        with self.store.tx() as cur:
            # written at most every 10 s per centre (it polls every 3 s): "last called in" needs no more
            cur.execute("INSERT INTO hq_centre_polls(centre_id, last_poll_at) VALUES (?,?) ON CONFLICT (centre_id) "
                        "DO UPDATE SET last_poll_at=excluded.last_poll_at "
                        "WHERE hq_centre_polls.last_poll_at < excluded.last_poll_at - 10", [centre_id, now])
            cur.execute("SELECT id, kind, ask, asked_at FROM hq_inbox WHERE centre_id=? AND expires_at > ? AND "
                        "(state='waiting' OR (state='handed' AND handed_at < ?)) ORDER BY asked_at LIMIT ?",
                        [centre_id, now, now - REDELIVER_AFTER_S, MAX_BATCH])
            rows = cur.fetchall()
            for rid, *_ in rows:
                cur.execute("UPDATE hq_inbox SET state='handed', handed_at=?, handed=handed+1 WHERE id=?", [now, rid])
        out = []
        for rid, kind, ask, asked_at in rows:
            body = json.loads(ask)
            out.append(InboxRequest(id=rid, kind=AskKind(kind), asked_at=datetime.fromtimestamp(asked_at, HQ_TZ),
                                    **{kind: body}))
        if time.time() - self._erased_at > ERASE_EVERY_S:
            self.erase_phones(now)
        return out

    def answer(self, centre_id: str, request_id: str, answer: InboxAnswer, now: float | None = None) -> str:
        """Store a centre's answer once (a repeated answer changes nothing); returns the request's state."""
        now = time.time() if now is None else now
        with self.store.tx() as cur:
            cur.execute("SELECT kind, state, centre_id FROM hq_inbox WHERE id=?", [request_id])
            row = cur.fetchone()
            if row is None or row[2] != centre_id:
                raise StoreError("unknown_request", "no such request for this centre", 404)
            kind, state, _ = row
            if state not in ("waiting", "handed"):
                return str(state)  # answered already (an answer whose receipt was lost, sent again)
            new = "answered" if kind == AskKind.lookup else ("booked" if answer.ok else "refused")
            # a booking's number is needed no longer once the centre has it: it sends the SMS itself
            cur.execute("UPDATE hq_inbox SET state=?, answer=?, answered_at=?, "
                        "phone=CASE WHEN kind='book' THEN NULL ELSE phone END WHERE id=?",
                        [new, answer.model_dump_json(exclude_none=True), now, request_id])
        logger.info("centre %s answered %s %s: %s", centre_id, kind, request_id, new)
        return new

    def last_polls(self) -> dict[str, float]:
        with self.store.tx() as cur:
            cur.execute("SELECT centre_id, last_poll_at FROM hq_centre_polls")
            return {r[0]: r[1] for r in cur.fetchall()}

    # ------------------------------------------------------------------ feedback

    def add_feedback(self, agent: str, call_id: str | None, centre_id: str, rating: int, comment: str,
                     now: float | None = None) -> None:
        if rating not in RATINGS:
            raise StoreError("bad_rating", "a rating from 1 to 5", 422)
        now = time.time() if now is None else now
        with self.store.tx() as cur:
            cur.execute("INSERT INTO hq_feedback(id, at, agent, centre_id, rating, comment, call_id) "
                        "VALUES (?,?,?,?,?,?,?)", [new_id(), now, agent, centre_id, rating,
                                                   " ".join(comment.split())[:500] or None, call_id])
            self.accounts.audit(cur, agent, "feedback_recorded", centre_id, f"{rating}/5")
            daily.bump(cur)  # the national board shows callers' ratings per centre

    def feedback_by_centre(self, since: float) -> dict[str, dict[str, Any]]:
        """Per centre: how many callers rated it since ``since``, their mean rating and how many were unhappy (1-2)."""
        with self.store.tx() as cur:
            return feedback_sums(cur, since)

    def feedback_of(self, call_id: str) -> list[dict[str, Any]]:
        with self.store.tx() as cur:
            cur.execute("SELECT centre_id, rating, comment, at FROM hq_feedback WHERE call_id=? ORDER BY at",
                        [call_id])
            return [dict(zip(("centre_id", "rating", "comment", "at"), r)) for r in cur.fetchall()]

    # ------------------------------------------------------------------ personal data

    def erase_phones(self, now: float | None = None) -> int:
        """Erase numbers of calls from before today (Nairobi) and of finished requests from before today, and the
        booking codes shown to agents on calls from before today.

        A booking still held for an offline centre keeps its number (the centre
        needs it to send the SMS) until the centre answers or its day passes.
        """
        now = time.time() if now is None else now
        self._erased_at = time.time()
        midnight = start_of_today(now)
        with self.store.tx() as cur:
            cur.execute("UPDATE hq_calls SET phone=NULL WHERE phone IS NOT NULL AND started_at < ?", [midnight])
            calls = cur.rowcount
            cur.execute("SELECT id, ask FROM hq_inbox WHERE asked_at < ? AND ask LIKE ? AND "
                        "(state NOT IN ('waiting','handed') OR expires_at <= ?)", [midnight, '%"phone":"+%', now])
            rows = cur.fetchall()
            for rid, ask in rows:
                body = json.loads(ask)
                body["phone"] = tail(body.get("phone"))
                cur.execute("UPDATE hq_inbox SET phone=NULL, ask=? WHERE id=?", [json.dumps(body), rid])
            inbox = len(rows)
            # a booking's check-in code was for the agent to read out during the call: gone with the day too
            cur.execute("SELECT id, answer FROM hq_inbox WHERE kind='book' AND answered_at < ? AND answer LIKE ?",
                        [midnight, '%"booking_code"%'])
            for rid, answer in cur.fetchall():
                body = json.loads(answer)
                body.pop("booking_code", None)
                cur.execute("UPDATE hq_inbox SET answer=? WHERE id=?", [json.dumps(body), rid])
        if calls or inbox:
            logger.info("erased the phone numbers of %s call(s) and %s request(s) from before today", calls, inbox)
        return int(calls + inbox)
