"""Search: full-text indexes of chat messages, private notes and lead names

Revision ID: 0016_search_index
Revises: 0015_lead_pipeline

SQLite: FTS5 tables kept by triggers, so the chat message write path (raw statements on
the driver, services/chat.py) stays as it is; the messages' and notes' indexes are
external-content (the text is stored once, in its own table). New messages are queued by
their trigger and indexed in bulk (store/search.py ``index_pending``). The tokenizer is unicode61
(case-folded words, Cyrillic and Kazakh letters included); store/search.py matches word
prefixes of lightly stemmed query words, so "доставка" finds "доставку" (docs/leads.md, "Search").
PostgreSQL: expression GIN indexes over to_tsvector('simple', …), which need no triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0016_search_index"
down_revision = "0015_lead_pipeline"
branch_labels = None
depends_on = None

_SQLITE = [
    # Chat messages (rowid = messages.id). The message write only notes the id in
    # search_pending: an FTS5 insert flushes a segment per statement (~25 µs and ~9 more
    # statements a message, measured: docs/benchmarks.md), so store/search.py indexes the
    # pending messages in bulk, one statement a batch, before it searches.
    "CREATE VIRTUAL TABLE search_messages USING fts5(body, content='messages', content_rowid='id', "
    "tokenize='unicode61', detail='none', columnsize=0)",
    "CREATE TABLE search_pending (message_id INTEGER PRIMARY KEY)",
    "CREATE TRIGGER search_messages_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO search_pending(message_id) VALUES (new.id); END",
    # A message already indexed leaves the index; one still pending only leaves the queue.
    "CREATE TRIGGER search_messages_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO search_messages(search_messages, rowid, body) SELECT 'delete', old.id, old.body "
    "WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE message_id = old.id); "
    "DELETE FROM search_pending WHERE message_id = old.id; END",
    "CREATE TRIGGER search_messages_update AFTER UPDATE OF body ON messages "
    "WHEN NOT EXISTS (SELECT 1 FROM search_pending WHERE message_id = old.id) BEGIN "
    "INSERT INTO search_messages(search_messages, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO search_messages(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO search_messages(search_messages) VALUES ('rebuild')",
    # Private notes and transfer notes (conversation_entries with a body; rowid = entry id).
    "CREATE VIRTUAL TABLE search_notes USING fts5(body, content='conversation_entries', content_rowid='id', "
    "tokenize='unicode61', detail='none', columnsize=0)",
    "CREATE TRIGGER search_notes_insert AFTER INSERT ON conversation_entries WHEN new.body IS NOT NULL BEGIN "
    "INSERT INTO search_notes(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER search_notes_delete AFTER DELETE ON conversation_entries WHEN old.body IS NOT NULL BEGIN "
    "INSERT INTO search_notes(search_notes, rowid, body) VALUES ('delete', old.id, old.body); END",
    "INSERT INTO search_notes(rowid, body) SELECT id, body FROM conversation_entries WHERE body IS NOT NULL",
    # Lead names: leads have a text key, so the index keeps it (UNINDEXED) and its own copy
    # of the name. A name changes rarely (identify, merge); a page view's UPDATE does not
    # name the column, so this trigger does not run on it.
    "CREATE VIRTUAL TABLE search_leads USING fts5(lead_id UNINDEXED, name, tokenize='unicode61', detail='none')",
    "CREATE TRIGGER search_leads_insert AFTER INSERT ON leads WHEN new.name IS NOT NULL BEGIN "
    "INSERT INTO search_leads(lead_id, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER search_leads_update AFTER UPDATE OF name ON leads BEGIN "
    "DELETE FROM search_leads WHERE lead_id = old.id; "
    "INSERT INTO search_leads(lead_id, name) SELECT new.id, new.name WHERE new.name IS NOT NULL; END",
    "CREATE TRIGGER search_leads_delete AFTER DELETE ON leads BEGIN "
    "DELETE FROM search_leads WHERE lead_id = old.id; END",
    "INSERT INTO search_leads(lead_id, name) SELECT id, name FROM leads WHERE name IS NOT NULL",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_messages_insert", "DROP TRIGGER IF EXISTS search_messages_delete",
    "DROP TRIGGER IF EXISTS search_messages_update", "DROP TABLE IF EXISTS search_messages",
    "DROP TABLE IF EXISTS search_pending",
    "DROP TRIGGER IF EXISTS search_notes_insert", "DROP TRIGGER IF EXISTS search_notes_delete",
    "DROP TABLE IF EXISTS search_notes",
    "DROP TRIGGER IF EXISTS search_leads_insert", "DROP TRIGGER IF EXISTS search_leads_update",
    "DROP TRIGGER IF EXISTS search_leads_delete", "DROP TABLE IF EXISTS search_leads",
]
# Expression indexes: the queries in store/search.py repeat these expressions exactly.
_POSTGRES = [
    "CREATE INDEX ix_messages_search ON messages USING gin (to_tsvector('simple', body))",
    "CREATE INDEX ix_entries_search ON conversation_entries USING gin (to_tsvector('simple', coalesce(body, '')))"
    " WHERE body IS NOT NULL",
    "CREATE INDEX ix_leads_search ON leads USING gin (to_tsvector('simple', coalesce(name, '')))",
]
_POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_messages_search", "DROP INDEX IF EXISTS ix_entries_search",
    "DROP INDEX IF EXISTS ix_leads_search",
]


def upgrade() -> None:
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for statement in _SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else _POSTGRES_DOWN:
        op.execute(statement)
