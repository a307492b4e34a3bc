"""contacts, orders, invoices, services, domains

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_sequences",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_number_sequences")),
    )
    op.create_table(
        "contacts",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("line1", sa.String(length=200), nullable=False),
        sa.Column("line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_contacts_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_account_id_id"), ["account_id", "id"], unique=False)
        batch_op.create_index(
            "uq_contacts_one_primary",
            ["account_id"],
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )

    op.create_table(
        "orders",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("placed_by_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING", "ACTIVE", "CANCELLED", "FRAUD", name="orderstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_orders_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["placed_by_id"], ["users.id"], name=op.f("fk_orders_placed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_account_id_id"), ["account_id", "id"], unique=False)

    op.create_table(
        "services",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=253), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "ACTIVE",
                "SUSPENDED",
                "TERMINATED",
                "CANCELLED",
                name="servicestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "billing_cycle",
            sa.Enum(
                "MONTHLY",
                "QUARTERLY",
                "SEMI_ANNUALLY",
                "ANNUALLY",
                "BIENNIALLY",
                "TRIENNIALLY",
                "ONE_TIME",
                name="billingcycle",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("recurring_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("specifications", sa.JSON(), nullable=False),
        sa.Column("next_due_date", sa.Date(), nullable=True),
        sa.Column(
            "cancellation_type",
            sa.Enum(
                "IMMEDIATE", "END_OF_BILLING_PERIOD", name="cancellationtype", native_enum=False, length=32
            ),
            nullable=True,
        ),
        sa.Column("cancellation_reason", sa.String(length=1000), nullable=True),
        sa.Column("cancellation_requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("cancellation_requested_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_services_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cancellation_requested_by_id"],
            ["users.id"],
            name=op.f("fk_services_cancellation_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_services_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_account_id_id"), ["account_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_services_account_id_status"), ["account_id", "status"], unique=False
        )

    op.create_table(
        "domains",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING_REGISTRATION",
                "PENDING_TRANSFER",
                "ACTIVE",
                "EXPIRED",
                "CANCELLED",
                name="domainstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("registered_at", sa.Date(), nullable=True),
        sa.Column("expires_at", sa.Date(), nullable=True),
        sa.Column("period_years", sa.Integer(), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("nameservers", sa.JSON(), nullable=False),
        sa.Column("transfer_auth_code", sa.String(length=64), nullable=True),
        sa.Column("registrant_contact_id", sa.Uuid(), nullable=False),
        sa.Column("admin_contact_id", sa.Uuid(), nullable=False),
        sa.Column("tech_contact_id", sa.Uuid(), nullable=False),
        sa.Column("billing_contact_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_domains_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["admin_contact_id"], ["contacts.id"], name=op.f("fk_domains_admin_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["billing_contact_id"], ["contacts.id"], name=op.f("fk_domains_billing_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_domains_product_id_products")),
        sa.ForeignKeyConstraint(
            ["registrant_contact_id"], ["contacts.id"], name=op.f("fk_domains_registrant_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["tech_contact_id"], ["contacts.id"], name=op.f("fk_domains_tech_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
    )
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domains_account_id_id"), ["account_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_domains_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            "uq_domains_live_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("status NOT IN ('CANCELLED', 'EXPIRED')"),
            postgresql_where=sa.text("status NOT IN ('CANCELLED', 'EXPIRED')"),
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_idempotency_keys_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_idempotency_keys_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("account_id", "key", name=op.f("uq_idempotency_keys_account_id_key")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "UNPAID", "PAID", "CANCELLED", "REFUNDED", name="invoicestatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("bill_to_first_name", sa.String(length=100), nullable=False),
        sa.Column("bill_to_last_name", sa.String(length=100), nullable=False),
        sa.Column("bill_to_company_name", sa.String(length=200), nullable=True),
        sa.Column("bill_to_email", sa.String(length=254), nullable=False),
        sa.Column("bill_to_phone", sa.String(length=32), nullable=False),
        sa.Column("bill_to_line1", sa.String(length=200), nullable=False),
        sa.Column("bill_to_line2", sa.String(length=200), nullable=True),
        sa.Column("bill_to_city", sa.String(length=100), nullable=False),
        sa.Column("bill_to_state", sa.String(length=100), nullable=True),
        sa.Column("bill_to_postal_code", sa.String(length=20), nullable=False),
        sa.Column("bill_to_country_code", sa.String(length=2), nullable=False),
        sa.Column("bill_to_tax_id", sa.String(length=32), nullable=True),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("issued_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.Date(), nullable=False),
        sa.Column("paid_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["client_accounts.id"],
            name=op.f("fk_invoices_account_id_client_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_invoices_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint("order_id", name=op.f("uq_invoices_order_id")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_account_id_id"), ["account_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_invoices_status_account_id"), ["status", "account_id"], unique=False
        )

    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_lines_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "invoice_taxes",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_taxes_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_taxes")),
    )
    with op.batch_alter_table("invoice_taxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_taxes_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "order_items",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column(
            "billing_cycle",
            sa.Enum(
                "MONTHLY",
                "QUARTERLY",
                "SEMI_ANNUALLY",
                "ANNUALLY",
                "BIENNIALLY",
                "TRIENNIALLY",
                "ONE_TIME",
                name="billingcycle",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("specifications", sa.JSON(), nullable=False),
        sa.Column("domain_name", sa.String(length=253), nullable=True),
        sa.Column("label", sa.String(length=253), nullable=True),
        sa.Column("period_years", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=True),
        sa.Column("domain_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_order_items_domain_id_domains"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_items_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_order_items_service_id_services"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
    )
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_items_order_id"), ["order_id"], unique=False)

    _backfill_primary_contacts()


def _backfill_primary_contacts() -> None:
    """Every existing account gets its holder as primary contact, copied from the billing profile."""
    from models.base import utcnow, uuid7

    connection = op.get_bind()
    accounts = sa.table(
        "client_accounts",
        sa.column("id", sa.Uuid()),
        *(sa.column(f"billing_{field}") for field in _FIELDS),
    )
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Uuid()),
        sa.column("account_id", sa.Uuid()),
        sa.column("is_primary", sa.Boolean()),
        sa.column("created_at", models.base.UTCDateTime()),
        sa.column("updated_at", models.base.UTCDateTime()),
        *(sa.column(field) for field in _FIELDS),
    )
    rows = connection.execute(sa.select(accounts)).mappings().all()
    now = utcnow()
    for row in rows:
        connection.execute(
            contacts.insert().values(
                id=uuid7(),
                account_id=row["id"],
                is_primary=True,
                created_at=now,
                updated_at=now,
                **{field: row[f"billing_{field}"] for field in _FIELDS},
            )
        )


_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "line1",
    "line2",
    "city",
    "state",
    "postal_code",
    "country_code",
)


def downgrade() -> None:
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_items_order_id"))

    op.drop_table("order_items")
    with op.batch_alter_table("invoice_taxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_taxes_invoice_id"))

    op.drop_table("invoice_taxes")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_invoice_id"))

    op.drop_table("invoice_lines")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_status_account_id"))
        batch_op.drop_index(batch_op.f("ix_invoices_account_id_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_domains_live_name",
            sqlite_where=sa.text("status NOT IN ('CANCELLED', 'EXPIRED')"),
            postgresql_where=sa.text("status NOT IN ('CANCELLED', 'EXPIRED')"),
        )
        batch_op.drop_index(batch_op.f("ix_domains_expires_at"))
        batch_op.drop_index(batch_op.f("ix_domains_account_id_id"))

    op.drop_table("domains")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_account_id_status"))
        batch_op.drop_index(batch_op.f("ix_services_account_id_id"))

    op.drop_table("services")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_account_id_id"))

    op.drop_table("orders")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_contacts_one_primary",
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )
        batch_op.drop_index(batch_op.f("ix_contacts_account_id_id"))

    op.drop_table("contacts")
    op.drop_table("number_sequences")
