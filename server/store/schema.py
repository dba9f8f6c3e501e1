"""Every table, in one place (SQLAlchemy Core). Migrations in ``migrations/`` build it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime(timezone=True)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("allowed_origins", Text, nullable=False),  # JSON list of "scheme://host[:port]"
    Column("color", String(16), nullable=False),
    Column("position", String(8), nullable=False),  # auto (0007: the page's direction), right, left
    Column("language", String(8), nullable=True),  # forced widget language, or NULL
    Column("greeting", Text, nullable=True),  # JSON {"": default, "ru": …} (0005), or NULL
    Column("created_at", Timestamp, nullable=False),
    # The launcher's distance from its corner, in CSS px (0007); a script tag's data-offset-* wins.
    Column("offset_x", Integer, nullable=False, server_default="16"),
    Column("offset_y", Integer, nullable=False, server_default="16"),
    # Every page view registers and connects, so operators see visitors live (0007; costly).
    Column("live_visitors", Boolean, nullable=False, server_default=false()),
    # Nothing stored or connected before the page reports consent or the visitor opens the chat (0008).
    Column("consent_required", Boolean, nullable=False, server_default=false()),
    # The contact form (0011): its tab on or off, which fields it requires (a comma list of
    # name, email, phone, email_or_phone), the consent text per language (JSON like greeting),
    # the privacy policy's address, and where new messages are notified (else every operator).
    Column("contact_enabled", Boolean, nullable=False, server_default=false()),
    Column("contact_required", String(64), nullable=False, server_default="email_or_phone"),
    Column("consent_text", Text, nullable=True),
    Column("privacy_url", String(2048), nullable=True),
    Column("notify_email", String(254), nullable=True),
    # Leads (0012): the region phone numbers typed without a country code are read in (else
    # the IP's country), the pre-chat form, stored addresses anonymised, and the key of
    # verified identities (user_hash = HMAC-SHA256(user_id, identity_secret)).
    Column("default_country", String(2), nullable=True),
    Column("prechat", String(16), nullable=False, server_default="off"),  # off | optional | required
    Column("prechat_fields", String(32), nullable=False, server_default="name,email"),
    Column("anonymize_ips", Boolean, nullable=False, server_default=false()),
    Column("identity_secret", String(64), nullable=True),
    # Callback requests (0013): off until switched on; the schedule is read by services/slots.py.
    Column("callbacks_enabled", Boolean, nullable=False, server_default=false()),
    Column("callback_tz", String(64), nullable=False, server_default="UTC"),
    Column("callback_hours", String(500), nullable=False, server_default="mon-fri=09:00-18:00"),
    Column("callback_days_off", Text, nullable=False, server_default=""),  # ISO dates, comma-separated
    Column("callback_slot_minutes", Integer, nullable=False, server_default="30"),
    Column("callback_lead_minutes", Integer, nullable=False, server_default="60"),
    Column("callback_capacity", Integer, nullable=False, server_default="1"),
    Column("callback_countries", String(500), nullable=False, server_default=""),  # accepted regions; empty: any
    # Visitor-facing texts besides the greeting (0014): JSON {"offline_note": {"": …, "ru": …}, …}.
    Column("texts", Text, nullable=True),
    # The widget tab switches that are on (0014): JSON list, e.g. ["chat", "contact"]; NULL:
    # never chosen, every switch on (a view still needs its feature: contact_enabled, …).
    Column("tabs", Text, nullable=True),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("language", String(8), nullable=True),  # the console's language they chose, or NULL
    Column("active", Boolean, nullable=False, server_default=true()),  # deactivated: cannot log in
)

# Which sites an operator may work (0011); an operator without rows works every site.
operator_sites = Table(
    "operator_sites",
    metadata,
    Column("operator_id", Integer, ForeignKey("operators.id"), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
)

# Console sessions: a row per login, found by the hash of the cookie's random token.
# Deleting the row ends the session on every node (checked on each request and socket).
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False, index=True),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
)

visitors = Table(
    "visitors",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", String(200), nullable=True),
    Column("email", String(254), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("language", String(8), nullable=True),
    Column("ip", String(45), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("last_page_url", String(2048), nullable=True),
    Column("first_seen_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    # In every visitor token; raising it revokes all tokens issued before (docs/realtime.md).
    Column("token_generation", Integer, nullable=False, server_default="0"),
    Column("lead_id", String(32), nullable=True, index=True),  # the person (0012); merges move it
    Column("timezone", String(64), nullable=True),  # the browser's Intl time zone (0012)
    # The site's user this record was verified as (user_id + user_hash, 0016): one record per
    # verified user per site, adopted by every device of theirs (docs/leads.md).
    Column("user_id", String(200), nullable=True),
    Index("ix_visitors_site_user", "site_id", "user_id", unique=True),
)

# One lead per person per site (0012): what the visitor records of that person add up to.
# A lead merged into another keeps its row (merged_into set) so no attribute is ever lost.
leads = Table(
    "leads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("name", String(200), nullable=True),
    Column("email", String(254), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("user_id", String(200), nullable=True),  # the site's own user id, verified by HMAC
    Column("status", String(16), nullable=False, server_default="new"),
    Column("ip", String(45), nullable=True),  # the latest address (anonymised if the site asks)
    Column("country", String(2), nullable=True),
    Column("region", String(100), nullable=True),
    Column("city", String(100), nullable=True),
    Column("browser", String(100), nullable=True),
    Column("os", String(100), nullable=True),
    Column("device", String(16), nullable=True),  # desktop | mobile | tablet | bot
    Column("language", String(8), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("referrer", String(2048), nullable=True),  # of the landing page
    Column("landing_url", String(2048), nullable=True),
    Column("utm_source", String(200), nullable=True),
    Column("utm_medium", String(200), nullable=True),
    Column("utm_campaign", String(200), nullable=True),
    Column("utm_term", String(200), nullable=True),
    Column("utm_content", String(200), nullable=True),
    Column("current_url", String(2048), nullable=True),
    Column("current_title", String(300), nullable=True),
    Column("visits", Integer, nullable=False, server_default="1"),
    Column("first_seen_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    Column("merged_into", String(32), nullable=True),
    # The sales pipeline (0015): status new | contacted | qualified | won | lost.
    Column("lost_reason", String(500), nullable=True),
    Column("owner_id", Integer, ForeignKey("operators.id"), nullable=True),
    Column("status_changed_at", Timestamp, nullable=True),
    Index("ix_leads_site_recent", "site_id", "last_seen_at"),
    Index("ix_leads_site_email", "site_id", "email"),
    Index("ix_leads_site_phone", "site_id", "phone"),
    Index("ix_leads_site_user", "site_id", "user_id"),
)

# Tags an operator puts on a lead (0015): lower-cased, unique per lead.
lead_tags = Table(
    "lead_tags",
    metadata,
    Column("lead_id", String(32), primary_key=True),
    Column("tag", String(50), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Index("ix_lead_tags_site_tag", "site_id", "tag"),
)

# Operators' private notes on a lead (0015): never shown to the visitor.
lead_notes = Table(
    "lead_notes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("lead_id", String(32), nullable=False),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("edited_at", Timestamp, nullable=True),  # 0019: its author (or an admin) changed it
    Index("ix_lead_notes_lead", "lead_id", "id"),
)

# Every address a lead came from, with where it geolocates.
lead_addresses = Table(
    "lead_addresses",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("lead_id", String(32), nullable=False),
    Column("ip", String(45), nullable=False),
    Column("country", String(2), nullable=True),
    Column("region", String(100), nullable=True),
    Column("city", String(100), nullable=True),
    Column("first_seen_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    Index("ix_lead_addresses_lead_ip", "lead_id", "ip"),
)

# The pages a registered visitor saw (the panel reports them; nothing for page views of
# people who never registered).
page_views = Table(
    "page_views",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("lead_id", String(32), nullable=False),
    Column("visitor_id", String(32), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("title", String(300), nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_page_views_lead", "lead_id", "id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("visitor_id", String(32), ForeignKey("visitors.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("last_message_at", Timestamp, nullable=True),
    Column("last_message_preview", String(200), nullable=True),
    Column("unread_count", Integer, nullable=False, default=0),
    Column("last_seq", Integer, nullable=False, default=0),
    # 0009: who works it (NULL: nobody yet), since when it is closed (status "closed"),
    # and the seq up to which an operator has read it (the visitor's "Seen").
    Column("assignee_id", Integer, ForeignKey("operators.id", name="fk_conversations_assignee"), nullable=True),
    Column("closed_at", Timestamp, nullable=True),
    Column("read_seq", Integer, nullable=False, server_default="0"),
    Index("ix_conversations_visitor", "visitor_id", "created_at"),
    Index("ix_conversations_site_recent", "site_id", "last_message_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("author_kind", String(16), nullable=False),  # visitor | operator
    Column("author_id", String(64), nullable=True),
    Column("author_name", String(200), nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
)

# What happened in a conversation besides its messages (0009), for operators only: private
# notes and the system lines (assigned, transferred, closed, reopened). Never a message:
# entries take no seq and never reach a visitor. after_seq places one in the thread.
conversation_entries = Table(
    "conversation_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # note | assigned | transferred | unassigned | closed | reopened
    Column("after_seq", Integer, nullable=False),
    Column("actor_kind", String(16), nullable=False),  # operator | visitor
    Column("actor_id", Integer, nullable=True),
    Column("actor_name", String(200), nullable=True),
    Column("target_id", Integer, nullable=True),  # the assignee
    Column("target_name", String(200), nullable=True),
    Column("body", Text, nullable=True),  # a note, or the note given with a transfer
    Column("client_id", String(64), nullable=True),  # a note's client-made id: sent twice, stored once
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("conversation_id", "client_id", name="uq_entries_conversation_client"),
    Index("ix_entries_conversation", "conversation_id", "id"),
)

# Canned answers (0009): shared (operator_id NULL, managed by admins) or an operator's own.
canned_answers = Table(
    "canned_answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=True),
    Column("shortcut", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("ix_canned_operator", "operator_id"),
)

# The transactional outbox: one row per state change, written in the change's transaction.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("type", String(64), nullable=False),
    Column("site_id", Integer, nullable=True),
    Column("conversation_id", String(32), nullable=True),
    Column("payload", Text, nullable=False),  # JSON
    Column("created_at", Timestamp, nullable=False),
)


def lease_columns() -> list[Column]:  # type: ignore[type-arg]
    """The columns of a job table that nodes share through leases (store/leases.py)."""
    return [
        Column("status", String(16), nullable=False),  # pending | done | failed
        Column("attempts", Integer, nullable=False),  # attempts whose outcome was recorded
        Column("claims", Integer, nullable=False),  # times a worker took it: the lease's fencing token
        Column("next_attempt_at", Timestamp, nullable=False),
        Column("lease_owner", String(64), nullable=True),
        Column("lease_expires_at", Timestamp, nullable=True),
    ]


webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("secret", String(128), nullable=False),  # whsec_<base64>, the Standard Webhooks form
    Column("description", String(200), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

# Which event types an endpoint wants ("*": all), keyed the way the fan-out looks them up.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("endpoint_id", Integer, ForeignKey("webhook_endpoints.id"), primary_key=True),
    Column("event_type", String(64), primary_key=True),
    Column("site_id", Integer, nullable=False),
    Index("ix_webhook_subscriptions_site_type", "site_id", "event_type"),
)

# One row per (endpoint, event), written in the event's own transaction: the work list
# the webhook workers of every node share through leases.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("endpoint_id", Integer, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    *lease_columns(),
    Column("last_attempt_at", Timestamp, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", Timestamp, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)


# Callback requests (0013). ``client_id`` is the widget's: a retried or double-clicked
# request finds the first one. ``slot_start`` is the booked slot (NULL: as soon as possible).
callbacks = Table(
    "callbacks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("visitor_id", String(32), ForeignKey("visitors.id"), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("conversation_id", String(32), nullable=True),  # the visitor's conversation when they asked
    Column("phone", String(32), nullable=False),  # E.164
    Column("name", String(200), nullable=True),
    Column("note", Text, nullable=True),
    Column("language", String(8), nullable=True),
    Column("visitor_tz", String(64), nullable=True),
    Column("slot_start", Timestamp, nullable=True),
    Column("due_at", Timestamp, nullable=False),
    Column("status", String(16), nullable=False),  # requested | done | no_answer | wrong_number | cancelled
    Column("operator_id", Integer, nullable=True),  # who acted last
    # Who calls it (0016): set by an operator, the lead's owner by default; NULL: anyone.
    Column("assignee_id", Integer, ForeignKey("operators.id"), nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("site_id", "client_id", name="uq_callbacks_site_client"),
    Index("ix_callbacks_site_due", "site_id", "status", "due_at"),
    Index("ix_callbacks_visitor", "visitor_id", "status"),
)

# Places taken per slot: the row every booking of a slot updates, so that two nodes
# racing for its last place are ordered by the row's lock (``taken < capacity``).
callback_slots = Table(
    "callback_slots",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
    Column("slot_start", Timestamp, primary_key=True),
    Column("taken", Integer, nullable=False),
)

# Every call an operator made and how it went.
callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("callback_id", String(32), ForeignKey("callbacks.id"), nullable=False, index=True),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

# A reminder per time a callback falls due: the job table the reminder workers of every
# node share through leases (``next_attempt_at`` is when it is due).
callback_reminders = Table(
    "callback_reminders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("callback_id", String(32), ForeignKey("callbacks.id"), nullable=False),
    Column("due_at", Timestamp, nullable=False),
    *lease_columns(),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("callback_id", "due_at", name="uq_callback_reminders_due"),
    Index("ix_callback_reminders_due", "status", "next_attempt_at"),
)

# An operator's private calendar feed: the secret is in the URL, stored as a hash;
# a new one revokes the old.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("operator_id", Integer, ForeignKey("operators.id"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
)

# FAQ articles of a site, one row per question and language (0010). ``terms`` holds the
# words the search ranks by ({"t": question and phrasings, "b": answer and category}),
# ``search_terms`` the same words as one text for the candidate index: SQLite's FTS5
# table ``faq_search`` (trigram tokenizer, kept by triggers; made by the migration, as
# virtual tables cannot be declared here), PostgreSQL's pg_trgm GIN index.
faq_articles = Table(
    "faq_articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("language", String(8), nullable=False),
    Column("question", String(300), nullable=False),
    Column("question_key", String(300), nullable=False),  # the question folded: import updates, not duplicates
    Column("answer", Text, nullable=False),  # Markdown as written
    Column("answer_html", Text, nullable=False),  # rendered and sanitised: the only HTML the widget inserts
    Column("category", String(100), nullable=False, server_default=""),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("published", Boolean, nullable=False, server_default=false()),
    Column("phrasings", Text, nullable=False, server_default="[]"),  # JSON list of other ways to ask
    Column("terms", Text, nullable=False, server_default="{}"),
    Column("search_terms", Text, nullable=False, server_default=""),
    Column("helpful_yes", Integer, nullable=False, server_default="0"),
    Column("helpful_no", Integer, nullable=False, server_default="0"),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("site_id", "language", "question_key", name="uq_faq_articles_question"),
    Index("ix_faq_articles_site", "site_id", "published", "language"),
)

# PostgreSQL's candidate index for the FAQ: each article's search-term trigrams with how
# often they occur (SQLite has its FTS5 trigram table instead, so this stays empty there).
# Measured: pg_trgm's GIN index, one similarity lookup per query word, took ~100 ms a
# search at 1,000 articles; one IN-list lookup here, weighted by rarity, a few ms.
faq_trigrams = Table(
    "faq_trigrams",
    metadata,
    Column("article_id", Integer, ForeignKey("faq_articles.id"), primary_key=True),
    Column("trigram", String(16), primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("hits", Integer, nullable=False),
    Index("ix_faq_trigrams_site", "site_id", "trigram"),
)

# What the FAQ lacks: searches that found nothing and answers voted "did not help",
# counted per (site, kind, language, query, article; 0: none).
faq_gaps = Table(
    "faq_gaps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # no_result | unhelpful
    Column("language", String(8), nullable=False),
    Column("query", String(200), nullable=False),
    Column("query_key", String(200), nullable=False),
    Column("article_id", Integer, nullable=False, server_default="0"),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("first_at", Timestamp, nullable=False),
    Column("last_at", Timestamp, nullable=False),
    UniqueConstraint("site_id", "kind", "language", "query_key", "article_id", name="uq_faq_gaps"),
)


# Email to send: one row per message, written in the transaction of the change that
# causes it; the email workers of every node share it through leases. Rendered when
# sent, in ``lang``; ``message_id`` is fixed when queued, so a retry is the same message.
emails = Table(
    "emails",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("to_address", String(254), nullable=False),
    Column("template", String(64), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("context", Text, nullable=False),  # JSON: what the template shows
    Column("reply_to", String(254), nullable=True),
    Column("site_id", Integer, nullable=True),
    Column("conversation_id", String(32), nullable=True),
    *lease_columns(),
    Column("last_attempt_at", Timestamp, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("sent_at", Timestamp, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_emails_due", "status", "next_attempt_at"),
)

# What a visitor sent through the contact form, with the consent they gave (when, and to
# which text). The client-made id makes a double submit one submission.
contact_submissions = Table(
    "contact_submissions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("visitor_id", String(32), ForeignKey("visitors.id"), nullable=False),
    Column("conversation_id", String(32), ForeignKey("conversations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=True),
    Column("email", String(254), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("message", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("consent_text", Text, nullable=False),
    Column("privacy_url", String(2048), nullable=True),
    Column("consent_at", Timestamp, nullable=False),
    Column("send_copy", Boolean, nullable=False),
    Column("ip", String(45), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("page_url", String(2048), nullable=True),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("site_id", "client_id", name="uq_contact_submissions_site_client"),
)
