"""Sliding-window rate limits counted in the database, so every worker and machine shares them.

Counts are atomic (DESIGN rule 18): a check and the hit it records are one step under a lock on
the key, taken inside the caller's unit of work (`Database.begin()`). On PostgreSQL that is a
transaction-scoped advisory lock; on SQLite a unit of work holds the database's write lock from
its first statement. Whatever guards expensive work (a password or code check) counts the
attempt first, in a transaction of its own that commits before the work starts, so N parallel
requests never get more than the limit's worth of it.

Keys are stored as SHA-256 digests: keys of any length fit, and the table holds no addresses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.ratelimits import RateLimitHit
from resolvers.core.settings import Settings


@dataclass(frozen=True)
class Limit:
    """At most `count` events per sliding `window` for each subject; `name` keeps limits apart."""

    name: str
    count: int
    window: timedelta

    def key(self, subject: object) -> str:
        return f"{self.name}:{subject}"


@dataclass(frozen=True)
class Limits:
    """Every abuse limit of the API, as the settings configure them."""

    # Failed (and refused) sign-ins per email; two-factor codes are throttled alike.
    sign_in: Limit
    # Per client address: these answers reveal whether an email is registered (DESIGN rule 12).
    sign_up: Limit
    invitation_preview: Limit
    # Per email address the mail would go to.
    password_reset: Limit
    email_verification: Limit
    # Invitations per inviting user, and per account; accounts created on behalf per user.
    invitation_per_actor: Limit
    invitation_per_account: Limit
    on_behalf: Limit

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        hour = timedelta(hours=1)
        return cls(
            sign_in=Limit(
                "sign-in", settings.sign_in_failures, timedelta(minutes=settings.sign_in_window_minutes)
            ),
            sign_up=Limit("sign-up", settings.sign_ups_per_hour, hour),
            invitation_preview=Limit("invitation-preview", settings.invitation_previews_per_hour, hour),
            password_reset=Limit("password_reset", settings.password_resets_per_hour, hour),
            email_verification=Limit("email-verification", settings.email_verifications_per_hour, hour),
            invitation_per_actor=Limit("invite:actor", settings.invitations_per_minute, timedelta(minutes=1)),
            invitation_per_account=Limit(
                "invite:account", settings.invitations_per_account_per_day, timedelta(days=1)
            ),
            on_behalf=Limit("on_behalf", settings.accounts_on_behalf_per_hour, hour),
        )


def key_digest(key: str) -> bytes:
    """The stored form of a key: its SHA-256 (the surrogates a broken client may send survive)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


async def _lock(session: AsyncSession, digest: bytes) -> None:
    """Serialises the checks of one key until the caller's transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


async def _count(session: AsyncSession, digest: bytes, window: timedelta) -> int:
    used = await session.scalar(
        select(func.count())
        .select_from(RateLimitHit)
        .where(RateLimitHit.key_hash == digest, RateLimitHit.occurred_at > utcnow() - window)
    )
    return used or 0


async def _hit(session: AsyncSession, digest: bytes) -> int:
    hit_id: int = (
        await session.execute(
            insert(RateLimitHit).values(key_hash=digest, occurred_at=utcnow()).returning(RateLimitHit.id)
        )
    ).scalar_one()
    return hit_id


async def within_limit(session: AsyncSession, key: str, *, limit: int, window: timedelta) -> bool:
    """Whether one more `key` event fits in `limit` per `window`; if so it is counted.

    Runs inside the caller's unit of work: the hit is kept exactly when the action is.
    """
    digest = key_digest(key)
    await _lock(session, digest)
    if await _count(session, digest, window) >= limit:
        return False
    await _hit(session, digest)
    return True


async def allowed(session: AsyncSession, limit: Limit, subject: object) -> bool:
    """`within_limit` for one of the configured limits."""
    return await within_limit(session, limit.key(subject), limit=limit.count, window=limit.window)


@dataclass(frozen=True)
class Attempt:
    """A counted attempt at something throttled: `allowed` says whether the work may go ahead."""

    allowed: bool
    hit_id: int


async def count_attempt(session: AsyncSession, key: str, *, limit: int, window: timedelta) -> Attempt:
    """Counts an attempt before its check runs; allowed while fewer than `limit` were counted.

    Refused attempts are counted too, so a lock lasts as long as the attempts go on. Commit the
    caller's transaction before the check; `release_attempt` afterwards un-counts one that
    succeeded. Until then it holds its place, so parallel attempts can never exceed the limit.
    """
    digest = key_digest(key)
    await _lock(session, digest)
    used = await _count(session, digest, window)
    return Attempt(allowed=used < limit, hit_id=await _hit(session, digest))


async def release_attempt(session: AsyncSession, attempt: Attempt) -> None:
    """Un-counts an attempt that succeeded (a right password is no failed sign-in)."""
    await session.execute(delete(RateLimitHit).where(RateLimitHit.id == attempt.hit_id))


async def recent_hits(session: AsyncSession, key: str, *, window: timedelta) -> int:
    """How many `key` events happened within `window`."""
    return await _count(session, key_digest(key), window)


async def email_verification_allowed(session: AsyncSession, settings: Settings, email: str) -> bool:
    """Whether one more verification email may go to `email` (counted if so); per address, so
    requests from many accounts or clients cannot flood one mailbox."""
    return await allowed(session, Limits.of(settings).email_verification, email.strip().lower())
