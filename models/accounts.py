"""Client accounts (the billable customer) and the memberships that let users act in them."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class AccountStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


class MembershipRole(enum.Enum):
    OWNER = "OWNER"
    USER = "USER"


class ClientAccount(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "client_accounts"

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[AccountStatus] = mapped_column(
        Enum(AccountStatus, native_enum=False, length=16), default=AccountStatus.ACTIVE
    )
    billing_first_name: Mapped[str] = mapped_column(String(100))
    billing_last_name: Mapped[str] = mapped_column(String(100))
    billing_company_name: Mapped[str | None] = mapped_column(String(200))
    billing_email: Mapped[str] = mapped_column(String(254))
    billing_phone: Mapped[str] = mapped_column(String(32))
    billing_line1: Mapped[str] = mapped_column(String(200))
    billing_line2: Mapped[str | None] = mapped_column(String(200))
    billing_city: Mapped[str] = mapped_column(String(100))
    billing_state: Mapped[str | None] = mapped_column(String(100))
    billing_postal_code: Mapped[str] = mapped_column(String(20))
    billing_country_code: Mapped[str] = mapped_column(String(2))
    billing_tax_id: Mapped[str | None] = mapped_column(String(32))
    currency_code: Mapped[str] = mapped_column(String(3), default="EUR")
    # The affiliate whose referral brought this account; it earns commission on its paid invoices.
    referred_by_affiliate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("affiliates.id", ondelete="SET NULL", use_alter=True), index=True
    )
    # Set by the owner: members without two-factor sign-in hold no permission here (DESIGN rule 17).
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        Index(None, "name", "id"),
        # Every list checks the two-factor rule (DESIGN rule 17) against the accounts that require
        # it: these few, not every account, are what the check reads.
        Index(
            "ix_client_accounts_requiring_two_factor",
            "id",
            sqlite_where=text("require_two_factor IS 1"),
            postgresql_where=text("require_two_factor IS TRUE"),
        ),
    )


class Membership(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "memberships"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[MembershipRole] = mapped_column(Enum(MembershipRole, native_enum=False, length=8))
    # Bit set of models.permissions.Permission; an owner holds every permission whatever it says.
    permissions: Mapped[int] = mapped_column(default=0)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Limited to the services and domains in models.scopes (DESIGN rule 16).
    scoped: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("user_id", "account_id"),
        # At most one owner per account; every write path creates or moves the owner atomically.
        Index(
            "uq_memberships_one_owner",
            "account_id",
            unique=True,
            sqlite_where=text("role = 'OWNER'"),
            postgresql_where=text("role = 'OWNER'"),
        ),
    )
