"""Callbacks get an assigned operator (the one who calls and gets the email reminder)

Revision ID: 0017_callback_assignee
Revises: 0016_search_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_callback_assignee"
down_revision = "0016_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch_op:
        batch_op.add_column(
            sa.Column(
                "assignee_id",
                sa.Integer(),
                sa.ForeignKey("operators.id", name="fk_callbacks_assignee_id"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch_op:
        batch_op.drop_column("assignee_id")
