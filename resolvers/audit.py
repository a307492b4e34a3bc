"""Reading an account's audit log (resolvers/core/audit.py writes it)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from models.audit import AuditEvent
from resolvers.core.context import Context
from resolvers.core.pagination import Page, paginate


async def account_audit_log(
    context: Context, *, account_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Any]:
    """The account's events, newest first."""
    page = await paginate(
        context.db,
        select(AuditEvent).where(AuditEvent.account_id == account_id),
        keys=[AuditEvent.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
        descending=True,
    )
    return page.map(lambda row: row[0])
