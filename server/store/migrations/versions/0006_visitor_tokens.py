"""visitor token generation: raising it revokes a visitor's tokens

Revision ID: 0006_visitor_tokens
Revises: 0005_greetings_by_language
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_visitor_tokens"
down_revision = "0005_greetings_by_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.drop_column("token_generation")
