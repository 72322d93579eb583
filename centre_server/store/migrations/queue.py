"""The queue's own tables: services, counters, tickets, the event log, devices, staff, sessions, audit."""

from __future__ import annotations

from typing import Any


def initial(db: Any) -> None:
    db.table("services").create({
        "id": str, "prefix": str, "name_en": str, "name_sw": str, "category": str,
        "category_sw": str, "target_wait_s": int, "service_time_s": float, "enabled": int,
        "position": int}, pk="id")
    db.table("counters").create({
        "id": str, "name": str, "services": str, "state": str, "ticket_id": str, "clerk": str,
        "priority_streak": int, "idle_since": float, "last_ticket_id": str, "position": int}, pk="id")
    db.table("tickets").create({
        "id": str, "day": str, "seq": int, "number": str, "service_id": str, "priority": str,
        "channel": str, "language": str, "phone": str, "state": str, "issued_at": float,
        "queued_at": float, "called_at": float, "first_called_at": float, "started_at": float,
        "ended_at": float, "counter_id": str, "clerk": str, "recalls": int, "transfers": str,
        "outcome": str, "rating": int, "comment": str, "no_show_at": float, "cancel_reason": str,
        "idempotency_key": str, "device_id": str, "estimated_wait_s": int}, pk="id")
    db.table("tickets").create_index(["day", "service_id", "seq"], unique=True)
    db.table("tickets").create_index(["state"])
    db.execute("CREATE UNIQUE INDEX idx_tickets_idem ON tickets(idempotency_key) WHERE idempotency_key IS NOT NULL")
    db.table("events").create({"seq": int, "at": float, "type": str, "data": str}, pk="seq")
    db.table("events").create_index(["type", "at"])
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("devices").create({
        "id": str, "kind": str, "role": str, "token_hash": str, "mqtt_username": str,
        "mqtt_password_hash": str, "counters": str, "created_at": float, "revoked_at": float,
        "note": str}, pk="id")
    db.table("devices").create_index(["token_hash"], unique=True)
    db.table("staff").create({
        "username": str, "role": str, "password_hash": str, "full_name": str, "disabled": int,
        "failed_logins": int, "locked_until": float, "created_at": float}, pk="username")
    db.table("sessions").create({
        "token_hash": str, "username": str, "role": str, "created_at": float, "expires_at": float,
        "csrf": str}, pk="token_hash")
    db.table("audit").create({"id": int, "at": float, "actor": str, "action": str, "detail": str}, pk="id")


def remote_tickets(db: Any) -> None:
    """Remote tickets check in on arrival; appointments carry their slot."""
    db.execute("ALTER TABLE tickets ADD COLUMN checked_in INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE tickets ADD COLUMN slot_at REAL")
    db.execute("ALTER TABLE tickets ADD COLUMN appointment_id TEXT")


def numbers_unique_per_day(db: Any) -> None:
    """A transferred ticket keeps its number but changes service: uniqueness is (day, number)."""
    db.execute("DROP INDEX IF EXISTS idx_tickets_day_service_id_seq")
    db.execute("CREATE UNIQUE INDEX idx_tickets_day_number ON tickets(day, number)")
    db.execute("CREATE INDEX idx_tickets_day_service ON tickets(day, service_id)")


def keys_unique_per_day(db: Any) -> None:
    """Idempotency keys are remembered for today and the day before (engine.State.earlier_keys):
    uniqueness is per day, so a kiosk's key reused days later is a new ticket, never a failed commit."""
    db.execute("DROP INDEX IF EXISTS idx_tickets_idem")
    # key first: the same index finds a key of any day (find_by_idempotency_key), one index per ticket fewer
    db.execute("CREATE UNIQUE INDEX idx_tickets_idem_day ON tickets(idempotency_key, day) "
               "WHERE idempotency_key IS NOT NULL")


def learned_rates(db: Any) -> None:
    """What the wait predictor has learned of the centre (issue 18), one JSON row kept across restarts:
    the arrival profile by quarter-hour, yesterday's staffing, no-shows, patience, the counters' paces."""
    db.execute("CREATE TABLE learned_rates (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at REAL NOT NULL, "
               "data TEXT NOT NULL)")


def passed_over(db: Any) -> None:
    """A remote ticket passed over at the front before its citizen checked in keeps its place for the check-in
    grace (engine: TicketPassedOver): since when, so a restart neither forgets nor restarts the grace."""
    db.execute("ALTER TABLE tickets ADD COLUMN passed_over_at REAL")
