"""callback requests: per-site schedule columns, callbacks, places taken per slot,
attempts, the leased reminder list and operators' calendar feeds

Revision ID: 0013_callbacks_requests
Revises: 0010_faq_articles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_callbacks_requests"
down_revision = "0012_leads_model"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch_op:
        batch_op.add_column(sa.Column("callbacks_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("callback_tz", sa.String(length=64), nullable=False, server_default="UTC"))
        batch_op.add_column(
            sa.Column("callback_hours", sa.String(length=500), nullable=False, server_default="mon-fri=09:00-18:00")
        )
        batch_op.add_column(sa.Column("callback_days_off", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("callback_slot_minutes", sa.Integer(), nullable=False, server_default="30"))
        batch_op.add_column(sa.Column("callback_lead_minutes", sa.Integer(), nullable=False, server_default="60"))
        batch_op.add_column(sa.Column("callback_capacity", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("callback_countries", sa.String(length=500), nullable=False, server_default=""))
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("visitor_tz", sa.String(length=64), nullable=True),
        sa.Column("slot_start", Timestamp, nullable=True),
        sa.Column("due_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["visitor_id"], ["visitors.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "client_id", name="uq_callbacks_site_client"),
    )
    with op.batch_alter_table("callbacks") as batch_op:
        batch_op.create_index("ix_callbacks_site_due", ["site_id", "status", "due_at"], unique=False)
        batch_op.create_index("ix_callbacks_visitor", ["visitor_id", "status"], unique=False)
    op.create_table(
        "callback_slots",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("slot_start", Timestamp, nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("site_id", "slot_start"),
    )
    op.create_table(
        "callback_attempts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("callback_id", sa.String(length=32), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["callback_id"], ["callbacks.id"]),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_attempts") as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_attempts_callback_id"), ["callback_id"], unique=False)
    op.create_table(
        "callback_reminders",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("callback_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["callback_id"], ["callbacks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("callback_id", "due_at", name="uq_callback_reminders_due"),
    )
    with op.batch_alter_table("callback_reminders") as batch_op:
        batch_op.create_index("ix_callback_reminders_due", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "calendar_feeds",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("operator_id"),
        sa.UniqueConstraint("token_hash"),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("callback_reminders")
    op.drop_table("callback_attempts")
    op.drop_table("callback_slots")
    op.drop_table("callbacks")
    with op.batch_alter_table("sites") as batch_op:
        for column in (
            "callback_countries", "callback_capacity", "callback_lead_minutes", "callback_slot_minutes",
            "callback_days_off", "callback_hours", "callback_tz", "callbacks_enabled",
        ):
            batch_op.drop_column(column)
