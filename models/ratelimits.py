"""Rate-limit counters, kept in the database so that every worker sees the same counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class RateLimitHit(Base):
    __tablename__ = "rate_limit_hits"

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "key", "occurred_at"),)
