"""The product catalogue: products, their net prices per billing cycle and configurable options."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin

# Catalogue amounts are net prices in this currency.
CATALOGUE_CURRENCY = "EUR"


class ProductType(enum.Enum):
    HOSTING = "HOSTING"
    DOMAIN = "DOMAIN"
    EMAIL = "EMAIL"
    SSL = "SSL"
    SERVER = "SERVER"


class BillingCycle(enum.Enum):
    # Declared shortest first: prices are listed in this order.
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    SEMI_ANNUALLY = "SEMI_ANNUALLY"
    ANNUALLY = "ANNUALLY"
    BIENNIALLY = "BIENNIALLY"
    TRIENNIALLY = "TRIENNIALLY"
    ONE_TIME = "ONE_TIME"


def _billing_cycle() -> Enum:
    return Enum(BillingCycle, native_enum=False, length=16)


class Product(IdMixin, Base):
    __tablename__ = "products"

    # The product's slug in the catalogue file; rows are matched to the file by it.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[ProductType] = mapped_column(Enum(ProductType, native_enum=False, length=16))
    tld: Mapped[str | None] = mapped_column(String(63))
    # A product dropped from the file stays (orders and services refer to it) but is no longer sold.
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int]

    __table_args__ = (
        Index(None, "position", "id"),
        Index(
            "uq_products_active_tld",
            "tld",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class ProductPrice(IdMixin, Base):
    __tablename__ = "product_prices"

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    billing_cycle: Mapped[BillingCycle] = mapped_column(_billing_cycle())
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    __table_args__ = (
        UniqueConstraint("product_id", "billing_cycle"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )


class ConfigurableOption(IdMixin, Base):
    __tablename__ = "configurable_options"

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]

    __table_args__ = (UniqueConstraint("product_id", "key"),)


class OptionChoice(IdMixin, Base):
    __tablename__ = "option_choices"

    # The first choice by position is what an order that leaves the option out gets.
    option_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("configurable_options.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]

    __table_args__ = (UniqueConstraint("option_id", "value"),)


class OptionChoicePrice(IdMixin, Base):
    """A choice's surcharge in one billing cycle; every choice has one for each cycle of its product."""

    __tablename__ = "option_choice_prices"

    choice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("option_choices.id", ondelete="CASCADE"))
    billing_cycle: Mapped[BillingCycle] = mapped_column(_billing_cycle())
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    __table_args__ = (
        UniqueConstraint("choice_id", "billing_cycle"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )
