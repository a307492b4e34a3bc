"""Outgoing email, written in the same transaction as the change that causes it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin, utcnow


class EmailStatus(enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class OutboxEmail(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "outbox_emails"

    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # What kind of message it is (invitation, password_reset, ...), for logs and tests.
    template: Mapped[str] = mapped_column(String(64))
    status: Mapped[EmailStatus] = mapped_column(
        Enum(EmailStatus, native_enum=False, length=16), default=EmailStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker that claims a message holds it until then; another worker may retry it afterwards.
    locked_until: Mapped[datetime | None]
    # Set when the message is handed to the SMTP server, cleared when the outcome is recorded. Still
    # set at the next hand-off, the earlier one may have been delivered: that hand-off is a re-send.
    sending_since: Mapped[datetime | None]
    # Hand-offs after one whose outcome was never recorded (a worker or the database went away
    # between sending and recording); every copy carries the same Message-ID.
    resends: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index(None, "status", "next_attempt_at"),)
