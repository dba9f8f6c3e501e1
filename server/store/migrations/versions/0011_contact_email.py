"""The contact form and email: sites' contact settings, the contact_submissions table
(consent stored with each), and the emails job table the email workers send from.

Revision ID: 0011_contact_email
Revises: 0010_faq_articles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_contact_email"
down_revision = "0010_faq_articles"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("contact_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("contact_required", sa.String(64), nullable=False, server_default="email_or_phone")
        )
        batch_op.add_column(sa.Column("consent_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("privacy_url", sa.String(2048), nullable=True))
        batch_op.add_column(sa.Column("notify_email", sa.String(254), nullable=True))
    op.create_table(
        "emails",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(254), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", Timestamp, nullable=True),
        sa.Column("last_attempt_at", Timestamp, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_emails_due", "emails", ["status", "next_attempt_at"])
    op.create_table(
        "contact_submissions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("visitor_id", sa.String(32), sa.ForeignKey("visitors.id"), nullable=False),
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("privacy_url", sa.String(2048), nullable=True),
        sa.Column("consent_at", Timestamp, nullable=False),
        sa.Column("send_copy", sa.Boolean(), nullable=False),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.Column("page_url", sa.String(2048), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("site_id", "client_id", name="uq_contact_submissions_site_client"),
    )
    op.create_index(
        "ix_contact_submissions_conversation_id", "contact_submissions", ["conversation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_contact_submissions_conversation_id", table_name="contact_submissions")
    op.drop_table("contact_submissions")
    op.drop_index("ix_emails_due", table_name="emails")
    op.drop_table("emails")
    with op.batch_alter_table("sites") as batch_op:
        for column in ("notify_email", "privacy_url", "consent_text", "contact_required", "contact_enabled"):
            batch_op.drop_column(column)
