"""Liveness for load balancers and process supervisors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})
