"""One-time links that set a password: issuing one by email, and redeeming it exactly once."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.invitations import PasswordResetToken
from models.users import User
from resolvers.core import single_use
from resolvers.core.credentials import digest
from resolvers.core.emails import format_expiry
from resolvers.core.outbox import enqueue
from resolvers.core.settings import Settings


def send_password_link(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    lifetime: timedelta,
    template: str,
    language: str,
    params: dict[str, str],
) -> None:
    """Adds a new token and the email carrying its link to the unit of work; the secret goes nowhere else."""
    secret = secrets.token_urlsafe(32)
    expires_at = utcnow() + lifetime
    session.add(PasswordResetToken(user_id=user.id, token_hash=digest(secret), expires_at=expires_at))
    link = f"{settings.public_url.rstrip('/')}/password/reset?{urlencode({'token': secret})}"
    enqueue(
        session,
        to=user.email,
        template=template,
        language=language,
        params={
            **params,
            "name": user.name,
            "link": link,
            "expires": format_expiry(expires_at, language),
        },
    )


async def find_usable_token(session: AsyncSession, secret: str) -> tuple[uuid.UUID, User] | None:
    """The unused, unexpired token with this secret and its user."""
    return await single_use.find_usable(session, PasswordResetToken, secret)


async def redeem_token(session: AsyncSession, *, token_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Marks the token used and retires the user's other links; False when it was used meanwhile."""
    now = utcnow()
    if not await single_use.claim(session, PasswordResetToken, token_id, now=now):
        return False
    await single_use.retire_all(session, PasswordResetToken, user_id, now=now)
    return True
