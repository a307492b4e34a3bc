"""GraphQL documents known by their SHA-256: registered by clients (automatic persisted queries) or
trusted from the dashboard's manifest at deploy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class PersistedDocument(Base):
    __tablename__ = "persisted_documents"

    # Lower-case hex SHA-256 of `document`, exactly as clients send it in
    # `extensions.persistedQuery.sha256Hash`; the key is the content, so a row never changes.
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    # Registered from a manifest (`clientarea documents load`): a cookie session may run it when the
    # server accepts trusted documents only.
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
