"""The public profile of a user, and how people appear in an account's history."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from models import users as models
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.users import historical_user
from schema.core.base import Node

# One rule for every reference to a person in an account's history, stated once and repeated in
# the description of each field it applies to.
FORMER_MEMBER_RULE = (
    "Someone who no longer shares an account with the viewer (they left it, or were removed) "
    "appears by name only: `email` is empty, and `node` on their ID is null (they do not exist "
    "for the viewer any more)."
)


@strawberry.type(
    description=(
        "A person who signs in. Other users see only this public profile; everything that spans "
        "accounts hangs off Viewer, so it is reachable only by the user themself. "
        "In an account's history (ticket messages, cancellation requests, audit events, who "
        "invited or ordered): " + FORMER_MEMBER_RULE
    )
)
class User(Node):
    id: strawberry.ID
    email: str = strawberry.field(description="Empty for a former member in an account's history.")
    name: str
    created_at: datetime
    pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.User) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            email=row.email,
            name=row.name,
            created_at=row.created_at,
            pk=row.id,
        )

    @classmethod
    def former(cls, row: models.User) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            email="",
            name=row.name,
            created_at=row.created_at,
            pk=row.id,
        )


async def in_history(info: Info[Context, None], user_id: uuid.UUID | None) -> User | None:
    """The person behind a past action, as the viewer may see them (FORMER_MEMBER_RULE)."""
    if user_id is None:
        return None
    found = await historical_user(info.context, user_id)
    if found is None:
        return None
    row, visible = found
    return User.of(row) if visible else User.former(row)


def history_field(description: str) -> str:
    return f"{description} {FORMER_MEMBER_RULE}".strip()
