"""sites: the launcher's offsets from its corner, and whether every page view connects
(operators see visitors live) or only visitors who open the widget or have a conversation;
position "auto" (the page's direction: left on right-to-left pages)

Revision ID: 0007_widget_placement
Revises: 0006_visitor_tokens
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_widget_placement"
down_revision = "0006_visitor_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("offset_x", sa.Integer(), nullable=False, server_default="16"))
        batch_op.add_column(sa.Column("offset_y", sa.Integer(), nullable=False, server_default="16"))
        batch_op.add_column(sa.Column("live_visitors", sa.Boolean(), nullable=False, server_default=sa.false()))
    # "right" was every site's default, so nothing tells a chosen right from the default:
    # all become "auto", the same on left-to-right pages, left on right-to-left ones.
    op.execute("UPDATE sites SET position = 'auto' WHERE position = 'right'")


def downgrade() -> None:
    op.execute("UPDATE sites SET position = 'right' WHERE position = 'auto'")
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_column("live_visitors")
        batch_op.drop_column("offset_y")
        batch_op.drop_column("offset_x")
