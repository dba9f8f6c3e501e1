"""operator sessions kept on the server (logout ends them everywhere); operators.active

Revision ID: 0004_sessions
Revises: 0003_operator_language
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_sessions"
down_revision = "0003_operator_language"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("operator_sessions") as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_sessions_operator_id"), ["operator_id"], unique=False)


def downgrade() -> None:
    op.drop_table("operator_sessions")
    with op.batch_alter_table("operators") as batch_op:
        batch_op.drop_column("active")
