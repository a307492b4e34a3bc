"""Browser sessions: starting one after sign-in, the session cookie, ending the current one."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from models.base import utcnow
from models.identity import Session
from models.users import User
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import (
    digest,
    start_session,
)
from resolvers.core.ids import encode_id
from resolvers.core.principal import Principal


def client_address(context: Context) -> str:
    """The caller's address (uvicorn resolves trusted proxies' X-Forwarded-For)."""
    client = context.request.client if context.request is not None else None
    return client.host if client else "unknown"


def _set_session_cookie(context: Context, secret: str) -> None:
    settings = context.settings
    if context.response is not None:
        context.response.set_cookie(
            settings.cookie_name,
            secret,
            max_age=settings.session_absolute_days * 86400,
            httponly=True,
            secure=settings.cookie_secure,
            samesite="lax",
            path="/",
        )


def _clear_session_cookie(context: Context) -> None:
    settings = context.settings
    if context.response is not None:
        context.response.delete_cookie(
            settings.cookie_name,
            httponly=True,
            secure=settings.cookie_secure,
            samesite="lax",
            path="/",
        )


def _current_cookie(context: Context) -> str | None:
    if context.request is None:
        return None
    return context.request.cookies.get(context.settings.cookie_name)


async def _revoke_current_session(context: Context) -> None:
    """A sign-in replaces whatever session the browser had (no session fixation)."""
    secret = _current_cookie(context)
    if secret:
        async with context.db.begin() as session:
            await session.execute(
                update(Session)
                .where(Session.token_hash == digest(secret), Session.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )


async def _begin_session(context: Context, user: User, secret: str, session_id: uuid.UUID) -> None:
    _set_session_cookie(context, secret)
    context.become(
        Principal(user_id=user.id, email=user.email, credential="session", credential_id=session_id)
    )


async def open_session(context: Context, user: User) -> None:
    """Signs the user in: a new session replaces the browser's old one; audited."""
    await _revoke_current_session(context)
    async with context.db.begin() as session:
        secret, login = start_session(session, context.settings, user.id)
        await session.execute(update(User).where(User.id == user.id).values(last_login_at=utcnow()))
        await session.flush()
        record(
            session,
            context,
            "user.signed_in",
            actor_id=user.id,
            subject_id=encode_id("User", user.id),
        )
    await _begin_session(context, user, secret, login.id)
