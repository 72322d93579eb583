"""The payments tables in the centre database (migration ``store.migrations.payments``).

The SQL lives here, beside the schema, for the payments room (which writes every
attempt and settles it), the day's figures (which reconcile a day) and the day
close (which erases the phone numbers and keeps the receipt numbers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlite_utils

logger = logging.getLogger(__name__)

COLUMNS = ("id", "ticket_id", "day", "service_id", "number", "method", "state", "amount_ksh", "phone", "account",
           "callback_token", "merchant_request_id", "checkout_request_id", "receipt", "result_code", "result_desc",
           "reason", "by", "created_at", "updated_at", "queried_at", "queries")


@dataclass
class PaymentRow:
    """One attempt: an STK push (``method`` mpesa), cash or a waiver."""

    id: int
    ticket_id: str
    day: str
    service_id: str
    number: str
    method: str
    state: str
    amount_ksh: int | None
    phone: str | None
    account: str | None
    callback_token: str | None
    merchant_request_id: str | None
    checkout_request_id: str | None
    receipt: str | None
    result_code: str | None
    result_desc: str | None
    reason: str | None
    by: str | None
    created_at: float
    updated_at: float
    queried_at: float | None
    queries: int


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM payments"


def _rows(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[PaymentRow]:
    return [PaymentRow(*r) for r in db.execute(f"{_SELECT} WHERE {where}", params).fetchall()]


def insert(db: sqlite_utils.Database, **values: Any) -> PaymentRow:
    """Keep a new attempt (committed at once: a push is sent only once its row is on disk)."""
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    with db.conn:
        cur = db.conn.execute(f"INSERT INTO payments({names}) VALUES ({marks})", list(values.values()))
    row = by_id(db, int(cur.lastrowid or 0))
    assert row is not None
    return row


def update(db: sqlite_utils.Database, payment_id: int, **values: Any) -> None:
    sets = ", ".join(f"{k}=?" for k in values)
    with db.conn:
        db.conn.execute(f"UPDATE payments SET {sets} WHERE id=?", [*values.values(), payment_id])


def settle(db: sqlite_utils.Database, payment_id: int, **values: Any) -> bool:
    """Move a pending attempt to its result; False when it was no longer pending (a duplicate got there first)."""
    sets = ", ".join(f"{k}=?" for k in values)
    with db.conn:
        cur = db.conn.execute(f"UPDATE payments SET {sets} WHERE id=? AND state='pending'",
                              [*values.values(), payment_id])
    return cur.rowcount == 1


def by_id(db: sqlite_utils.Database, payment_id: int) -> PaymentRow | None:
    rows = _rows(db, "id=?", [payment_id])
    return rows[0] if rows else None


def by_token(db: sqlite_utils.Database, token: str) -> PaymentRow | None:
    rows = _rows(db, "callback_token=?", [token])
    return rows[0] if rows else None


def of_ticket(db: sqlite_utils.Database, ticket_id: str) -> list[PaymentRow]:
    """Every attempt for a ticket, oldest first (the last one is the ticket's payment)."""
    return _rows(db, "ticket_id=? ORDER BY id", [ticket_id])


def pending_before(db: sqlite_utils.Database, created_before: float, limit: int = 50) -> list[PaymentRow]:
    """STK pushes still waiting for their callback, sent before ``created_before``: to ask Daraja about."""
    return _rows(db, "state='pending' AND created_at<? ORDER BY created_at LIMIT ?", [created_before, limit])


def of_day(db: sqlite_utils.Database, day: str) -> list[PaymentRow]:
    return _rows(db, "day=? ORDER BY id", [day])


def refuse(db: sqlite_utils.Database, at: float, day: str, why: str, checkout_request_id: str | None,
           result_code: int | None, amount_ksh: int | None, receipt: str | None, phone: str | None,
           address: str | None) -> None:
    """Keep a refused callback: if it says money moved, the day's reconciliation shows it as unmatched."""
    with db.conn:
        db.conn.execute("INSERT INTO payment_refusals(at, day, why, checkout_request_id, result_code, amount_ksh, "
                        "receipt, phone, address) VALUES (?,?,?,?,?,?,?,?,?)",
                        [at, day, why[:200], (checkout_request_id or "")[:100] or None, result_code, amount_ksh,
                         (receipt or "")[:20] or None, phone, address])


def erase_phones(conn: Any, upto: str) -> int:
    """Phone numbers of the payments of ``upto`` and before (in the close's transaction); receipts stay.

    A push still pending keeps its number until it is settled, unless its day is over: then it is erased too
    (the settling query needs only the checkout id)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()}
    if "payments" not in tables:
        return 0
    n = conn.execute("UPDATE payments SET phone=NULL WHERE day<=? AND phone IS NOT NULL", [upto]).rowcount
    n += conn.execute("UPDATE payment_refusals SET phone=NULL WHERE day<=? AND phone IS NOT NULL", [upto]).rowcount
    return int(n)
