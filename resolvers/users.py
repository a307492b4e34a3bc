"""Who may see a user: the user themself and members of an account they belong to (DESIGN rule 10)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import aliased

from models.accounts import Membership
from models.users import User
from resolvers.context import Context
from resolvers.permissions import memberships_of


async def visible_user(context: Context, user_id: uuid.UUID) -> User | None:
    principal = context.principal
    if principal is None:
        return None
    if user_id != principal.user_id:
        mine = memberships_of(principal).subquery()
        theirs = aliased(Membership)
        shared = await _scalar(
            context,
            select(theirs.user_id)
            .join(mine, mine.c.account_id == theirs.account_id)
            .where(theirs.user_id == user_id)
            .limit(1),
        )
        if shared is None:
            return None
    return await context.loaders.user.load(user_id)


async def _scalar(context: Context, statement: object) -> object:
    async with context.db.read() as session:
        return await session.scalar(statement)  # type: ignore[call-overload]
