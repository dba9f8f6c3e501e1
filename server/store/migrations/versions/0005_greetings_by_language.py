"""greetings by language: sites.greeting holds {"": default, "<lang>": text, ...} as JSON

Revision ID: 0005_greetings_by_language
Revises: 0004_sessions
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005_greetings_by_language"
down_revision = "0004_sessions"
branch_labels = None
depends_on = None

_sites = sa.table("sites", sa.column("id", sa.Integer()), sa.column("greeting", sa.Text()))


def _rewrite(convert) -> None:  # type: ignore[no-untyped-def]
    conn = op.get_bind()
    rows = conn.execute(sa.select(_sites.c.id, _sites.c.greeting).where(_sites.c.greeting.is_not(None))).all()
    for site_id, greeting in rows:
        conn.execute(sa.update(_sites).where(_sites.c.id == site_id).values(greeting=convert(greeting)))


def upgrade() -> None:
    # A greeting so far was one text: it becomes the default, shown in every language.
    _rewrite(lambda text: json.dumps({"": text}, ensure_ascii=False) if text.strip() else None)


def downgrade() -> None:
    def default(value: str) -> str | None:
        texts = json.loads(value)
        return texts.get("") or next(iter(texts.values()), None)

    _rewrite(default)
