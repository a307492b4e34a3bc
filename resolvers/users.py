"""Who may see a user: the user themself and members of an account they belong to (DESIGN rule 10)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import exists, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from models.accounts import Membership
from models.users import User
from resolvers.core.loaders import Loader
from resolvers.core.permissions import visible_memberships

if TYPE_CHECKING:
    from resolvers.core.context import Context


class SeenUserLoader(Loader[uuid.UUID, "tuple[User, bool] | None"]):
    """Each user with whether the viewer may see them: themself, or someone sharing an account the
    viewer (or their token) reaches. One statement for a batch, the check inside it."""

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, tuple[User, bool] | None]:
        principal = self.context.principal
        visible: ColumnElement[bool]
        if principal is None:
            visible = literal(False)
        else:
            mine = visible_memberships(principal)
            theirs = aliased(Membership)
            shared = exists(
                select(theirs.id)
                .join(mine, mine.c.account_id == theirs.account_id)
                .where(theirs.user_id == User.id)
            )
            visible = or_(User.id == principal.user_id, shared)
        statement = select(User, visible.label("visible")).where(User.id.in_(keys))
        async with self.context.db.read() as session:
            found = {row.id: (row, bool(seen)) for row, seen in await session.execute(statement)}
        for row, _ in found.values():
            self.context.loaders.user.prime(row.id, row)
        return found


async def visible_user(context: Context, user_id: uuid.UUID) -> User | None:
    found = await context.loaders.seen_user.load(user_id)
    return found[0] if found is not None and found[1] else None


async def historical_user(context: Context, user_id: uuid.UUID) -> tuple[User, bool] | None:
    """Someone who wrote, asked for or did something in an account, and whether the viewer may
    still see them (they may have left it since); None when the user no longer exists."""
    return await context.loaders.seen_user.load(user_id)
