"""The one explicit list of routes."""

from __future__ import annotations

from starlette.routing import Mount, Route, WebSocketRoute

from . import (
    assets, callbacks_api, console_api, console_canned, console_leads, console_ws, contact_api, faq_api, health,
    widget_api, widget_ws,
)
from .console import (
    admin_api, auth, callbacks, exports, faq, language, lead_pages, leads, operators_page, pages, site_callbacks,
    site_settings,
)
from .console.roles import admin_only, is_admin_path


def routes() -> list[Route | WebSocketRoute | Mount]:
    return [_guarded(r) for r in _routes()]


def _guarded(route: Route | WebSocketRoute | Mount) -> Route | WebSocketRoute | Mount:
    """Every route under an admin path gets the admin guard here, not in its module."""
    if isinstance(route, Route) and is_admin_path(route.path):
        return Route(route.path, admin_only(route.endpoint), methods=route.methods, name=route.name)
    return route


def _routes() -> list[Route | WebSocketRoute | Mount]:
    return [
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics),
        Route("/embed.js", assets.embed_js, methods=["GET", "HEAD"]),
        Route("/widget/panel.html", assets.panel, methods=["GET", "HEAD"]),
        Route("/widget/{path:path}", assets.widget_files, methods=["GET", "HEAD"]),
        Route("/static/{path:path}", assets.static_files, methods=["GET", "HEAD"]),
        Route("/api/widget/v1/sites/{key}/config", widget_api.site_config, methods=["GET"]),
        Route("/api/widget/v1/sites/{key}/visitors", widget_api.start_visitor, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/contact", contact_api.submit, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/callbacks/slots", callbacks_api.slots, methods=["GET"]),
        Route("/api/widget/v1/sites/{key}/callbacks", callbacks_api.create, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/callbacks/pending", callbacks_api.pending, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/callbacks/{callback_id}/cancel", callbacks_api.cancel, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/faq/search", faq_api.search, methods=["GET"]),
        Route("/api/widget/v1/sites/{key}/faq/articles/{article_id}", faq_api.article, methods=["GET"]),
        Route("/api/widget/v1/sites/{key}/faq/articles/{article_id}/feedback", faq_api.feedback, methods=["POST"]),
        Route("/api/widget/v1/sites/{key}/{rest:path}", widget_api.preflight, methods=["OPTIONS"]),
        WebSocketRoute("/ws/visitor", widget_ws.visitor_socket),
        Route("/", pages.home),
        Route("/console/", pages.inbox),
        Route("/console", pages.inbox),
        Route("/console/login", auth.login_page, methods=["GET"]),
        Route("/console/login", auth.login, methods=["POST"]),
        Route("/console/logout", auth.logout, methods=["POST"]),
        Route("/console/sites", pages.sites_page, methods=["GET"]),
        Route("/console/sites", site_settings.create, methods=["POST"]),
        Route("/console/sites/{key}", site_settings.settings_page, methods=["GET"]),
        Route("/console/sites/{key}", site_settings.save, methods=["POST"]),
        Route("/console/sites/{key}/callbacks", site_callbacks.save, methods=["POST"]),
        Route("/console/operators", operators_page.operators_page, methods=["GET"]),
        Route("/console/operators", operators_page.create, methods=["POST"]),
        Route("/console/operators/{operator_id}", operators_page.operator_page, methods=["GET"]),
        Route("/console/operators/{operator_id}", operators_page.change, methods=["POST"]),
        Route("/console/leads", leads.leads_page, methods=["GET"]),
        Route("/console/leads/export.csv", exports.leads_csv, methods=["GET"]),
        Route("/console/conversations/{conversation_id}/transcript.csv", exports.transcript_csv, methods=["GET"]),
        # The pipeline (after every fixed /console/leads/<name> route: {lead_id} matches any name).
        Route("/console/leads/board", lead_pages.board_page, methods=["GET"]),
        Route("/console/leads/{lead_id}", lead_pages.lead_page, methods=["GET"]),
        Route("/console/leads/{lead_id}/pipeline", lead_pages.change, methods=["POST"]),
        Route("/console/language", language.choose, methods=["POST"]),
        Route("/console/callbacks", callbacks.queue, methods=["GET"]),
        Route("/console/callbacks/feed", callbacks.feed_settings, methods=["POST"]),
        Route("/console/callbacks/{callback_id}.ics", callbacks.ics, methods=["GET"]),
        Route("/console/callbacks/{callback_id}", callbacks.record, methods=["POST"]),
        Route("/console/callbacks/{callback_id}/assign", callbacks.assign, methods=["POST"]),
        Route("/calendar/{token}.ics", callbacks.feed, methods=["GET"]),
        Route("/console/faq", faq.articles_page, methods=["GET"]),
        Route("/console/faq/gaps", faq.gaps_page, methods=["GET"]),
        Route("/console/faq/new", faq.article_form, methods=["GET"]),
        Route("/console/faq/save", faq.save_article, methods=["POST"]),
        Route("/console/faq/{article_id:int}", faq.article_form, methods=["GET"]),
        Route("/console/faq/{article_id:int}/publish", faq.publish, methods=["POST"]),
        Route("/api/console/v1/conversations", console_api.conversations),
        Route("/api/console/v1/conversations/{conversation_id}/messages", console_api.conversation_messages),
        Route("/api/console/v1/admin/operators", admin_api.list_operators),
        Route("/api/console/v1/operators", console_api.operators),
        Route("/console/api/canned", console_canned.list_canned, methods=["GET"]),
        Route("/console/api/canned", console_canned.create_canned, methods=["POST"]),
        Route("/console/api/canned/{canned_id}", console_canned.change_canned, methods=["PUT"]),
        Route("/console/api/canned/{canned_id}", console_canned.delete_canned, methods=["DELETE"]),
        Route("/console/api/leads/{lead_id}", console_leads.get_lead, methods=["GET"]),
        Route("/console/api/leads/{lead_id}/status", console_leads.put_status, methods=["PUT"]),
        Route("/console/api/leads/{lead_id}/owner", console_leads.put_owner, methods=["PUT"]),
        Route("/console/api/leads/{lead_id}/tags", console_leads.post_tag, methods=["POST"]),
        Route("/console/api/leads/{lead_id}/tags", console_leads.delete_tag, methods=["DELETE"]),
        Route("/console/api/leads/{lead_id}/notes", console_leads.post_note, methods=["POST"]),
        Route("/console/api/leads/{lead_id}/notes/{note_id}", console_leads.put_note, methods=["PUT"]),
        Route("/console/api/leads/{lead_id}/notes/{note_id}", console_leads.delete_note, methods=["DELETE"]),
        Route("/api/console/v1/visitors/{visitor_id}/lead", leads.lead_card),
        WebSocketRoute("/ws/console", console_ws.console_socket),
    ]
