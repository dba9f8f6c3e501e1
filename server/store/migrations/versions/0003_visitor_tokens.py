"""visitor token generation: raising it revokes a visitor's tokens

Revision ID: 0003_visitor_tokens
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_visitor_tokens"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.drop_column("token_generation")
