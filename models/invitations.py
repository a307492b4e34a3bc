"""Invitations to join a client account, and the one-time tokens that reset a password."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class InvitationState(enum.Enum):
    # EXPIRED is not stored: a PENDING invitation past its expiry reads as EXPIRED.
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"


class Invitation(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "invitations"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), index=True)
    permissions: Mapped[int] = mapped_column(default=0)
    invited_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    state: Mapped[InvitationState] = mapped_column(
        Enum(InvitationState, native_enum=False, length=16), default=InvitationState.PENDING
    )
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The membership it creates is limited to the services and domains in models.scopes.
    scoped: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        Index(None, "account_id", "id"),
        # One pending invitation per email and account: inviting again renews it.
        Index(
            "uq_invitations_one_pending",
            "account_id",
            "email",
            unique=True,
            sqlite_where=text("state = 'PENDING'"),
            postgresql_where=text("state = 'PENDING'"),
        ),
    )


class PasswordResetToken(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "password_reset_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
