"""Orders, their items, invoices with their lines and taxes, gap-free numbers and idempotency keys."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin
from models.catalogue import BillingCycle


class OrderStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    FRAUD = "FRAUD"


class InvoiceStatus(enum.Enum):
    UNPAID = "UNPAID"
    PAID = "PAID"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


def _money() -> Numeric[Decimal]:
    return Numeric(12, 2)


class Order(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "orders"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    placed_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=16), default=OrderStatus.PENDING
    )
    currency_code: Mapped[str] = mapped_column(String(3))
    # Gross, equal to the invoice's total.
    total: Mapped[Decimal] = mapped_column(_money())

    __table_args__ = (Index(None, "account_id", "id"),)


class OrderItem(IdMixin, Base):
    __tablename__ = "order_items"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    billing_cycle: Mapped[BillingCycle] = mapped_column(Enum(BillingCycle, native_enum=False, length=16))
    # [{"key": ..., "value": ...}] in the product's option order, every option present.
    specifications: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    domain_name: Mapped[str | None] = mapped_column(String(253))
    label: Mapped[str | None] = mapped_column(String(253))
    period_years: Mapped[int | None]
    # Net amount of the item for its first billing period.
    amount: Mapped[Decimal] = mapped_column(_money())
    service_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    domain_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("domains.id", ondelete="SET NULL"))


class Invoice(IdMixin, Base):
    __tablename__ = "invoices"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), unique=True
    )
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[InvoiceStatus] = mapped_column(
        Enum(InvoiceStatus, native_enum=False, length=16), default=InvoiceStatus.UNPAID
    )
    # Who the invoice is addressed to: the billing profile frozen when it was issued.
    bill_to_first_name: Mapped[str] = mapped_column(String(100))
    bill_to_last_name: Mapped[str] = mapped_column(String(100))
    bill_to_company_name: Mapped[str | None] = mapped_column(String(200))
    bill_to_email: Mapped[str] = mapped_column(String(254))
    bill_to_phone: Mapped[str] = mapped_column(String(32))
    bill_to_line1: Mapped[str] = mapped_column(String(200))
    bill_to_line2: Mapped[str | None] = mapped_column(String(200))
    bill_to_city: Mapped[str] = mapped_column(String(100))
    bill_to_state: Mapped[str | None] = mapped_column(String(100))
    bill_to_postal_code: Mapped[str] = mapped_column(String(20))
    bill_to_country_code: Mapped[str] = mapped_column(String(2))
    bill_to_tax_id: Mapped[str | None] = mapped_column(String(32))
    currency_code: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(_money())
    total: Mapped[Decimal] = mapped_column(_money())
    issued_at: Mapped[datetime]
    due_at: Mapped[date]
    paid_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "account_id", "id"), Index(None, "status", "account_id"))


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoice_lines"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(500))
    amount: Mapped[Decimal] = mapped_column(_money())


class InvoiceTax(IdMixin, Base):
    __tablename__ = "invoice_taxes"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    # Percent, e.g. 20.00.
    rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    amount: Mapped[Decimal] = mapped_column(_money())


class NumberSequence(Base):
    """Gap-free counters: the row is locked and advanced in the transaction that uses the number."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class IdempotencyKey(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "idempotency_keys"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the canonical request, to tell a replay from a reuse with other input.
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("account_id", "key"), Index(None, "created_at"))
