"""The event catalogue: every stored event type, its meaning and payload.

Names are ``noun.past_verb``; the same string is the websocket ``type``, the webhook
event and the docs entry. A test checks each one is documented in docs/realtime.md.
"""

from __future__ import annotations

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
MESSAGE_CREATED = "message.created"
CALLBACK_REQUESTED = "callback.requested"
CALLBACK_UPDATED = "callback.updated"
CALLBACK_DUE = "callback.due"

CATALOGUE: dict[str, str] = {
    CONVERSATION_CREATED: "A visitor's first message opened a conversation. Payload: conversation (summary).",
    MESSAGE_CREATED: "A message was stored. Payload: conversation_id, message, conversation (summary).",
    CONVERSATION_UPDATED: "A conversation changed (read by an operator, visitor identified). Payload: conversation (summary).",
    CALLBACK_REQUESTED: "A visitor asked to be called back (as soon as possible, or in a slot). Payload: callback.",
    CALLBACK_UPDATED: "A callback changed: an operator recorded an attempt (done, no answer with the next try, "
    "wrong number, cancelled) or the visitor cancelled it. Payload: callback, by (operator | visitor).",
    CALLBACK_DUE: "A callback fell due: the reminder to call now, sent once across nodes. Payload: callback.",
}
