"""The event catalogue: every stored event type, its meaning and payload.

Names are ``noun.past_verb``; the same string is the websocket ``type``, the webhook
event and the docs entry. A test checks each one is documented in docs/realtime.md.
"""

from __future__ import annotations

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
MESSAGE_CREATED = "message.created"
LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
LEAD_MERGED = "lead.merged"

CATALOGUE: dict[str, str] = {
    CONVERSATION_CREATED: "A visitor's first message opened a conversation. Payload: conversation (summary).",
    MESSAGE_CREATED: "A message was stored. Payload: conversation_id, message, conversation (summary).",
    CONVERSATION_UPDATED: "A conversation changed (read by an operator, visitor identified). Payload: conversation (summary).",
    LEAD_CREATED: "A visitor registered and became a lead. Payload: lead.",
    LEAD_UPDATED: "A lead changed (identified, came back, moved to another page). Payload: lead, changed (field names), "
    "page (url, title, visitor_id, at: when the change is a page view).",
    LEAD_MERGED: "Two leads of one site turned out to be one person (same verified user, email or phone) and were "
    "merged into the older. Payload: lead (the survivor), merged (the absorbed lead, merged_into set), filled.",
}
