"""Who may see a user: the user themself and members of an account they belong to (DESIGN rule 10)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.orm import aliased

from models.accounts import Membership
from models.users import User
from resolvers.permissions import memberships_of

if TYPE_CHECKING:
    from resolvers.context import Context


class UserVisibleLoader(DataLoader[uuid.UUID, bool]):
    """Whether the viewer may see each user: themself, or someone sharing an account the viewer
    (or their token) reaches. One statement for a whole batch of authors."""

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context

    async def batch_load_fn(self, keys: Sequence[uuid.UUID]) -> list[bool]:
        principal = self.context.principal
        if principal is None:
            return [False] * len(keys)
        others = [key for key in keys if key != principal.user_id]
        visible = {principal.user_id}
        if others:
            mine = memberships_of(principal).subquery()
            theirs = aliased(Membership)
            statement = (
                select(theirs.user_id)
                .join(mine, mine.c.account_id == theirs.account_id)
                .where(theirs.user_id.in_(others))
                .distinct()
            )
            async with self.context.db.read() as session:
                visible.update(await session.scalars(statement))
        return [key in visible for key in keys]


async def visible_user(context: Context, user_id: uuid.UUID) -> User | None:
    if not await context.loaders.user_visible.load(user_id):
        return None
    return await context.loaders.user.load(user_id)


async def historical_user(context: Context, user_id: uuid.UUID) -> tuple[User, bool] | None:
    """Someone who wrote, asked for or did something in an account, and whether the viewer may
    still see them (they may have left it since); None when the user no longer exists."""
    row, visible = await asyncio.gather(
        context.loaders.user.load(user_id), context.loaders.user_visible.load(user_id)
    )
    return None if row is None else (row, visible)
