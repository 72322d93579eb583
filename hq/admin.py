"""The HQ admin's pages: log in, edit the national catalogue, publish versions, see who changed what.

Server-rendered forms, no script: every form posts back its session's CSRF
token, every change goes through ``hq.catalogue`` (which audits it), and a
wrong field is shown on the form in the admin's language, never a 500. Pages
need a session (``hq.auth``); changing the catalogue needs the ``admin`` role.
"Services by centre" needs any headquarters role.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from centre_server.contract import Priority
from centre_server.contract.catalogue import (
    MAX_NAME,
    OUTCOME_CODE_PATTERN,
    OfferingStatus,
    OutcomeDefinition,
    QueueStandards,
    Text,
)
from hq import board
from hq.access import Forbidden, LoginNeeded, checked_form
from hq.auth import SESSION_COOKIE, Accounts, AddressLimit, HqRole, LoginRefused, Staff
from hq.catalogue import (
    COLUMNS,
    OUTCOME_PARTS,
    CatalogueError,
    CatalogueStore,
    LineError,
    diff,
    flatten,
    outcome_flat,
    parse_csv,
    parse_service,
    to_csv,
)
from hq.i18n import LANGUAGES, STRINGS

logger = logging.getLogger(__name__)

LOGIN_COOKIE = "hq_login_csrf"  # the login form's own CSRF token (there is no session yet)
PAIRS = ["name", "category", "description", "documents", "eligibility", "in_person", "where_to_get",
         "payer", "waivers", "fee_note"]
LONG = {"description", "documents", "eligibility", "in_person", "where_to_get", "waivers", "fee_note"}
PRIORITIES = [p for p in Priority if p != Priority.none]
SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("hq_lang", "en")
    return lang if lang in LANGUAGES else "en"


def explain(fault: str, lang: str) -> str:
    """A field's fault (``key|arg|arg`` as ``hq.catalogue`` writes them) in the admin's language."""
    key, *args = fault.split("|")
    if f"fault_{key}" not in STRINGS:
        return fault  # a rule of the contract, said as the contract says it
    return STRINGS.tr(f"fault_{key}", lang, **dict(zip("abc", args)))


def local(ts: float | None) -> str:
    """A moment in headquarters' own time zone, as a person reads it."""
    t = board.local_time(ts, board.DEFAULT_TZ)
    return f"{t['date']} {t['time']} {t['zone']}" if t else "–"


def _stamp(when: Any) -> str:
    if isinstance(when, datetime):
        return local(when.timestamp())
    if isinstance(when, str):
        try:
            return local(datetime.fromisoformat(when).timestamp())
        except ValueError:
            return when
    return "–"


class Pages:
    """The pages, bound to one app's store, accounts and templates."""

    def __init__(self, app: FastAPI, catalogues: CatalogueStore, accounts: Accounts, templates: Any,
                 demo: bool) -> None:
        self.app, self.catalogues, self.accounts, self.templates, self.demo = app, catalogues, accounts, templates, demo
        self.limit = AddressLimit()

    # -------------------------------------------------------------- helpers

    def render(self, request: Request, name: str, ctx: dict[str, Any], staff: Staff | None = None,
               status: int = 200) -> HTMLResponse:
        lang = lang_of(request)
        t = STRINGS.bind(lang)
        resp = self.templates.TemplateResponse(request, name, {
            "t": t, "lang": lang, "other_lang": "sw" if lang == "en" else "en", "staff": staff, "demo": self.demo,
            "fault": lambda f: explain(f, lang), "local": local, "stamp": _stamp, "path": request.url.path,
            "here": request.url.path if request.method == "GET" else "/admin",
            "newest": self.catalogues.newest_version(), **ctx}, status_code=status)
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = "default-src 'self'; form-action 'self'; frame-ancestors 'none'"
        if request.query_params.get("lang") in LANGUAGES:
            resp.set_cookie("hq_lang", lang, max_age=365 * 86400, samesite="lax")
        return resp

    def staff(self, request: Request, *, admin: bool = True) -> Staff:
        who = self.accounts.session(request.cookies.get(SESSION_COOKIE))
        if who is None:
            raise LoginNeeded()
        if admin and who.role != HqRole.admin:
            raise Forbidden("role")
        return who

    async def form(self, request: Request, who: Staff) -> FormData:
        """The posted form, once its CSRF token is the session's."""
        return await checked_form(request, who)

    @staticmethod
    def back(path: str, **params: Any) -> RedirectResponse:
        query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items() if v not in (None, ""))
        return RedirectResponse(path + (f"?{query}" if query else ""), status_code=303)

    def service_form(self, request: Request, who: Staff, row: dict[str, str], *, original: str | None,
                     base: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                     status: int = 200) -> HTMLResponse:
        shown = dict(row)
        for lang in ("en", "sw"):  # documents: one per line in the text box
            shown[f"documents_{lang}"] = "\n".join(x.strip() for x in shown.get(f"documents_{lang}", "").split("|")
                                                   if x.strip())
        return self.render(request, "admin_service.html", {
            "row": shown, "original": original, "errors": errors or {}, "pairs": PAIRS, "long": LONG,
            "base": base or {}}, who, status)


