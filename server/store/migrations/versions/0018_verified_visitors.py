"""visitors.user_id: the site's own user a visitor record was verified as (user_id +
user_hash). One visitor record per verified user per site (a unique index), which every
device of that user adopts, so each device shows the same conversation (docs/leads.md).

Revision ID: 0018_verified_visitors
Revises: 0017_callback_assignee
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_verified_visitors"
down_revision = "0017_callback_assignee"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(200), nullable=True))
        batch_op.create_index("ix_visitors_site_user", ["site_id", "user_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.drop_index("ix_visitors_site_user")
        batch_op.drop_column("user_id")
