"""Admin JSON: the operators and what each may do (the guard in routes.py lets only admins in)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...services import operators, sites
from ...store.operators import Operator
from ..context import app_state


def operator_json(operator: Operator, keys: dict[int, str]) -> dict[str, object]:
    return {
        **operator.public(), "role": operator.role, "active": operator.active,
        "sites": None if operator.site_ids is None else sorted(keys[i] for i in operator.site_ids if i in keys),
    }


async def list_operators(request: Request) -> Response:
    state = app_state(request)
    keys = {s.id: s.key for s in await sites.list_sites(state.db)}
    found = await operators.list_operators(state.db)
    return JSONResponse({"operators": [operator_json(o, keys) for o in found]}, headers={"Cache-Control": "no-store"})
