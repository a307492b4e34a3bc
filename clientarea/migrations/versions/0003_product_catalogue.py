"""product catalogue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "type",
            sa.Enum(
                "HOSTING",
                "DOMAIN",
                "EMAIL",
                "SSL",
                "SERVER",
                name="producttype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("tld", sa.String(length=63), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("key", name=op.f("uq_products_key")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_position_id"), ["position", "id"], unique=False)
        batch_op.create_index(
            "uq_products_active_tld",
            ["tld"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    op.create_table(
        "configurable_options",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_configurable_options_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configurable_options")),
        sa.UniqueConstraint("product_id", "key", name=op.f("uq_configurable_options_product_id_key")),
    )
    op.create_table(
        "product_prices",
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
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_product_prices_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_prices_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_prices")),
        sa.UniqueConstraint(
            "product_id", "billing_cycle", name=op.f("uq_product_prices_product_id_billing_cycle")
        ),
    )
    op.create_table(
        "option_choices",
        sa.Column("option_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["configurable_options.id"],
            name=op.f("fk_option_choices_option_id_configurable_options"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_choices")),
        sa.UniqueConstraint("option_id", "value", name=op.f("uq_option_choices_option_id_value")),
    )
    op.create_table(
        "option_choice_prices",
        sa.Column("choice_id", sa.Uuid(), nullable=False),
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
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_option_choice_prices_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["choice_id"],
            ["option_choices.id"],
            name=op.f("fk_option_choice_prices_choice_id_option_choices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_choice_prices")),
        sa.UniqueConstraint(
            "choice_id", "billing_cycle", name=op.f("uq_option_choice_prices_choice_id_billing_cycle")
        ),
    )


def downgrade() -> None:
    op.drop_table("option_choice_prices")
    op.drop_table("option_choices")
    op.drop_table("product_prices")
    op.drop_table("configurable_options")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_products_active_tld", sqlite_where=sa.text("active"), postgresql_where=sa.text("active")
        )
        batch_op.drop_index(batch_op.f("ix_products_position_id"))

    op.drop_table("products")
