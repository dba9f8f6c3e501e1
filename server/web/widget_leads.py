"""The visitor socket's lead frames (kept out of widget_ws.py, which stays the chat's hot path).

``page.viewed`` {url, title?, referrer?, timezone?}: the page the registered visitor is on now
(the panel hears it from embed.js, single-page-app navigation included). Limited per
visitor (FRONTDESK_VISITOR_PAGES_PER_MINUTE), sizes bounded by services/leads.check_page;
answered by nothing (operators get ``lead.updated``); an error frame if refused.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..errors import FrontdeskError
from ..services import leads
from ..store.sites import Site

log = logging.getLogger(__name__)


class _Connection(Protocol):
    site: Site
    state: Any
    claim: Any
    socket: Any


async def page_viewed(connection: _Connection, frame: dict[str, Any]) -> None:
    page = leads.check_page(frame)
    # Queued for the writer's next batch; nothing waits for it, so a page view never holds
    # up the frames behind it. A failure is said to the client as an error frame.
    pending = leads.queue_page_view(connection.state.writer, connection.site.id, connection.claim.visitor_id, page)
    connection.socket.spawn(_report(connection, pending))


async def _report(connection: _Connection, pending: Any) -> None:
    try:
        await pending
    except FrontdeskError as exc:
        connection.socket.send(connection.socket.error_frame(exc))
    except Exception:  # a store fault: the page view is lost, the socket is not
        log.exception("storing a page view failed")


async def phone_region(connection: _Connection, data: dict[str, Any]) -> str | None:
    """Only looked up when a phone is given: the site's default country, else the IP's."""
    if "phone" not in data:
        return None
    return await leads.phone_region(connection.state.db, connection.site, connection.claim.visitor_id)
