"""Secrets that work once (emailed links, sign-in challenges): found by the SHA-256 of what the
user presents, used up by a conditional UPDATE. Each caller words its own refusal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.email_verification import EmailVerificationToken
from models.invitations import PasswordResetToken
from models.two_factor import TwoFactorChallenge
from models.users import User
from resolvers.core.credentials import digest

TokenModel = TypeVar("TokenModel", EmailVerificationToken, PasswordResetToken, TwoFactorChallenge)


async def find_usable(
    session: AsyncSession,
    model: type[TokenModel],
    secret: str,
    *where: ColumnElement[bool],
    now: datetime | None = None,
) -> tuple[uuid.UUID, User] | None:
    """The unused, unexpired token with this secret (and any further condition) and its user."""
    row = (
        await session.execute(
            select(model.id, User)
            .join(User, User.id == model.user_id)
            .where(
                model.token_hash == digest(secret),
                model.used_at.is_(None),
                model.expires_at > (now or utcnow()),
                *where,
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def claim(
    session: AsyncSession, model: type[TokenModel], token_id: uuid.UUID, *, now: datetime | None = None
) -> bool:
    """Marks the token used; False when it was used (or expired) meanwhile.

    The conditional UPDATE is the lock: of two requests with one token, only one changes the row.
    """
    now = now or utcnow()
    claimed = cast(
        "CursorResult[Any]",
        await session.execute(
            update(model)
            .where(model.id == token_id, model.used_at.is_(None), model.expires_at > now)
            .values(used_at=now)
        ),
    )
    return claimed.rowcount == 1


async def retire_all(
    session: AsyncSession, model: type[TokenModel], user_id: uuid.UUID, *, now: datetime
) -> None:
    """Marks every still unused token of the user used: once one has served, the rest prove nothing."""
    await session.execute(
        update(model).where(model.user_id == user_id, model.used_at.is_(None)).values(used_at=now)
    )
