"""The one explicit list of routes."""

from __future__ import annotations

from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from ..assets import asset_path
from . import assets, callbacks_api, console_api, console_ws, health, widget_api, widget_ws
from .console import auth, callbacks, language, pages


def routes() -> list[Route | WebSocketRoute | Mount]:
    return [
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics),
        Route("/embed.js", assets.embed_js),
        Route("/widget/panel.html", assets.panel),
        Mount("/widget", app=assets.WidgetFiles(directory=str(asset_path("widget"))), name="widget"),
        Mount("/static", app=StaticFiles(directory=str(asset_path("static"))), name="static"),
        Route("/api/widget/v1/sites/{key}/config", widget_api.site_config, methods=["GET"]),
        Route("/api/widget/v1/sites/{key}/visitors", widget_api.start_visitor, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/callbacks/slots", callbacks_api.slots, methods=["GET"]),
        Route("/api/widget/v1/sites/{key}/callbacks", callbacks_api.create, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/callbacks/pending", callbacks_api.pending, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/callbacks/{callback_id}/cancel", callbacks_api.cancel, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/{rest:path}", widget_api.preflight, methods=["OPTIONS"]),
        WebSocketRoute("/ws/visitor", widget_ws.visitor_socket),
        Route("/", pages.home),
        Route("/console/", pages.inbox),
        Route("/console", pages.inbox),
        Route("/console/login", auth.login_page, methods=["GET"]),
        Route("/console/login", auth.login, methods=["POST"]),
        Route("/console/logout", auth.logout, methods=["POST"]),
        Route("/console/sites", pages.sites_page),
        Route("/console/language", language.choose, methods=["POST"]),
        Route("/console/callbacks", callbacks.queue, methods=["GET"]),
        Route("/console/callbacks/feed", callbacks.feed_settings, methods=["POST"]),
        Route("/console/callbacks/{callback_id}.ics", callbacks.ics, methods=["GET"]),
        Route("/console/callbacks/{callback_id}", callbacks.record, methods=["POST"]),
        Route("/calendar/{token}.ics", callbacks.feed, methods=["GET"]),
        Route("/api/console/v1/conversations", console_api.conversations),
        Route("/api/console/v1/conversations/{conversation_id}/messages", console_api.conversation_messages),
        WebSocketRoute("/ws/console", console_ws.console_socket),
    ]
