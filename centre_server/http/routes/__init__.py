"""Every HTTP route of the centre server, one module per resource, and which part of the server answers them.

The centre's own routes (tickets, counters, services, hall, stats, login) are
always there; the routes of a part that runs beside the centre (day close, the
web pages, the channels) are included only when ``create_app`` runs that part,
so the part's room (``dayclose/``, ``web/``, ``channels/``) never imports the
HTTP room: requests come down, never up.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from centre_server.contract import API_PREFIX


def centre_routers() -> Sequence[APIRouter]:
    """The routes of the centre itself: every app has them."""
    from centre_server.http.routes import auth, catalogue, counters, hall, services, stats, tickets, visits

    api = APIRouter(prefix=API_PREFIX)
    for module in (services, tickets, counters, auth, stats, hall, catalogue, visits):
        api.include_router(module.router)
    api.include_router(services.day_router)
    api.include_router(tickets.withdrawals)
    from centre_server.http.routes import clerk_tools
    api.include_router(clerk_tools.router)
    return (api,)


def part_routers(part_name: str) -> Sequence[APIRouter]:
    """The routes of one part of the running server, by the part's ``name``."""
    api = APIRouter(prefix=API_PREFIX)
    if part_name == "dayclose":
        from centre_server.http.routes import day

        api.include_router(day.router)
        return (api,)
    if part_name == "web":
        from centre_server.http.routes import live, manage, pages, reports, staffing

        api.include_router(live.router)
        api.include_router(manage.router)
        from centre_server.http.routes import staff  # staff administration for admins (issue 21)

        api.include_router(staff.router)
        return (api, pages.router, reports.router, staffing.router, staff.page_router)
    if part_name == "channels":
        from centre_server.http.routes import booking, checkin, join, webhooks

        api.include_router(checkin.router)
        return (join.router, booking.router, api, webhooks.router)
    if part_name == "alerts":
        from centre_server.http.routes import alerts

        api.include_router(alerts.router)
        return (api,)

    if part_name == "payments":
        from centre_server.http.routes import payments

        api.include_router(payments.router)
        return (api, payments.callbacks)
    return ()
