"""Search: full-text indexes of chat messages, private notes and lead names

Revision ID: 0016_search_index
Revises: 0015_lead_pipeline

SQLite: FTS5 tables (notes and names kept by triggers), so the chat message write path (raw statements on
the driver, services/chat.py) stays as it is; the messages' and notes' indexes are
external-content (the text is stored once, in its own table). New messages are indexed in
bulk before a search (store/search.py ``index_pending``), not as they are written. The tokenizer is unicode61
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
    # Chat messages (rowid = messages.id). Nothing runs when a message is written: an FTS5
    # insert per message flushes a segment per statement (+69 µs CPU a message on the
    # writer, a trigger queueing the id +20 µs: docs/benchmarks.md, "Search"). Messages
    # only get new, higher ids, so the index keeps how far it has read (search_state) and
    # store/search.py indexes the messages above that mark in bulk before it searches.
    "CREATE VIRTUAL TABLE search_messages USING fts5(body, content='messages', content_rowid='id', "
    "tokenize='unicode61', detail='none', columnsize=0)",
    "CREATE TABLE search_state (id INTEGER PRIMARY KEY CHECK (id = 1), messages_upto INTEGER NOT NULL)",
    "INSERT INTO search_messages(search_messages) VALUES ('rebuild')",
    "INSERT INTO search_state (id, messages_upto) SELECT 1, coalesce(max(id), 0) FROM messages",
    # A deleted message leaves the index if it was in it. Deleting the newest messages lowers
    # the mark to the newest left: SQLite may give their ids to the next messages.
    "CREATE TRIGGER search_messages_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO search_messages(search_messages, rowid, body) SELECT 'delete', old.id, old.body "
    "WHERE old.id <= (SELECT messages_upto FROM search_state); "
    "UPDATE search_state SET messages_upto = (SELECT coalesce(max(id), 0) FROM messages) "
    "WHERE messages_upto > (SELECT coalesce(max(id), 0) FROM messages); END",
    "CREATE TRIGGER search_messages_update AFTER UPDATE OF body ON messages "
    "WHEN old.id <= (SELECT messages_upto FROM search_state) BEGIN "
    "INSERT INTO search_messages(search_messages, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO search_messages(rowid, body) VALUES (new.id, new.body); END",
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
    "DROP TRIGGER IF EXISTS search_messages_delete", "DROP TRIGGER IF EXISTS search_messages_update",
    "DROP TABLE IF EXISTS search_messages", "DROP TABLE IF EXISTS search_state",
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
