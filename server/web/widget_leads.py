"""The visitor socket's lead work (kept out of widget_ws.py, which stays the chat's hot path).

A required pre-chat form (services/prechat.py): a first ``message.send`` is refused with
``prechat_required`` naming the missing fields in the visitor's language, before anything
is stored. A verified identify whose user's record another device made hands this device
that record's token (services/verified.py).

``page.viewed`` {url, title?, referrer?, timezone?}: the page the registered visitor is on now
(the panel hears it from embed.js, single-page-app navigation included). Limited per
visitor (FRONTDESK_VISITOR_PAGES_PER_MINUTE), sizes bounded by services/leads.check_page;
answered by nothing (operators get ``lead.updated``); an error frame if refused.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..errors import FrontdeskError
from ..locales import format_list
from ..services import leads, prechat, sites
from ..store.sites import Site
from ..store.visitors import Visitor

log = logging.getLogger(__name__)


class _Connection(Protocol):
    site: Site
    site_changed: bool
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


def adopted_token(connection: _Connection, visitor: Visitor) -> str:
    """The token of the verified user's visitor record, for the device that adopts it
    (services/verified.py): only ever after a valid user_hash."""
    return connection.state.signer.visitor_token(visitor.id, connection.site.id, visitor.token_generation)  # type: ignore[no-any-return]


async def check_prechat(connection: _Connection) -> None:
    """Before a visitor's first message: refused while a required pre-chat field is missing.
    The site is read again first if an admin changed it while the socket was open (the
    form made required applies at once, to every open socket)."""
    if connection.site_changed:
        connection.site_changed = False
        connection.site = await sites.site_by_key(connection.state.db, connection.site.key) or connection.site
    missing = await prechat.missing_fields(connection.state.db, connection.site, connection.claim.visitor_id)
    if missing:
        lang = connection.socket.lang
        names = format_list(lang, [connection.state.catalogs.translate(lang, f"prechat.field.{f}") for f in missing])
        raise prechat.PrechatRequired(field=missing[0], fields=missing, names=names)
