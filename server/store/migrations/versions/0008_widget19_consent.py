"""sites: consent_required: the widget stores nothing and connects to nothing until the page
says the visitor consented (Frontdesk('consent', true)) or the visitor opens the chat

Revision ID: 0008_widget19_consent
Revises: 0007_widget_placement
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_widget19_consent"
down_revision = "0007_widget_placement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("consent_required", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_column("consent_required")
