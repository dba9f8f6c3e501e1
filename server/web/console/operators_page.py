"""The Operators page (admins): the team, adding someone, and per operator their role,
sites, password and whether they may log in. Every change that ends an operator's
sessions is announced on their hub channel, so their open consoles close at once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import FrontdeskError, Invalid, NotFound
from ...realtime.hub import announce_session_ended
from ...services import operators, sites
from ...store.operators import Operator
from ...store.sites import Site
from ..context import app_state
from .forms import Form, csrf_failed, read_form, said
from .pages import console_data
from .rendering import render_page
from .roles import signed_in


@dataclass(frozen=True)
class OperatorRow:
    id: int
    name: str
    email: str
    role: str
    active: bool
    site_names: list[str] | None  # None: every site
    site_keys: list[str] | None
    is_you: bool


@dataclass(frozen=True)
class SiteChoice:
    key: str
    name: str


def _row(operator: Operator, by_id: dict[int, Site], you: Operator) -> OperatorRow:
    limited = None if operator.site_ids is None else [by_id[i] for i in sorted(operator.site_ids) if i in by_id]
    return OperatorRow(
        operator.id, operator.name, operator.email, operator.role, operator.active,
        None if limited is None else [s.name for s in limited], None if limited is None else [s.key for s in limited],
        operator.id == you.id,
    )


async def _context(request: Request) -> tuple[list[OperatorRow], list[SiteChoice], dict[int, Site]]:
    state = app_state(request)
    site_list = await sites.list_sites(state.db)
    by_id = {s.id: s for s in site_list}
    you = signed_in(request)
    rows = [_row(o, by_id, you) for o in await operators.list_operators(state.db)]
    return rows, [SiteChoice(s.key, s.name) for s in site_list], by_id


async def _page(request: Request, name: str, extra: dict[str, Any], status_code: int = 200) -> Response:
    operator = signed_in(request)
    rows, choices, _ = await _context(request)
    context = {
        "operators": [asdict(r) for r in rows], "site_choices": [asdict(c) for c in choices],
        "console_data": console_data(request, operator, "operators"), "errors": {}, "notice": None,
        "form": {}, **extra,
    }
    return await render_page(request, name, context, operator=operator, status_code=status_code)


async def operators_page(request: Request) -> Response:
    return await _page(request, "console/operators.html", {})


def _chosen_sites(form: Form) -> list[str] | None:
    """The site checkboxes: none ticked (or "every site" chosen) is every site."""
    if form.get("access", "all") == "all":
        return None
    return form.all("sites")


async def create(request: Request) -> Response:
    form = await read_form(request)
    if form is None:
        return await _page(request, "console/operators.html", {"error": csrf_failed(request)}, 403)
    state = app_state(request)
    password = form.get("password") or operators.new_password()
    generated = not form.get("password")
    kept = {"email": form.get("email")[:254], "name": form.get("name")[:200], "role": form.get("role"),
            "access": form.get("access", "all"), "sites": form.all("sites")}
    try:
        created = await operators.create_operator(
            state.writer, state.signer, form.get("email"), password, name=form.get("name") or None,
            role=form.get("role"), site_keys=_chosen_sites(form),
        )
    except FrontdeskError as exc:
        errors = {exc.field or "form": said(request, exc)}
        return await _page(request, "console/operators.html", {"errors": errors, "form": kept}, 400)
    notice = {"kind": "created", "name": created.name, "email": created.email,
              "password": password if generated else None}
    return await _page(request, "console/operators.html", {"notice": notice})


async def _target(request: Request) -> Operator:
    raw = request.path_params["operator_id"]
    operator = await operators.operator_by_id(app_state(request).db, int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if operator is None:
        raise NotFound(field="operator")
    return operator


async def _edit_page(request: Request, target: Operator, extra: dict[str, Any], status_code: int = 200) -> Response:
    _, choices, by_id = await _context(request)
    you = signed_in(request)
    context = {
        "target": asdict(_row(target, by_id, you)), "site_choices": [asdict(c) for c in choices],
        "console_data": console_data(request, you, "operators"), "errors": {}, "notice": None, **extra,
    }
    return await render_page(request, "console/operator.html", context, operator=you, status_code=status_code)


async def operator_page(request: Request) -> Response:
    try:
        target = await _target(request)
    except NotFound as exc:
        return await _page(request, "console/operators.html", {"error": said(request, exc)}, 404)
    return await _edit_page(request, target, {})


async def change(request: Request) -> Response:
    """One of the edit page's forms: save (role and sites), password, deactivate, activate, end_sessions."""
    state = app_state(request)
    you = signed_in(request)
    try:
        target = await _target(request)
    except NotFound as exc:
        return await _page(request, "console/operators.html", {"error": said(request, exc)}, 404)
    form = await read_form(request)
    if form is None:
        return await _edit_page(request, target, {"error": csrf_failed(request)}, 403)
    action = form.get("action")
    notice: dict[str, Any] = {"kind": action}
    try:
        if action == "save":
            role = form.get("role")
            if target.id == you.id and role != you.role:
                raise Invalid("self", field="role")
            _, ended = await operators.set_access(state.writer, target.id, role, _chosen_sites(form))
        elif action == "password":
            password = form.get("password") or operators.new_password()
            notice["password"] = None if form.get("password") else password
            await operators.set_password(state.writer, state.signer, target.id, password)
            ended = True
        elif action in ("deactivate", "activate"):
            if target.id == you.id:
                raise Invalid("self", field="active")
            _, ended = await operators.set_active(state.writer, target.id, action == "activate")
        elif action == "end_sessions":
            _, count = await operators.end_sessions(state.writer, target.id)
            ended = count > 0
        else:
            raise Invalid(field="action")
    except FrontdeskError as exc:
        return await _edit_page(request, target, {"errors": {exc.field or "form": said(request, exc)}}, 400)
    if ended:
        # Their open consoles close now (every node, through the hub), not at the next check.
        await announce_session_ended(state.hub, target.id)
        if target.id == you.id:
            return RedirectResponse("/console/login", status_code=303)
    fresh = await operators.operator_by_id(state.db, target.id)
    assert fresh is not None
    return await _edit_page(request, fresh, {"notice": notice})
