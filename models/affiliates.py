"""The affiliate programme: referral codes and the commissions referred accounts earn."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class CommissionStatus(enum.Enum):
    PENDING = "PENDING"
    CLEARED = "CLEARED"
    VOID = "VOID"


class Affiliate(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "affiliates"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("client_accounts.id", ondelete="CASCADE"), unique=True
    )
    referral_code: Mapped[str] = mapped_column(String(32), unique=True)
    # Percent of a referred account's paid hosting revenue (net), e.g. 10.00.
    commission_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))


class AffiliateCommission(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "affiliate_commissions"

    affiliate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("affiliates.id", ondelete="CASCADE"))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    referred_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("client_accounts.id", ondelete="CASCADE")
    )
    # The hosting services the commission was earned on: it clears only if they are still active.
    service_ids: Mapped[str] = mapped_column(String(2000), default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency_code: Mapped[str] = mapped_column(String(3))
    status: Mapped[CommissionStatus] = mapped_column(
        Enum(CommissionStatus, native_enum=False, length=16), default=CommissionStatus.PENDING
    )
    clears_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]

    __table_args__ = (
        # One commission per paid invoice: marking an invoice paid twice earns nothing twice.
        UniqueConstraint("affiliate_id", "invoice_id"),
        Index(None, "affiliate_id", "id"),
        Index(None, "status", "clears_at"),
    )
