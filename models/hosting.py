"""What an account holds: services (hosting, email, SSL, servers) and domains."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin
from models.catalogue import BillingCycle


class ServiceStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    CANCELLED = "CANCELLED"


class CancellationType(enum.Enum):
    IMMEDIATE = "IMMEDIATE"
    END_OF_BILLING_PERIOD = "END_OF_BILLING_PERIOD"


class DomainStatus(enum.Enum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    PENDING_TRANSFER = "PENDING_TRANSFER"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class Service(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "services"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    label: Mapped[str | None] = mapped_column(String(253))
    status: Mapped[ServiceStatus] = mapped_column(
        Enum(ServiceStatus, native_enum=False, length=16), default=ServiceStatus.PENDING
    )
    billing_cycle: Mapped[BillingCycle] = mapped_column(Enum(BillingCycle, native_enum=False, length=16))
    # Net price per billing cycle, options included.
    recurring_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency_code: Mapped[str] = mapped_column(String(3))
    specifications: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    next_due_date: Mapped[date | None]
    cancellation_type: Mapped[CancellationType | None] = mapped_column(
        Enum(CancellationType, native_enum=False, length=32)
    )
    cancellation_reason: Mapped[str | None] = mapped_column(String(1000))
    cancellation_requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    cancellation_requested_at: Mapped[datetime | None]

    __table_args__ = (
        Index(None, "account_id", "id"),
        Index(None, "account_id", "status"),
    )


# The roles a domain names a contact for: each is its `<role>_contact_id` column.
CONTACT_ROLES = ("registrant", "admin", "tech", "billing")


class Domain(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "domains"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    # IDNA (punycode) form, lower case.
    name: Mapped[str] = mapped_column(String(253))
    status: Mapped[DomainStatus] = mapped_column(Enum(DomainStatus, native_enum=False, length=24))
    registered_at: Mapped[date | None]
    expires_at: Mapped[date | None]
    period_years: Mapped[int]
    auto_renew: Mapped[bool] = mapped_column(default=True)
    locked: Mapped[bool] = mapped_column(default=True)
    nameservers: Mapped[list[str]] = mapped_column(JSON)
    # The current registrar's authorisation code of a domain ordered as a transfer; the registrar
    # needs it to carry the transfer out, so it is kept until then and never shown.
    transfer_auth_code: Mapped[str | None] = mapped_column(String(64))
    registrant_contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))
    admin_contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))
    tech_contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))
    billing_contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))

    __table_args__ = (
        Index(None, "account_id", "id"),
        Index(None, "expires_at"),
        # A name is held by at most one live domain across all accounts.
        Index(
            "uq_domains_live_name",
            "name",
            unique=True,
            sqlite_where=text("status NOT IN ('CANCELLED', 'EXPIRED')"),
            postgresql_where=text("status NOT IN ('CANCELLED', 'EXPIRED')"),
        ),
    )
