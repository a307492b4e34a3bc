"""Asking for a password-reset link without learning whether the email is registered (DESIGN rule 12).

A request does the same work for every address: it counts the request against the address's limit
and queues it. Whether a user has the address is decided after the answer has gone out, by a task
that runs once the response is sent (and, for a request whose process stopped first, by the
mailer's sweep): it issues the token, queues the email and audits it, or does nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask, BackgroundTasks

from models.audit import AuditEvent
from models.base import utcnow
from models.database import Database
from models.password_resets import PasswordResetRequest
from models.users import User
from resolvers.core.context import Context
from resolvers.core.emails import language_of_user
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.ratelimits import Limits, allowed
from resolvers.core.settings import Settings
from resolvers.core.validation import Checker
from resolvers.password_resets.resets import send_password_link

logger = logging.getLogger("clientarea.password_resets")

PASSWORD_RESET_LIFETIME = timedelta(hours=1)
# A request is answered right after its response; the sweep takes over only from requests this old,
# so it does not race the answer that is on its way.
SWEEP_AFTER = timedelta(seconds=30)


async def request_password_reset(context: Context, *, email: str) -> None:
    """Queues a reset link for the address; the same statements and answer whether or not it is a user's."""
    check = Checker()
    email = check.email(("input", "email"), email)
    if check.problems:
        raise Rejected(check.problems)
    principal = context.principal
    async with context.db.begin() as session:
        # Counted whether or not a user has the address, so hitting the limit reveals nothing either.
        if not await allowed(session, Limits.of(context.settings).password_reset, email):
            raise reject(
                "Too many reset requests for this email; try again later.", UserErrorCode.RATE_LIMITED
            )
        request_id = await session.scalar(
            insert(PasswordResetRequest)
            .values(
                email=email,
                credential=principal.credential if principal else "anonymous",
                request_id=context.request_id,
            )
            .returning(PasswordResetRequest.id)
        )
    assert request_id is not None
    if context.response is None:
        await answer_reset_request(context.db, context.settings, request_id)
        return
    # Starlette runs background tasks after the response is sent: the answer's timing is the same.
    tasks = context.response.background
    if not isinstance(tasks, BackgroundTasks):
        tasks = BackgroundTasks([tasks] if isinstance(tasks, BackgroundTask) else None)
        context.response.background = tasks
    tasks.add_task(answer_reset_request, context.db, context.settings, request_id)


async def answer_reset_request(db: Database, settings: Settings, request_id: uuid.UUID) -> bool:
    """Answers one queued request; False when there was nothing to answer (or it failed: the
    request then stays queued for the sweep)."""
    try:
        async with db.begin() as session:
            # Deleting claims it: of two answerers (the request's task, a sweep) only one gets the row.
            row = (
                await session.execute(
                    delete(PasswordResetRequest)
                    .where(PasswordResetRequest.id == request_id)
                    .returning(
                        PasswordResetRequest.email,
                        PasswordResetRequest.credential,
                        PasswordResetRequest.request_id,
                    )
                )
            ).first()
            if row is None:
                return False
            await _send_link(session, settings, email=row[0], credential=row[1], request_id=row[2])
    except Exception:
        # After the response nobody hears of it but the log; the sweep tries again.
        logger.exception("answering password-reset request %s failed", request_id)
        return False
    return True


async def _send_link(
    session: AsyncSession, settings: Settings, *, email: str, credential: str, request_id: str | None
) -> None:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        return
    send_password_link(
        session,
        settings,
        user=user,
        lifetime=PASSWORD_RESET_LIFETIME,
        template="password_reset",
        language=await language_of_user(session, user.id),
        params={},
    )
    session.add(
        AuditEvent(
            action="user.password_reset_requested",
            actor_id=user.id,
            credential=credential,
            subject_id=encode_id("User", user.id),
            request_id=request_id,
        )
    )


async def answer_stale_reset_requests(db: Database, settings: Settings, *, limit: int = 50) -> int:
    """Answers the requests whose process stopped before it could (the mailer runs it); how many."""
    async with db.read() as session:
        stale = list(
            await session.scalars(
                select(PasswordResetRequest.id)
                .where(PasswordResetRequest.created_at < utcnow() - SWEEP_AFTER)
                .order_by(PasswordResetRequest.created_at)
                .limit(limit)
            )
        )
    answered = 0
    for request_id in stale:
        answered += await answer_reset_request(db, settings, request_id)
    return answered
