"""The lead pipeline: a lost reason, an owner and when the status last changed on each lead;
tags and private notes on leads

Revision ID: 0015_lead_pipeline
Revises: 0014_admin_roles_sites
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_lead_pipeline"
down_revision = "0014_admin_roles_sites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch_op:
        batch_op.add_column(sa.Column("lost_reason", sa.String(500), nullable=True))
        batch_op.add_column(
            sa.Column(
                "owner_id",
                sa.Integer(),
                sa.ForeignKey("operators.id", name="fk_leads_owner_id"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "lead_tags",
        sa.Column("lead_id", sa.String(32), primary_key=True),
        sa.Column("tag", sa.String(50), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
    )
    op.create_index("ix_lead_tags_site_tag", "lead_tags", ["site_id", "tag"])
    op.create_table(
        "lead_notes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lead_notes_lead", "lead_notes", ["lead_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_lead_notes_lead", table_name="lead_notes")
    op.drop_table("lead_notes")
    op.drop_index("ix_lead_tags_site_tag", table_name="lead_tags")
    op.drop_table("lead_tags")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("owner_id")
        batch_op.drop_column("lost_reason")
