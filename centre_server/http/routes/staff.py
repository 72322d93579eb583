"""Staff administration for admins: the page (``/staff``) and its JSON API (``/api/v1/staff``).

Only an admin passes (a clerk or a manager gets 403, JSON for the API and a
page for the browser); a write from the page carries the session's CSRF token
like every other. Each change is audited with the admin's name
(``centre_server.store.staff``), and one that ends sessions moves access.epoch
so this server and any other process forget them at once.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from centre_server.contract import Role
from centre_server.contract.api import StaffAddRequest, StaffOut, StaffRoleRequest
from centre_server.http.deps import ApiError, CentreDep, require
from centre_server.http.routes.tickets import ERRORS
from centre_server.runtime.centre import Centre
from centre_server.store import accounts, staff
from centre_server.store.accounts import Principal
from centre_server.web.pages import guard, render

logger = logging.getLogger(__name__)

ADMIN_ROLES = (Role.admin,)
AdminDep = Annotated[Principal, Depends(require(*ADMIN_ROLES))]

router = APIRouter(prefix="/staff", tags=["staff"])
page_router = APIRouter(include_in_schema=False)


def _refused(err: staff.StaffError) -> ApiError:
    return ApiError(err.status, err.code, err.message)


def _sessions_changed(centre: Centre) -> None:
    """Sessions ended in the database: every process drops the ones it remembered."""
    accounts.bump_access_epoch(centre.settings.directory)


@router.get("", responses=ERRORS)
def list_staff(centre: CentreDep, principal: AdminDep) -> dict[str, Any]:
    """Every member of staff (role, disabled, locked out) and the latest staff changes, newest first."""
    db = centre.reader()
    return {"staff": staff.staff_list(db), "audit": staff.staff_audit(db), "you": principal.name,
            "roles": [r.value for r in staff.ROLE_ORDER]}


@router.post("", status_code=201, response_model=StaffOut, responses=ERRORS)
def add_staff(body: StaffAddRequest, centre: CentreDep, principal: AdminDep) -> StaffOut:
    """Add a member of staff; the answer carries their generated first password, shown this once."""
    try:
        return StaffOut(**staff.add(centre.db, principal.name, body.username, body.role, body.full_name))
    except staff.StaffError as err:
        raise _refused(err) from None


@router.post("/{username}/reset-password", response_model=StaffOut, responses=ERRORS)
def reset_password(username: str, centre: CentreDep, principal: AdminDep) -> StaffOut:
    """A new generated password (shown this once); ends their sessions and lifts a lock-out."""
    try:
        out = StaffOut(**staff.reset_password(centre.db, principal.name, username))
    except staff.StaffError as err:
        raise _refused(err) from None
    _sessions_changed(centre)
    return out


@router.post("/{username}/disable", response_model=StaffOut, responses=ERRORS)
def disable(username: str, centre: CentreDep, principal: AdminDep) -> StaffOut:
    """Disable an account: its sessions end at once. Never one's own, nor the last admin."""
    try:
        out = StaffOut(**staff.set_disabled(centre.db, principal.name, username, True))
    except staff.StaffError as err:
        raise _refused(err) from None
    _sessions_changed(centre)
    return out


@router.post("/{username}/enable", response_model=StaffOut, responses=ERRORS)
def enable(username: str, centre: CentreDep, principal: AdminDep) -> StaffOut:
    """Enable a disabled account again (with the password it had)."""
    try:
        return StaffOut(**staff.set_disabled(centre.db, principal.name, username, False))
    except staff.StaffError as err:
        raise _refused(err) from None


@router.post("/{username}/unlock", response_model=StaffOut, responses=ERRORS)
def unlock(username: str, centre: CentreDep, principal: AdminDep) -> StaffOut:
    """Lift a lock-out after too many failed logins; the password stays."""
    try:
        return StaffOut(**staff.unlock(centre.db, principal.name, username))
    except staff.StaffError as err:
        raise _refused(err) from None


@router.put("/{username}/role", response_model=StaffOut, responses=ERRORS)
def change_role(username: str, body: StaffRoleRequest, centre: CentreDep, principal: AdminDep) -> StaffOut:
    """Another role, from their next login (their sessions end). Never one's own, nor the last admin's."""
    try:
        out = StaffOut(**staff.set_role(centre.db, principal.name, username, body.role))
    except staff.StaffError as err:
        raise _refused(err) from None
    _sessions_changed(centre)
    return out


@page_router.get("/staff")
def staff_page(request: Request) -> Response:
    """The admin's page; anyone else gets the "not allowed" page (403)."""
    user = guard(request, ADMIN_ROLES)
    if isinstance(user, Response):
        return user
    return render(request, "staff.html", user=user, title_key="staff_title")
