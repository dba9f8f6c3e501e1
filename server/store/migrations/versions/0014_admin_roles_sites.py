"""operator_sites: which sites an operator may work (no rows: all); per-site settings an admin
edits in the console: visitor-facing texts per language, widget tabs (the site's default
country is 0012_leads_model's column)

Revision ID: 0014_admin_roles_sites
Revises: 0013_callbacks_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_admin_roles_sites"
down_revision = "0013_callbacks_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_sites",
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), primary_key=True),
    )
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("texts", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("tabs", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.drop_column("tabs")
        batch_op.drop_column("texts")
    op.drop_table("operator_sites")
