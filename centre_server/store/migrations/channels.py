"""The citizen channels' tables: appointments, SMS outbox and inbox, remote check-in codes, booking confirmations."""

from __future__ import annotations

from typing import Any


def channels(db: Any) -> None:
    """Migration 4: what the web, SMS and USSD channels and appointments keep besides tickets."""
    db.execute("CREATE TABLE appointments (id TEXT PRIMARY KEY, service_id TEXT NOT NULL, slot_at REAL NOT NULL, "
               "code TEXT NOT NULL, phone TEXT, language TEXT NOT NULL DEFAULT 'en', "
               "state TEXT NOT NULL DEFAULT 'booked', ticket_id TEXT, created_at REAL NOT NULL, "
               "updated_at REAL)")
    db.execute("CREATE INDEX idx_appointments_slot ON appointments(service_id, slot_at)")
    db.execute("CREATE INDEX idx_appointments_phone ON appointments(phone)")
    db.execute("CREATE UNIQUE INDEX idx_appointments_code ON appointments(code) WHERE state='booked'")
    db.execute("CREATE TABLE sms_outbox (id INTEGER PRIMARY KEY, key TEXT UNIQUE, phone TEXT NOT NULL, "
               "text TEXT NOT NULL, kind TEXT NOT NULL, ticket_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
               "next_attempt_at REAL NOT NULL, sent_at REAL, failed_at REAL, last_error TEXT, "
               "gateway_ref TEXT, created_at REAL NOT NULL)")
    db.execute("CREATE INDEX idx_sms_outbox_pending ON sms_outbox(next_attempt_at) "
               "WHERE sent_at IS NULL AND failed_at IS NULL")
    db.execute("CREATE TABLE sms_inbox (id INTEGER PRIMARY KEY, at REAL NOT NULL, phone TEXT, text TEXT, "
               "ticket_id TEXT, outcome TEXT)")
    db.execute("CREATE TABLE remote_codes (ticket_id TEXT PRIMARY KEY, day TEXT NOT NULL, code TEXT NOT NULL, "
               "phone TEXT, service_id TEXT, created_at REAL NOT NULL)")
    db.execute("CREATE UNIQUE INDEX idx_remote_codes_code ON remote_codes(day, code)")
    db.execute("CREATE INDEX idx_remote_codes_phone ON remote_codes(phone)")
    db.execute("CREATE TABLE sms_marks (key TEXT PRIMARY KEY, at REAL NOT NULL)")  # "N ahead" already told


def booking_confirmations(db: Any) -> None:
    """The confirmation codes of bookings still pending (issue 16).

    ``IF NOT EXISTS``: before this migration the channels' hub made the table at start.
    """
    db.execute("CREATE TABLE IF NOT EXISTS booking_confirmations (appt_id TEXT PRIMARY KEY, code TEXT NOT NULL, "
               "tries INTEGER NOT NULL DEFAULT 0, expires_at REAL NOT NULL)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_booking_confirmations_expiry ON booking_confirmations(expires_at)")
