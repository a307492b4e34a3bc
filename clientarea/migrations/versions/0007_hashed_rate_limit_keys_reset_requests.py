"""hashed rate-limit keys, queued password-reset requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_reset_requests",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("credential", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )

    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_hash", sa.LargeBinary(length=32), nullable=True))
    # The hits counted so far keep counting: each key becomes its digest, as the code now stores it.
    hits = sa.table("rate_limit_hits", sa.column("key", sa.String()), sa.column("key_hash", sa.LargeBinary()))
    connection = op.get_bind()
    for (key,) in connection.execute(sa.select(hits.c.key).distinct()).all():
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        connection.execute(hits.update().where(hits.c.key == key).values(key_hash=digest))
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_hits_key_occurred_at"))
        batch_op.alter_column("key_hash", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.drop_column("key")
        batch_op.create_index(
            batch_op.f("ix_rate_limit_hits_key_hash_occurred_at"), ["key_hash", "occurred_at"], unique=False
        )


def downgrade() -> None:
    # A digest cannot be turned back into its key: the counts (an hour or so of them) start afresh.
    op.execute(sa.text("DELETE FROM rate_limit_hits"))
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_hits_key_hash_occurred_at"))
        batch_op.add_column(sa.Column("key", sa.String(length=200), nullable=False))
        batch_op.drop_column("key_hash")
        batch_op.create_index(
            batch_op.f("ix_rate_limit_hits_key_occurred_at"), ["key", "occurred_at"], unique=False
        )
    op.drop_table("password_reset_requests")
