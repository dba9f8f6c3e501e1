"""FAQ: articles per site with their search index, and the questions the FAQ lacks

Revision ID: 0010_faq_articles
Revises: 0009_console_conversations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_faq_articles"
down_revision = "0009_console_conversations"
branch_labels = None
depends_on = None

_Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_articles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("question", sa.String(300), nullable=False),
        sa.Column("question_key", sa.String(300), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answer_html", sa.Text(), nullable=False),
        sa.Column("category", sa.String(100), nullable=False, server_default=""),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("phrasings", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("terms", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("search_terms", sa.Text(), nullable=False, server_default=""),
        sa.Column("helpful_yes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("helpful_no", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", _Timestamp, nullable=False),
        sa.Column("updated_at", _Timestamp, nullable=False),
        sa.UniqueConstraint("site_id", "language", "question_key", name="uq_faq_articles_question"),
    )
    op.create_index("ix_faq_articles_site", "faq_articles", ["site_id", "published", "language"])
    op.create_table(
        "faq_trigrams",
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("faq_articles.id"), primary_key=True),
        sa.Column("trigram", sa.String(16), primary_key=True),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
    )
    op.create_index("ix_faq_trigrams_site", "faq_trigrams", ["site_id", "trigram"])
    op.create_table(
        "faq_gaps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("query", sa.String(200), nullable=False),
        sa.Column("query_key", sa.String(200), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("first_at", _Timestamp, nullable=False),
        sa.Column("last_at", _Timestamp, nullable=False),
        sa.UniqueConstraint("site_id", "kind", "language", "query_key", "article_id", name="uq_faq_gaps"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # The candidate index: trigrams of each article's search terms, rowid = article id.
        op.execute("CREATE VIRTUAL TABLE faq_search USING fts5(terms, tokenize='trigram')")
        op.execute(
            "CREATE TRIGGER faq_search_insert AFTER INSERT ON faq_articles BEGIN "
            "INSERT INTO faq_search(rowid, terms) VALUES (new.id, new.search_terms); END"
        )
        op.execute(
            "CREATE TRIGGER faq_search_update AFTER UPDATE OF search_terms ON faq_articles BEGIN "
            "DELETE FROM faq_search WHERE rowid = old.id; "
            "INSERT INTO faq_search(rowid, terms) VALUES (new.id, new.search_terms); END"
        )
        op.execute(
            "CREATE TRIGGER faq_search_delete AFTER DELETE ON faq_articles BEGIN "
            "DELETE FROM faq_search WHERE rowid = old.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS faq_search")
    op.drop_table("faq_gaps")
    op.drop_index("ix_faq_trigrams_site", table_name="faq_trigrams")
    op.drop_table("faq_trigrams")
    op.drop_index("ix_faq_articles_site", table_name="faq_articles")
    op.drop_table("faq_articles")
