"""invitations, password resets, outbox, rate limits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_emails",
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "SENT", "FAILED", name="emailstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_emails")),
    )
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_emails_status_next_attempt_at"), ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "rate_limit_hits",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hits")),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limit_hits_key_occurred_at"), ["key", "occurred_at"], unique=False
        )

    op.create_table(
        "invitations",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("permissions", sa.Integer(), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum("PENDING", "ACCEPTED", "REVOKED", name="invitationstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_by_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_accepted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_invitations_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_account_id_id"), ["account_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitations_email"), ["email"], unique=False)
        batch_op.create_index(
            "uq_invitations_one_pending",
            ["account_id", "email"],
            unique=True,
            sqlite_where=sa.text("state = 'PENDING'"),
            postgresql_where=sa.text("state = 'PENDING'"),
        )

    op.create_table(
        "password_reset_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_reset_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_tokens_token_hash")),
    )
    with op.batch_alter_table("password_reset_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_tokens_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_reset_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_tokens_user_id"))

    op.drop_table("password_reset_tokens")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_invitations_one_pending",
            sqlite_where=sa.text("state = 'PENDING'"),
            postgresql_where=sa.text("state = 'PENDING'"),
        )
        batch_op.drop_index(batch_op.f("ix_invitations_email"))
        batch_op.drop_index(batch_op.f("ix_invitations_account_id_id"))

    op.drop_table("invitations")
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_hits_key_occurred_at"))

    op.drop_table("rate_limit_hits")
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_emails_status_next_attempt_at"))

    op.drop_table("outbox_emails")
