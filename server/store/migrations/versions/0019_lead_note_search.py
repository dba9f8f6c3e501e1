"""Private notes on a lead: full-text searchable (as chat messages and conversation notes
are, 0016), and editable (edited_at).

Revision ID: 0019_lead_note_search
Revises: 0018_verified_visitors

SQLite: an external-content FTS5 table kept by triggers (notes are written by hand, a few
a day: a trigger's cost does not matter here, unlike a chat message's). PostgreSQL: an
expression GIN index over to_tsvector('simple', body), the expression store/search.py repeats.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_lead_note_search"
down_revision = "0018_verified_visitors"
branch_labels = None
depends_on = None

_SQLITE = [
    "CREATE VIRTUAL TABLE search_lead_notes USING fts5(body, content='lead_notes', content_rowid='id', "
    "tokenize='unicode61', detail='none', columnsize=0)",
    "CREATE TRIGGER search_lead_notes_insert AFTER INSERT ON lead_notes BEGIN "
    "INSERT INTO search_lead_notes(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER search_lead_notes_update AFTER UPDATE OF body ON lead_notes BEGIN "
    "INSERT INTO search_lead_notes(search_lead_notes, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO search_lead_notes(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER search_lead_notes_delete AFTER DELETE ON lead_notes BEGIN "
    "INSERT INTO search_lead_notes(search_lead_notes, rowid, body) VALUES ('delete', old.id, old.body); END",
    "INSERT INTO search_lead_notes(rowid, body) SELECT id, body FROM lead_notes",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_lead_notes_insert", "DROP TRIGGER IF EXISTS search_lead_notes_update",
    "DROP TRIGGER IF EXISTS search_lead_notes_delete", "DROP TABLE IF EXISTS search_lead_notes",
]
_POSTGRES = ["CREATE INDEX ix_lead_notes_search ON lead_notes USING gin (to_tsvector('simple', body))"]
_POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_lead_notes_search"]


def upgrade() -> None:
    with op.batch_alter_table("lead_notes") as batch_op:
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for statement in _SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else _POSTGRES_DOWN:
        op.execute(statement)
    with op.batch_alter_table("lead_notes") as batch_op:
        batch_op.drop_column("edited_at")
