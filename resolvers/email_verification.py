"""Proving a user's email address (DESIGN rule 13): the emailed link, and what waits for it."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.email_verification import EmailVerificationToken
from models.users import User
from resolvers.core import single_use
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import digest
from resolvers.core.emails import format_expiry, language_of_user
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.outbox import enqueue
from resolvers.core.permissions import require_principal
from resolvers.core.principal import Principal
from resolvers.core.ratelimits import Limits, allowed
from resolvers.core.settings import Settings

VERIFICATION_LIFETIME = timedelta(days=7)
# Per user: a lost or late email can be asked for again, an inbox cannot be flooded.
TOKEN_INVALID_MESSAGE = "This link is invalid, used or expired; ask for a new one."


def send_verification_link(session: AsyncSession, settings: Settings, *, user: User, language: str) -> None:
    """Adds a new verification token and the email carrying its link to the unit of work."""
    secret = secrets.token_urlsafe(32)
    expires_at = utcnow() + VERIFICATION_LIFETIME
    session.add(
        EmailVerificationToken(
            user_id=user.id, email=user.email, token_hash=digest(secret), expires_at=expires_at
        )
    )
    link = f"{settings.public_url.rstrip('/')}/email/verify?{urlencode({'token': secret})}"
    enqueue(
        session,
        to=user.email,
        template="email_verification",
        language=language,
        params={"name": user.name, "link": link, "expires": format_expiry(expires_at, language)},
    )


async def mark_verified(session: AsyncSession, context: Context, user_id: uuid.UUID) -> bool:
    """Records that the user proved their mailbox; True (and audited) when it was not proven before.

    Called inside the unit of work that consumed a link sent to the address (verification,
    invitation or password reset), so the proof is kept exactly when the link is used up.
    """
    now = utcnow()
    changed = cast(
        "CursorResult[Any]",
        await session.execute(
            update(User)
            .where(User.id == user_id, User.email_verified_at.is_(None))
            .values(email_verified_at=now)
        ),
    )
    if changed.rowcount != 1:
        return False
    record(session, context, "user.email_verified", actor_id=user_id, subject_id=encode_id("User", user_id))
    context.loaders.user.clear(user_id)
    return True


async def email_verified(context: Context) -> bool:
    principal = require_principal(context)
    user = await context.loaders.user.load(principal.user_id)
    return user is not None and user.email_verified_at is not None


async def require_verified_email(context: Context) -> None:
    """Refuses what reaches beyond the viewer's own new account until their email is proven."""
    if not await email_verified(context):
        raise reject(
            "Confirm your email address first: use the link we sent you, or ask for a new one.",
            UserErrorCode.EMAIL_NOT_VERIFIED,
        )


async def request_email_verification(context: Context, principal: Principal) -> None:
    """Emails the viewer a fresh link; does nothing (but answers alike) when already verified."""
    async with context.db.begin() as session:
        if not await allowed(session, Limits.of(context.settings).email_verification, principal.user_id):
            raise reject("Too many verification emails; try again later.", UserErrorCode.RATE_LIMITED)
        user = await session.get_one(User, principal.user_id)
        if user.email_verified_at is not None:
            return
        send_verification_link(
            session, context.settings, user=user, language=await language_of_user(session, user.id)
        )
        record(
            session,
            context,
            "user.email_verification_requested",
            subject_id=encode_id("User", user.id),
        )


async def verify_email(context: Context, *, token: str) -> User:
    """Uses up a verification link and verifies the address it was sent to (signed in or not)."""
    now = utcnow()
    async with context.db.begin() as session:
        found = await single_use.find_usable(
            session,
            EmailVerificationToken,
            token,
            # A link proves the address it went to, not one the user has since.
            EmailVerificationToken.email == User.email,
            now=now,
        )
        if found is None:
            raise _token_invalid()
        token_id, user = found
        if not await single_use.claim(session, EmailVerificationToken, token_id, now=now):
            raise _token_invalid()
        # The user's other links have nothing left to prove.
        await single_use.retire_all(session, EmailVerificationToken, user.id, now=now)
        await mark_verified(session, context, user.id)
        return await session.get_one(User, user.id, populate_existing=True)


def _token_invalid() -> Rejected:
    return reject(TOKEN_INVALID_MESSAGE, UserErrorCode.TOKEN_INVALID, "input", "token")
