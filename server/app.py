"""create_app(settings): the Starlette app; its lifespan opens everything on app.state."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .assets import Assets, asset_root
from .config import Settings
from .errors import FrontdeskError, InternalError, MethodNotAllowed, NotFound
from .logs import RequestIdMiddleware
from .realtime.single_node import SingleNodeLock
from .state import AppState
from .web.body_limit import BodyLimitMiddleware
from .web.responses import error_response
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
        state.signer.warm_up()
        state.start_workers()
        try:
            await state.start_inbound()
        except Exception:
            await state.close()
            raise
        try:
            yield
        finally:
            if lock is not None:
                await lock.release()
            await state.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        """Routing's own errors (404, 405): JSON under /api/, like every API error."""
        assert isinstance(exc, HTTPException)
        if not request.url.path.startswith("/api/"):
            return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        error = {404: NotFound, 405: MethodNotAllowed}.get(exc.status_code, lambda: FrontdeskError("generic"))()
        response = error_response(request, error, headers=exc.headers)
        response.status_code = exc.status_code
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        # Still logged: Starlette re-raises after this response is sent.
        if request.url.path.startswith("/api/"):
            return error_response(request, InternalError())
        return PlainTextResponse("Internal Server Error", status_code=500)

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.assets = Assets(asset_root())
    app.state.templates = make_environment(app.state.assets)
    app.state.settings = settings
    return app
