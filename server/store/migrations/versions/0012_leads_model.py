"""leads: one per person per site, with the addresses it came from and the pages it saw;
visitors link to their lead; sites get a default phone country, the pre-chat form, an
option to store addresses anonymised, and the secret of verified identities (one is made
for every existing site)

Revision ID: 0012_leads_model
Revises: 0010_faq_articles
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012_leads_model"
down_revision = "0011_contact_email"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("default_country", sa.String(2), nullable=True))
        batch_op.add_column(sa.Column("prechat", sa.String(16), nullable=False, server_default="off"))
        batch_op.add_column(sa.Column("prechat_fields", sa.String(32), nullable=False, server_default="name,email"))
        batch_op.add_column(sa.Column("anonymize_ips", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("identity_secret", sa.String(64), nullable=True))
    conn = op.get_bind()
    for (site_id,) in conn.execute(sa.text("SELECT id FROM sites")).fetchall():
        conn.execute(
            sa.text("UPDATE sites SET identity_secret = :s WHERE id = :id"), {"s": secrets.token_hex(32), "id": site_id}
        )
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.add_column(sa.Column("lead_id", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch_op.create_index("ix_visitors_lead_id", ["lead_id"])
    op.create_table(
        "leads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("browser", sa.String(100), nullable=True),
        sa.Column("os", sa.String(100), nullable=True),
        sa.Column("device", sa.String(16), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("referrer", sa.String(2048), nullable=True),
        sa.Column("landing_url", sa.String(2048), nullable=True),
        sa.Column("utm_source", sa.String(200), nullable=True),
        sa.Column("utm_medium", sa.String(200), nullable=True),
        sa.Column("utm_campaign", sa.String(200), nullable=True),
        sa.Column("utm_term", sa.String(200), nullable=True),
        sa.Column("utm_content", sa.String(200), nullable=True),
        sa.Column("current_url", sa.String(2048), nullable=True),
        sa.Column("current_title", sa.String(300), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("first_seen_at", _Timestamp, nullable=False),
        sa.Column("last_seen_at", _Timestamp, nullable=False),
        sa.Column("merged_into", sa.String(32), nullable=True),
    )
    op.create_index("ix_leads_site_recent", "leads", ["site_id", "last_seen_at"])
    op.create_index("ix_leads_site_email", "leads", ["site_id", "email"])
    op.create_index("ix_leads_site_phone", "leads", ["site_id", "phone"])
    op.create_index("ix_leads_site_user", "leads", ["site_id", "user_id"])
    op.create_table(
        "lead_addresses",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("first_seen_at", _Timestamp, nullable=False),
        sa.Column("last_seen_at", _Timestamp, nullable=False),
    )
    op.create_index("ix_lead_addresses_lead_ip", "lead_addresses", ["lead_id", "ip"])
    op.create_table(
        "page_views",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("lead_id", sa.String(32), nullable=False),
        sa.Column("visitor_id", sa.String(32), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("created_at", _Timestamp, nullable=False),
    )
    op.create_index("ix_page_views_lead", "page_views", ["lead_id", "id"])


def downgrade() -> None:
    op.drop_table("page_views")
    op.drop_table("lead_addresses")
    op.drop_table("leads")
    with op.batch_alter_table("visitors") as batch_op:
        batch_op.drop_index("ix_visitors_lead_id")
        batch_op.drop_column("timezone")
        batch_op.drop_column("lead_id")
    with op.batch_alter_table("sites") as batch_op:
        for column in ("identity_secret", "anonymize_ips", "prechat_fields", "prechat", "default_country"):
            batch_op.drop_column(column)
