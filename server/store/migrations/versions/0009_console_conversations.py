"""conversations: assignee, closed_at and read_seq (the visitor's "Seen"); conversation
entries (private notes and system lines, for operators only); canned answers

Revision ID: 0009_console_conversations
Revises: 0008_widget19_consent
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_console_conversations"
down_revision = "0008_widget19_consent"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("read_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_foreign_key("fk_conversations_assignee", "operators", ["assignee_id"], ["id"])
    # What operators had read before: everything, where nothing was unread.
    op.execute("UPDATE conversations SET read_seq = last_seq WHERE unread_count = 0")
    op.create_table(
        "conversation_entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("after_seq", sa.Integer(), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("target_name", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_entries_conversation_client"),
    )
    op.create_index("ix_entries_conversation", "conversation_entries", ["conversation_id", "id"])
    op.create_table(
        "canned_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=True),
        sa.Column("shortcut", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_canned_operator", "canned_answers", ["operator_id"])


def downgrade() -> None:
    op.drop_index("ix_canned_operator", table_name="canned_answers")
    op.drop_table("canned_answers")
    op.drop_index("ix_entries_conversation", table_name="conversation_entries")
    op.drop_table("conversation_entries")
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.drop_constraint("fk_conversations_assignee", type_="foreignkey")
        batch_op.drop_column("read_seq")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("assignee_id")
