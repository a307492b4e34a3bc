"""Writing the audit log: every change records who made it, how they signed in, and where."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import AuditEvent
from resolvers.core.context import Context


def record(
    session: AsyncSession,
    context: Context,
    action: str,
    *,
    account_id: uuid.UUID | None = None,
    subject_id: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> None:
    """Adds an event to the mutation's unit of work, so it is kept exactly when the change is."""
    principal = context.principal
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor_id or (principal.user_id if principal else None),
            credential=principal.credential if principal else "anonymous",
            account_id=account_id,
            subject_id=subject_id,
            request_id=context.request_id,
        )
    )


def record_system(
    session: AsyncSession,
    action: str,
    *,
    account_id: uuid.UUID | None = None,
    subject_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    request_id: str | None = None,
) -> None:
    """Like `record`, for what the provider's staff and periodic jobs do, outside any user's request:
    the credential is "system"; `actor_id` names the user a system action was on behalf of, if any."""
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor_id,
            credential="system",
            account_id=account_id,
            subject_id=subject_id,
            request_id=request_id,
        )
    )
