"""Password-reset requests waiting to be answered: the request only queues one, so its work and its
answer are the same whether or not a user has the address (DESIGN rule 12)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class PasswordResetRequest(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "password_reset_requests"

    # As asked for (normalised), registered or not; the row lives until it is answered, seconds.
    email: Mapped[str] = mapped_column(String(254))
    # For the audit event written when a link goes out: how the requester signed in, and the request.
    credential: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
