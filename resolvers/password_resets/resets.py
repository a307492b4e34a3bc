"""One-time links that set a password: issuing one by email, and redeeming it exactly once."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow
from models.invitations import PasswordResetToken
from models.users import User
from resolvers.core import single_use
from resolvers.core.emails import language_for_country
from resolvers.core.outbox import enqueue
from resolvers.core.settings import Settings
from resolvers.identity.credentials import digest


def format_expiry(moment: datetime, language: str) -> str:
    return moment.strftime("%d.%m.%Y %H:%M UTC" if language == "de" else "%Y-%m-%d %H:%M UTC")


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


async def language_of_user(session: AsyncSession, user_id: uuid.UUID) -> str:
    """The language of the user's first owned account (else first membership); English without any."""
    country = await session.scalar(
        select(ClientAccount.billing_country_code)
        .join(Membership, Membership.account_id == ClientAccount.id)
        .where(Membership.user_id == user_id)
        .order_by(case((Membership.role == MembershipRole.OWNER, 0), else_=1), Membership.id)
        .limit(1)
    )
    return language_for_country(country) if country else "en"


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
