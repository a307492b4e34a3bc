"""Rate-limit counters, kept in the database so that every worker sees the same counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class RateLimitHit(Base):
    __tablename__ = "rate_limit_hits"

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    # SHA-256 of the limit's key ("sign-in:" + an email, "sign-up:" + an address, ...): keys of
    # any length fit, and the table keeps no email addresses.
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "key_hash", "occurred_at"),)
