"""Liveness and readiness for load balancers and process supervisors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .context import app_state


async def healthz(request: Request) -> JSONResponse:
    """Alive: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready: the database (and Redis, when configured) answer."""
    state = app_state(request)
    checks: dict[str, str] = {}
    try:
        await state.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    redis = getattr(state.hub, "redis", None)
    if redis is not None:
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """Prometheus exposition of this node's metrics."""
    state = app_state(request)
    state.metrics.writer_queue.set(state.writer.waiting)
    return Response(state.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
