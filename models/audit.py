"""Who did what, in which account: an append-only log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    __tablename__ = "audit_events"

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # session, token, system or anonymous: how the actor proved who they are.
    credential: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("client_accounts.id", ondelete="CASCADE"))
    subject_id: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index(None, "account_id", "id"),)
