"""The audit log as the account's members with MANAGE_USERS read it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import audit as models
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from schema.core.base import Node, shape
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.accounts.accounts import ClientAccount


@strawberry.type
class AuditEvent(Node):
    id: strawberry.ID
    action: str = strawberry.field(
        description=(
            "E.g. invitation.created, membership.permissions_changed, order.placed, contact.updated."
        )
    )
    subject_id: strawberry.ID | None = strawberry.field(description="Global ID of the entity acted upon.")
    occurred_at: datetime
    actor_pk: strawberry.Private[uuid.UUID | None]
    account_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: models.AuditEvent) -> AuditEvent:
        return cls(
            id=strawberry.ID(encode_id("AuditEvent", row.id)),
            action=row.action,
            subject_id=strawberry.ID(row.subject_id) if row.subject_id else None,
            occurred_at=row.occurred_at,
            actor_pk=row.actor_id,
            account_pk=row.account_id,
        )

    @strawberry.field(description=history_field("Who did it, when a user did."))
    async def actor(self, info: Info[Context, None]) -> User | None:
        return await in_history(info, self.actor_pk)

    @strawberry.field
    async def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts.accounts")] | None:
        if self.account_pk is None or await info.context.access(self.account_pk) is None:
            return None
        row = await info.context.loaders.account.load(self.account_pk)
        account: ClientAccount | None = shape("ClientAccount")(row) if row else None
        return account
