"""Sliding-window rate limits counted in the database, so every worker and machine shares them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.ratelimits import RateLimitHit


async def within_limit(session: AsyncSession, key: str, *, limit: int, window: timedelta) -> bool:
    """Whether one more `key` event fits in `limit` per `window`; if so it is counted.

    Runs inside the caller's unit of work: the hit is kept exactly when the action is. On
    PostgreSQL a transaction-scoped advisory lock per key makes concurrent checks exact.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    now = utcnow()
    used = await session.scalar(
        select(func.count())
        .select_from(RateLimitHit)
        .where(RateLimitHit.key == key, RateLimitHit.occurred_at > now - window)
    )
    if (used or 0) >= limit:
        return False
    session.add(RateLimitHit(key=key, occurred_at=now))
    return True


async def recent_hits(session: AsyncSession, key: str, *, window: timedelta) -> int:
    """How many `key` events happened within `window`."""
    used = await session.scalar(
        select(func.count())
        .select_from(RateLimitHit)
        .where(RateLimitHit.key == key, RateLimitHit.occurred_at > utcnow() - window)
    )
    return used or 0
