"""The event catalogue: every stored event type, its meaning and payload.

Names are ``noun.past_verb``; the same string is the websocket ``type``, the webhook
event and the docs entry. A test checks each one is documented in docs/realtime.md.
"""

from __future__ import annotations

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
MESSAGE_CREATED = "message.created"
CONVERSATION_READ = "conversation.read"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_CLOSED = "conversation.closed"
CONVERSATION_REOPENED = "conversation.reopened"
NOTE_CREATED = "note.created"
SITE_UPDATED = "site.updated"
CONTACT_SUBMITTED = "contact.submitted"
LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
LEAD_MERGED = "lead.merged"
CALLBACK_REQUESTED = "callback.requested"
CALLBACK_UPDATED = "callback.updated"
CALLBACK_DUE = "callback.due"

CATALOGUE: dict[str, str] = {
    CONVERSATION_CREATED: "A visitor's first message opened a conversation. Payload: conversation (summary).",
    MESSAGE_CREATED: "A message was stored. Payload: conversation_id, message, conversation (summary).",
    CONVERSATION_UPDATED: "A conversation changed (visitor identified). Payload: conversation (summary).",
    CONVERSATION_READ: (
        "An operator read a conversation: unread count 0, read_seq up to the last message (the visitor's widget "
        "shows \"Seen\"). Payload: conversation (summary), read_seq."
    ),
    CONVERSATION_ASSIGNED: (
        "A conversation was assigned, transferred (with an optional private note) or unassigned. "
        "Payload: conversation (summary), entry (the thread line: actor, target, body)."
    ),
    CONVERSATION_CLOSED: "An operator closed a conversation. Payload: conversation (summary), entry.",
    CONVERSATION_REOPENED: (
        "A conversation was reopened by an operator, or by the visitor writing into it. "
        "Payload: conversation (summary), entry."
    ),
    NOTE_CREATED: (
        "An operator wrote a private note (operators and integrators only, never the visitor). "
        "Payload: conversation_id, entry (body: the note), conversation (summary)."
    ),
    SITE_UPDATED: "An admin changed a site's settings; open widgets read their config again. Payload: site (id, key).",
    CONTACT_SUBMITTED: "A visitor sent the contact form (its message is also a message.created in the conversation). "
    "Payload: submission (id, visitor_id, conversation_id, name, email, phone, message, language, consent {text, "
    "privacy_url, given_at}, created_at), conversation (summary).",
    LEAD_CREATED: "A visitor registered and became a lead. Payload: lead.",
    LEAD_UPDATED: "A lead changed (identified, came back, moved to another page) or an operator worked its pipeline "
    "(status, lost reason, owner, tags, a private note). Payload: lead, changed (field names), page (url, title, "
    "visitor_id, at: when the change is a page view); for the pipeline also pipeline (status, lost_reason, "
    "status_changed_at, owner, tags), by (the operator) and note (a new private note).",
    LEAD_MERGED: "Two leads of one site turned out to be one person (same verified user, email or phone) and were "
    "merged into the older. Payload: lead (the survivor), merged (the absorbed lead, merged_into set), filled.",
    CALLBACK_REQUESTED: "A visitor asked to be called back (as soon as possible, or in a slot). Payload: callback.",
    CALLBACK_UPDATED: "A callback changed: an operator recorded an attempt (done, no answer with the next try, "
    "wrong number, cancelled), assigned it (change: assigned, operator_id) or the visitor cancelled it. "
    "Payload: callback (with assignee_id), by (operator | visitor).",
    CALLBACK_DUE: "A callback fell due: the reminder to call now, sent once across nodes. Payload: callback.",
}
