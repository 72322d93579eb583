"""Headquarters' staff, administered by an admin: add an account, change its role, disable, enable, reset.

Every change is audited (``hq_staff_audit``) and shown under it; a new or reset
password is generated and shown once, to the admin who made it. A disabled
account or a changed role ends the account's sessions at once.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import HTMLResponse, Response

from hq.access import checked_form, require_role
from hq.admin import Pages
from hq.auth import USERNAME_PATTERN, Accounts, HqRole, Staff
from hq.store import StoreError

logger = logging.getLogger(__name__)

Admin = Annotated[Staff, require_role(HqRole.admin)]


def install(app: FastAPI, pages: Pages, accounts: Accounts) -> None:
    router = APIRouter(prefix="/admin/staff", include_in_schema=False)

    def page(request: Request, who: Staff, *, shown: dict[str, str] | None = None, error: str = "",
             form: dict[str, str] | None = None, status: int = 200) -> Response:
        return pages.render(request, "admin_staff.html", {
            "accounts": accounts.list(), "roles": [HqRole.viewer, HqRole.agent, HqRole.admin], "shown": shown,
            "error": error, "form": form or {}, "log": accounts.audit_log(100), "now_ts": time.time()},
            who, status)

    @router.get("", response_class=HTMLResponse)
    def staff_list(request: Request, who: Admin) -> Response:
        return page(request, who)

    @router.post("", response_class=HTMLResponse)
    async def staff_add(request: Request, who: Admin) -> Response:
        form = await checked_form(request, who)
        username = str(form.get("username") or "").strip().lower()[:40]
        role = str(form.get("role") or "")
        values = {"username": username, "role": role}
        if not re.fullmatch(USERNAME_PATTERN, username):
            return page(request, who, error="staff_bad_username", form=values, status=422)
        if role not in {r.value for r in HqRole}:
            return page(request, who, error="staff_bad_role", form=values, status=422)
        try:
            password = accounts.create(who.username, username, HqRole(role))
        except StoreError:
            return page(request, who, error="staff_exists", form=values, status=409)
        return page(request, who, shown={"username": username, "password": password})

    @router.post("/{username}", response_class=HTMLResponse)
    async def staff_change(request: Request, who: Admin,
                           username: Annotated[str, Path(pattern=f"^{USERNAME_PATTERN}$")]) -> Response:
        form = await checked_form(request, who)
        action = str(form.get("action") or "")
        try:
            if action == "role":
                role = str(form.get("role") or "")
                if role not in {r.value for r in HqRole}:
                    return page(request, who, error="staff_bad_role", status=422)
                accounts.set_role(who.username, username, HqRole(role))
            elif action in ("disable", "enable"):
                accounts.set_disabled(who.username, username, action == "disable")
            elif action == "reset":
                return page(request, who, shown={"username": username,
                                                 "password": accounts.reset(who.username, username)})
            else:
                return page(request, who, error="staff_bad_action", status=422)
        except StoreError as err:
            return page(request, who, error=f"staff_{err.code}", status=err.status)
        return pages.back("/admin/staff", lang=request.query_params.get("lang"))

    app.include_router(router)


__all__ = ["install"]