def install(app: FastAPI, catalogues: CatalogueStore, accounts: Accounts, templates: Any, demo: bool) -> None:
    """Add the admin's pages and their error pages to ``app``."""
    pages = Pages(app, catalogues, accounts, templates, demo)
    router = APIRouter(prefix="/admin", include_in_schema=False)

    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, err: LoginNeeded) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = request.url.path
        return RedirectResponse(f"/admin/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, err: Forbidden) -> Response:
        who = accounts.session(request.cookies.get(SESSION_COOKIE))
        return pages.render(request, "admin_message.html", {
            "title_key": "forbidden_title", "message_key": f"forbidden_{err.reason}"}, who, 403)

    # -------------------------------------------------------------- login

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/admin") -> Response:
        token = secrets.token_urlsafe(24)
        resp = pages.render(request, "admin_login.html", {"next": _safe_next(next), "csrf": token, "error": None})
        resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/admin")
        return resp

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        target = _safe_next(str(form.get("next") or "/admin"))
        sent, expected = str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE) or ""
        token = secrets.token_urlsafe(24)

        def again(error: str, status: int) -> Response:
            resp = pages.render(request, "admin_login.html", {"next": target, "csrf": token, "error": error,
                                                              "username": username[:40]}, status=status)
            resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/admin")
            return resp

        if not expected or not hmac.compare_digest(sent, expected):
            return again("login_expired_form", 403)
        if not pages.limit.allow(request.client.host if request.client else "?"):
            return again("login_too_fast", 429)
        try:
            session, who = accounts.login(username, password)
        except LoginRefused as err:
            return again(f"login_{err.code}", err.status)
        resp = RedirectResponse(home_of(who, target), status_code=303)
        resp.set_cookie(SESSION_COOKIE, session, max_age=int(who.expires_at - time.time()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
        resp.delete_cookie(LOGIN_COOKIE, path="/admin")
        return resp

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        who = pages.staff(request, admin=False)
        await pages.form(request, who)
        accounts.logout(request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/admin/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # -------------------------------------------------------------- the catalogue

    def list_page(request: Request, who: Staff, *, q: str = "", category: str = "", published: int | None = None,
                  saved: str = "", retired: str = "", errors: dict[str, str] | None = None, note: str = "",
                  status: int = 200) -> Response:
        lang = lang_of(request)
        draft = catalogues.draft()
        services = draft.catalogue.services
        categories = sorted({s.category.get(lang) for s in services})
        needle = q.strip().lower()[:100]
        shown = [s for s in services
                 if (not category or s.category.get(lang) == category)
                 and (not needle or needle in " ".join([s.id, s.prefix, s.name.en, s.name.sw, s.agency,
                                                        s.category.en, s.category.sw]).lower())]
        changed = {c.service_id for c in draft.changes if c.service_id}
        return pages.render(request, "admin_catalogue.html", {
            "draft": draft, "services": shown, "total": len(services), "categories": categories, "q": q[:100],
            "category": category, "changed": changed, "published": published, "saved": saved[:40],
            "retired": retired[:40], "errors": errors or {}, "note": note[:500]}, who, status)

    @router.get("", response_class=HTMLResponse)
    def catalogue_list(request: Request, q: str = "", category: str = "", published: int | None = None,
                       saved: str = "", retired: str = "") -> Response:
        who = pages.staff(request)
        return list_page(request, who, q=q, category=category, published=published, saved=saved, retired=retired)

    @router.post("/publish", response_class=HTMLResponse)
    async def publish(request: Request) -> Response:
        who = pages.staff(request)
        form = await pages.form(request, who)
        note = str(form.get("note") or "")
        try:
            number = catalogues.publish(who.username, note)
        except CatalogueError as err:
            return list_page(request, who, errors=err.fields or {"note": err.code}, note=note, status=err.status)
        return pages.back("/admin", published=number)

    @router.post("/start", response_class=HTMLResponse)
    async def start(request: Request) -> Response:
        """An empty draft (a new headquarters) starts from the shipped catalogue."""
        who = pages.staff(request)
        await pages.form(request, who)
        try:
            catalogues.start_from_shipped(who.username)
        except CatalogueError:
            pass  # another admin filled it a moment ago: the list shows what is there
        return pages.back("/admin")

    @router.get("/services/new", response_class=HTMLResponse)
    def new_service(request: Request) -> Response:
        who = pages.staff(request)
        return pages.service_form(request, who, dict.fromkeys(COLUMNS, ""), original=None)

    @router.post("/services/new", response_class=HTMLResponse)
    async def add_service(request: Request) -> Response:
        who = pages.staff(request)
        form = await pages.form(request, who)
        row = {c: str(form.get(c) or "") for c in COLUMNS}
        try:
            service = parse_service(row)
            catalogues.save_service(who.username, service)
        except CatalogueError as err:
            return pages.service_form(request, who, row, original=None, errors=err.fields or {"id": err.code},
                                      status=422)
        return pages.back("/admin", saved=service.id)

    @router.get("/services/{service_id}", response_class=HTMLResponse)
    def edit_service(request: Request, service_id: str) -> Response:
        who = pages.staff(request)
        service = catalogues.draft().catalogue.service(service_id)
        if service is None:
            return pages.render(request, "admin_message.html", {
                "title_key": "not_found_title", "message_key": "not_found_service",
                "args": {"id": service_id[:40]}}, who, 404)
        return pages.service_form(request, who, flatten(service), original=service.id, base=flatten(service))

    @router.post("/services/{service_id}", response_class=HTMLResponse)
    async def save_service(request: Request, service_id: str) -> Response:
        who = pages.staff(request)
        form = await pages.form(request, who)
        row = {c: str(form.get(c) or "") for c in COLUMNS}
        row["id"] = service_id  # fixed: centres know a service by its id
        base = {c[5:]: str(v) for c, v in form.items() if c.startswith("base_") and c[5:] in COLUMNS}
        try:
            service = parse_service(row)
            catalogues.save_service(who.username, service, original_id=service_id, base=base or None)
        except CatalogueError as err:
            if err.code == "unknown_service":
                return pages.render(request, "admin_message.html", {
                    "title_key": "not_found_title", "message_key": "not_found_service",
                    "args": {"id": service_id[:40]}}, who, 404)
            errors = err.fields or {"id": err.code}
            return pages.service_form(request, who, row, original=service_id, base=base, errors=errors,
                                      status=err.status)
        return pages.back("/admin", saved=service.id)

    @router.post("/services/{service_id}/retire", response_class=HTMLResponse)
    async def retire_service(request: Request, service_id: str) -> Response:
        who = pages.staff(request)
        await pages.form(request, who)
        try:
            catalogues.retire_service(who.username, service_id)
        except CatalogueError:
            return pages.render(request, "admin_message.html", {
                "title_key": "not_found_title", "message_key": "not_found_service",
                "args": {"id": service_id[:40]}}, who, 404)
        return pages.back("/admin", retired=service_id)

    # -------------------------------------------------------------- standards

    @router.get("/standards", response_class=HTMLResponse)
    def standards_page(request: Request, saved: str = "") -> Response:
        who = pages.staff(request)
        std = catalogues.draft().catalogue.standards
        return pages.render(request, "admin_standards.html", {
            "std": std, "priorities": PRIORITIES, "errors": {}, "saved": bool(saved),
            "share": f"{std.target_share * 100:g}", "streak": str(std.priority_streak_limit)}, who)

    @router.post("/standards", response_class=HTMLResponse)
    async def save_standards(request: Request) -> Response:
        who = pages.staff(request)
        form = await pages.form(request, who)
        chosen = [p for p in PRIORITIES if str(p) in form.getlist("priority_classes")]
        streak, share = str(form.get("priority_streak_limit") or ""), str(form.get("target_share") or "")
        errors: dict[str, str] = {}
        try:
            streak_n = int(streak)
            if not 1 <= streak_n <= 50:
                errors["priority_streak_limit"] = "greater_than_equal|1" if streak_n < 1 else "less_than_equal|50"
        except ValueError:
            errors["priority_streak_limit"] = "whole_number"
        try:
            share_f = float(share)
            if not 0 < share_f <= 100:
                errors["target_share"] = "greater_than|0" if share_f <= 0 else "less_than_equal|100"
        except ValueError:
            errors["target_share"] = "number"
        if not errors:
            catalogues.set_standards(who.username, QueueStandards(
                priority_classes=chosen, priority_streak_limit=streak_n, target_share=round(share_f / 100, 4)))
            return pages.back("/admin/standards", saved=1)
        std = QueueStandards(priority_classes=chosen)
        return pages.render(request, "admin_standards.html", {
            "std": std, "priorities": PRIORITIES, "errors": errors, "saved": False, "share": share[:10],
            "streak": streak[:10]}, who, 422)

    # -------------------------------------------------------------- outcome codes

    def outcomes_page(request: Request, who: Staff, *, errors: dict[str, str] | None = None, editing: str = "",
                      typed: dict[str, str] | None = None, saved: str = "", retired: str = "", unused: str = "",
                      status: int = 200) -> Response:
        cat = catalogues.draft().catalogue
        used = {o.code: sum(1 for s in cat.services if o.code in s.outcomes) for o in cat.outcome_codes}
        rows = [{"code": o.code, **(typed if editing == o.code and typed else outcome_flat(o)),
                 "base": outcome_flat(o), "used": used[o.code]} for o in cat.outcome_codes]
        return pages.render(request, "admin_outcomes.html", {
            "rows": rows, "errors": errors or {}, "editing": editing, "saved": saved[:40], "retired": retired[:40],
            "unused": unused[:40],
            "typed": typed if editing == NEW_OUTCOME and typed else {}, "new": NEW_OUTCOME,
            "max_label": MAX_NAME}, who, status)

    @router.get("/outcomes", response_class=HTMLResponse)
    def outcomes(request: Request, saved: str = "", retired: str = "", unused: str = "") -> Response:
        return outcomes_page(request, pages.staff(request), saved=saved, retired=retired, unused=unused)

    @router.post("/outcomes", response_class=HTMLResponse)
    async def save_outcome(request: Request) -> Response:
        """Define a national outcome code or relabel one (both languages, whether a reason is required)."""
        who = pages.staff(request)
        form = await pages.form(request, who)
        new = form.get("new") == "1"
        typed = {"code": str(form.get("code") or "").strip()[:60],
                 "label_en": str(form.get("label_en") or "")[:200], "label_sw": str(form.get("label_sw") or "")[:200],
                 "reason_required": "1" if form.get("reason_required") else "0"}
        editing = NEW_OUTCOME if new else typed["code"]
        outcome, errors = parse_outcome(typed)
        if outcome is None:
            return outcomes_page(request, who, errors=errors, editing=editing, typed=typed, status=422)
        base = {p: str(form.get(f"base_{p}")) for p in OUTCOME_PARTS if form.get(f"base_{p}") is not None}
        try:
            catalogues.save_outcome(who.username, outcome, new=new, base=base or None)
        except CatalogueError as err:
            if err.status == 404:
                return pages.render(request, "admin_message.html", {
                    "title_key": "not_found_title", "message_key": "not_found_outcome",
                    "args": {"code": typed["code"][:40]}}, who, 404)
            return outcomes_page(request, who, errors=err.fields or {"code": err.code}, editing=editing,
                                 typed=typed, status=err.status)
        return pages.back("/admin/outcomes", saved=outcome.code)

    @router.post("/outcomes/{code}/retire", response_class=HTMLResponse)
    async def retire_outcome(request: Request, code: str) -> Response:
        """Retire a national outcome code: withdrawn from every service in the draft, its definition kept."""
        who = pages.staff(request)
        await pages.form(request, who)
        try:
            changes = catalogues.retire_outcome(who.username, code[:40])
        except CatalogueError as err:
            if err.status == 404:
                return pages.render(request, "admin_message.html", {
                    "title_key": "not_found_title", "message_key": "not_found_outcome",
                    "args": {"code": code[:40]}}, who, 404)
            return outcomes_page(request, who, errors=err.fields or {"code": err.code}, editing=code[:40],
                                 status=err.status)
        return pages.back("/admin/outcomes", retired=code if changes else "", unused=code if not changes else "")

    # -------------------------------------------------------------- history

    @router.get("/versions", response_class=HTMLResponse)
    def versions(request: Request) -> Response:
        who = pages.staff(request)
        return pages.render(request, "admin_versions.html", {"versions": catalogues.versions(),
                                                             "draft": catalogues.draft()}, who)

    @router.get("/versions/{which}", response_class=HTMLResponse)
    def version_diff(request: Request, which: str) -> Response:
        who = pages.staff(request)
        if which == "draft":
            draft = catalogues.draft()
            return pages.render(request, "admin_diff.html", {
                "which": "draft", "base": draft.base_version, "changes": draft.changes,
                "names": _names(draft.catalogue, catalogues.published(), lang_of(request)), "info": None}, who)
        number = int(which) if which.isdigit() and len(which) < 10 else -1
        this = catalogues.published(number) if number > 0 else None
        if this is None:
            return pages.render(request, "admin_message.html", {
                "title_key": "not_found_title", "message_key": "not_found_version", "args": {"n": which[:12]}},
                who, 404)
        before = catalogues.published(number - 1) if number > 1 else None
        info = next((v for v in catalogues.versions() if v.version == number), None)
        return pages.render(request, "admin_diff.html", {
            "which": number, "base": number - 1, "changes": diff(before, this),
            "names": _names(this, before, lang_of(request)), "info": info}, who)

    @router.get("/catalogue.csv")
    def export(request: Request, version: str = "draft") -> Response:
        pages.staff(request)
        if version == "draft":
            services, name = catalogues.draft().catalogue.services, "huduma-catalogue-draft.csv"
        else:
            found = catalogues.published(int(version)) if version.isdigit() and len(version) < 10 else None
            if found is None:
                return Response(f"no version {version[:12]}\n", status_code=404, media_type="text/plain")
            services, name = found.services, f"huduma-catalogue-v{found.version}.csv"
        return Response(to_csv(services), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, page: int = 0) -> Response:
        who = pages.staff(request)
        page = max(0, min(page, 10_000))
        per = 200
        rows = catalogues.audit(limit=per + 1, offset=page * per)
        return pages.render(request, "admin_audit.html", {"rows": rows[:per], "page": page,
                                                          "more": len(rows) > per}, who)

    # -------------------------------------------------------------- import

    @router.get("/import", response_class=HTMLResponse)
    def import_page(request: Request) -> Response:
        who = pages.staff(request)
        return pages.render(request, "admin_import.html", {"errors": None, "done": None}, who)

    @router.post("/import", response_class=HTMLResponse)
    async def import_csv(request: Request) -> Response:
        who = pages.staff(request)
        form = await pages.form(request, who)
        upload = form.get("file")
        filename = ""
        if isinstance(upload, UploadFile):
            filename = (upload.filename or "")[:200]
            data = await upload.read(3_000_000)
        else:
            data = str(upload or "").encode()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")  # a spreadsheet saved as "CSV" on Windows
        parsed = parse_csv(text)
        errors = parsed.errors + parsed.clashes_with(catalogues.draft().catalogue)
        if errors:
            errors.sort(key=lambda e: e.line)
            return pages.render(request, "admin_import.html", {"errors": errors, "done": None}, who, 422)
        try:
            changes = catalogues.import_services(who.username, parsed.services, filename)
        except CatalogueError as err:
            return pages.render(request, "admin_import.html", {
                "errors": [LineError(1, "", err.fields or {"file": err.code})], "done": None}, who, 422)
        return pages.render(request, "admin_import.html", {
            "errors": None, "done": {"n": len(parsed.services), "changes": len(changes)}}, who)

    # -------------------------------------------------------------- uniformity

    @router.get("/centres", response_class=HTMLResponse)
    def by_centre(request: Request, service: str = "") -> Response:
        who = pages.staff(request, admin=False)
        return pages.render(request, "admin_centres.html", uniformity(app.state.store, catalogues,
                                                                       lang_of(request), service[:40]), who)

    @router.post("/centres/{centre_id}/rebind", response_class=HTMLResponse)
    async def rebind(request: Request, centre_id: str) -> Response:
        """Free a centre's id for the next server that calls (the centre moved to a new machine): the server
        refused as a second install is accepted once the one bound before is forgotten."""
        who = pages.staff(request)
        await pages.form(request, who)
        if centre_id not in {c["id"] for c in app.state.store.centres()}:
            return pages.back("/admin/centres")
        if app.state.store.rebind_install(centre_id):
            logger.warning("%s re-bound centre %s: the next server to call becomes its install", who.username,
                           centre_id)
        return pages.back("/admin/centres", rebound=centre_id)

    app.include_router(router)


NEW_OUTCOME = "__new__"  # the form that defines a new code (every other form names its code)


def parse_outcome(typed: dict[str, str]) -> tuple[OutcomeDefinition | None, dict[str, str]]:
    """The outcome code a form describes, or each wrong field with its fault (``hq.catalogue``'s words)."""
    errors: dict[str, str] = {}
    if not re.fullmatch(OUTCOME_CODE_PATTERN, typed["code"]):
        errors["code"] = "outcome_code_pattern"
    for lang in ("en", "sw"):
        text = " ".join(typed[f"label_{lang}"].split())
        if not text:
            errors[f"label_{lang}"] = "required"
        elif len(text) > MAX_NAME:
            errors[f"label_{lang}"] = f"too_long|{MAX_NAME}"
        else:
            try:
                Text(en=text, sw=text)  # the contract's own rule for a text (no control or invisible character)
            except ValidationError:
                errors[f"label_{lang}"] = "unprintable"
    if errors:
        return None, errors
    try:
        return OutcomeDefinition(code=typed["code"], label=Text(en=typed["label_en"], sw=typed["label_sw"]),
                                 reason_required=typed["reason_required"] == "1"), {}
    except ValidationError as err:  # a rule of the contract this form does not know: said as the contract says
        return None, {"code": str(err.errors()[0].get("msg", "invalid"))[:200]}


def _safe_next(target: str) -> str:
    """Only a page of this site (never another site: an open redirect); the catalogue when none is given."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and not any(ord(ch) < 32 for ch in target) else "/admin"


def home_of(who: Staff, target: str) -> str:
    """Where a login lands: the page asked for, or, for staff who may not edit the catalogue, their own start."""
    if target == "/admin" and who.role != HqRole.admin:
        return "/callcentre" if who.role == HqRole.agent else "/"
    return target


def _names(new: Any, old: Any, lang: str) -> dict[str, str]:
    names = {s.id: s.name.get(lang) for s in (old.services if old else [])}
    names.update({s.id: s.name.get(lang) for s in (new.services if new else [])})
    return names


def uniformity(store: Any, catalogues: CatalogueStore, lang: str, service: str = "") -> dict[str, Any]:
    """Each centre's catalogue version and what it does not offer or has suspended (reason, since).

    A centre offers every national service it has not marked otherwise; with
    ``service``, only that service's status at each centre.
    """
    newest = catalogues.published()
    names = {s.id: s.name.get(lang) for s in (newest.services if newest else [])}
    national = set(names)
    reports = catalogues.centre_reports()
    installs = store.installs()
    rows = []
    for c in store.centres():
        rep = reports.get(c["id"])
        offerings = (rep or {}).get("offerings") or []
        exceptions = [{**o, "name": names.get(o["service_id"], o["service_id"]),
                       "reason_text": (o.get("reason") or {}).get(lang) or "",
                       "since_text": _stamp(o.get("since"))}
                      for o in offerings if o.get("status") != OfferingStatus.offered
                      and (not service or o.get("service_id") == service)]
        running = (rep or {}).get("running")
        reported = rep is not None and rep.get("offerings") is not None
        rows.append({"id": c["id"], "name": c["name"], "running": running,
                     "behind": newest is not None and running is not None and running < newest.version,
                     "foreign": running is not None and running > (newest.version if newest else 0),
                     "reported": (rep or {}).get("reported_at"), "has_offerings": reported,
                     "install": installs.get(c["id"]),
                     "offered": len(national - {o["service_id"] for o in exceptions}) if reported else None,
                     "exceptions": sorted(exceptions, key=lambda o: (o["status"] != "suspended", o["name"]))})
    services = sorted(((sid, name) for sid, name in names.items()), key=lambda x: x[1])
    return {"rows": rows, "newest_catalogue": newest, "service_count": len(national), "services": services,
            "service": service if service in national else "", "now": datetime.now(UTC)}
