"""The event catalogue: every stored event type, its meaning and payload.

Names are ``noun.past_verb``; the same string is the websocket ``type``, the webhook
event and the docs entry. A test checks each one is documented in docs/realtime.md.
"""

from __future__ import annotations

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
MESSAGE_CREATED = "message.created"
SITE_UPDATED = "site.updated"

CATALOGUE: dict[str, str] = {
    CONVERSATION_CREATED: "A visitor's first message opened a conversation. Payload: conversation (summary).",
    MESSAGE_CREATED: "A message was stored. Payload: conversation_id, message, conversation (summary).",
    CONVERSATION_UPDATED: "A conversation changed (read by an operator, visitor identified). Payload: conversation (summary).",
    SITE_UPDATED: "An admin changed a site's settings; open widgets read their config again. Payload: site (id, key).",
}
