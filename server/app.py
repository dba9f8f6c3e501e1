"""create_app(settings): the Starlette app; its lifespan opens everything on app.state."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .config import Settings
from .logs import RequestIdMiddleware
from .realtime.single_node import SingleNodeLock
from .state import AppState
from .web.body_limit import BodyLimitMiddleware
from .web.routes import routes
from .web.templating import make_environment


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = await AppState.open(settings)
        lock = None
        try:
            if not settings.redis_url:
                lock = await SingleNodeLock.acquire(state.db)
        except Exception:
            await state.close()
            raise
        app.state.fd = state
        state.start_workers()
        try:
            yield
        finally:
            if lock is not None:
                await lock.release()
            await state.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"code": "not_found", "message": "Not found."}}, status_code=404)
        return Response("Not found", status_code=404, media_type="text/plain")

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )
    app.state.templates = make_environment()
    app.state.settings = settings
    return app
