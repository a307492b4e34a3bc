"""The public profile of a user."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from models import users as models
from resolvers.ids import encode_id
from schema.base import Node


@strawberry.type(
    description=(
        "A person who signs in. Other users see only this public profile; everything that spans "
        "accounts hangs off Viewer, so it is reachable only by the user themself."
    )
)
class User(Node):
    id: strawberry.ID
    email: str
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
