"""tickets, affiliates, service logins

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "affiliates",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("referral_code", sa.String(length=32), nullable=False),
        sa.Column("commission_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_affiliates_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliates")),
        sa.UniqueConstraint("account_id", name=op.f("uq_affiliates_account_id")),
        sa.UniqueConstraint("referral_code", name=op.f("uq_affiliates_referral_code")),
    )
    op.create_table(
        "service_logins",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_logins_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_service_logins_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_logins")),
    )
    with op.batch_alter_table("service_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_logins_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "tickets",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "ANSWERED",
                "CUSTOMER_REPLY",
                "CLOSED",
                name="ticketstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("opened_by_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_tickets_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["opened_by_id"], ["users.id"], name=op.f("fk_tickets_opened_by_id_users")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_tickets_service_id_services"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_account_id_id"), ["account_id", "id"], unique=False)

    op.create_table(
        "affiliate_commissions",
        sa.Column("affiliate_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("referred_account_id", sa.Uuid(), nullable=False),
        sa.Column("service_ids", sa.String(length=2000), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "CLEARED", "VOID", name="commissionstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("clears_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_affiliate_commissions_affiliate_id_affiliates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_affiliate_commissions_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referred_account_id"],
            ["client_accounts.id"],
            name=op.f("fk_affiliate_commissions_referred_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_commissions")),
        sa.UniqueConstraint(
            "affiliate_id", "invoice_id", name=op.f("uq_affiliate_commissions_affiliate_id_invoice_id")
        ),
    )
    with op.batch_alter_table("affiliate_commissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_affiliate_commissions_affiliate_id_id"), ["affiliate_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_affiliate_commissions_status_clears_at"), ["status", "clears_at"], unique=False
        )

    op.create_table(
        "ticket_messages",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("staff_name", sa.String(length=100), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_ticket_messages_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_messages_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("client_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by_affiliate_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_client_accounts_referred_by_affiliate_id"),
            ["referred_by_affiliate_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_client_accounts_referred_by_affiliate_id_affiliates"),
            "affiliates",
            ["referred_by_affiliate_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("client_accounts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_client_accounts_referred_by_affiliate_id_affiliates"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_client_accounts_referred_by_affiliate_id"))
        batch_op.drop_column("referred_by_affiliate_id")

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_messages_ticket_id"))

    op.drop_table("ticket_messages")
    with op.batch_alter_table("affiliate_commissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_affiliate_commissions_status_clears_at"))
        batch_op.drop_index(batch_op.f("ix_affiliate_commissions_affiliate_id_id"))

    op.drop_table("affiliate_commissions")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_account_id_id"))

    op.drop_table("tickets")
    with op.batch_alter_table("service_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_logins_expires_at"))

    op.drop_table("service_logins")
    op.drop_table("affiliates")
