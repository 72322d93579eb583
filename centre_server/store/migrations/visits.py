"""One-stop visits' columns: a ticket's visit plan, and each service's "often followed by" list."""

from __future__ import annotations

from typing import Any


def visits(db: Any) -> None:
    """``tickets.visit``: the plan as JSON (NULL for one service);
    ``services.then_services``: the ids often taken next, space-separated."""
    db.execute("ALTER TABLE tickets ADD COLUMN visit TEXT")
    db.execute("ALTER TABLE services ADD COLUMN then_services TEXT NOT NULL DEFAULT ''")
    # a booked visit: the services after the booked one, issued on the same ticket at check-in
    db.execute("ALTER TABLE appointments ADD COLUMN then_services TEXT NOT NULL DEFAULT ''")
