"""The payments room's tables (issue 20): each M-Pesa prompt, cash or waiver, and the callbacks refused."""

from __future__ import annotations

from typing import Any


def payments(db: Any) -> None:
    """One row per attempt (an STK push, cash, a waiver): the ticket's payment is its newest row.

    ``callback_token`` is the unguessable part of the push's CallBackURL; ``phone`` is erased at the day
    close like every phone; ``receipt`` (M-Pesa's receipt number) stays. ``payment_refusals`` keeps the
    callbacks that matched no request or disagreed with it: money that may have moved with no ticket.
    """
    db.execute("CREATE TABLE payments (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL, "
               "day TEXT NOT NULL, service_id TEXT NOT NULL, number TEXT NOT NULL, method TEXT NOT NULL, "
               "state TEXT NOT NULL, amount_ksh INTEGER, phone TEXT, account TEXT, callback_token TEXT UNIQUE, "
               "merchant_request_id TEXT, checkout_request_id TEXT UNIQUE, receipt TEXT, result_code TEXT, "
               "result_desc TEXT, reason TEXT, by TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, "
               "queried_at REAL, queries INTEGER NOT NULL DEFAULT 0)")
    db.execute("CREATE INDEX idx_payments_ticket ON payments(ticket_id, id)")
    db.execute("CREATE INDEX idx_payments_pending ON payments(state, created_at) WHERE state='pending'")
    db.execute("CREATE INDEX idx_payments_day ON payments(day)")
    db.execute("CREATE TABLE payment_refusals (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, "
               "day TEXT NOT NULL, why TEXT NOT NULL, checkout_request_id TEXT, result_code INTEGER, "
               "amount_ksh INTEGER, receipt TEXT, phone TEXT, address TEXT)")
