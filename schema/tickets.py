"""Support tickets: the conversation between an account's members and the provider's staff."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import tickets as models
from models.tickets import TicketStatus
from resolvers import tickets as resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.policies import SERVICE, TICKET
from schema.core.base import Node, UserError, account_field
from schema.core.ids import decode_id
from schema.core.policy import Granted, OnObject, gated, mutation, on_account
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.hosting.services import Service


@strawberry.type
class TicketMessage:
    body: str
    created_at: datetime
    author_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: models.TicketMessage) -> TicketMessage:
        return cls(body=row.body, created_at=row.created_at, author_pk=row.author_id)

    @strawberry.field(description=history_field("Who wrote it; null for the provider's staff."))
    async def author(self, info: Info[Context, None]) -> User | None:
        return await in_history(info, self.author_pk)


@strawberry.type
class Ticket(Node):
    id: strawberry.ID
    number: str
    subject: str
    department: str
    status: TicketStatus
    created_at: datetime
    ticket_pk: strawberry.Private[uuid.UUID]
    account_pk: strawberry.Private[uuid.UUID]
    opened_by_pk: strawberry.Private[uuid.UUID]
    service_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: models.Ticket) -> Ticket:
        return cls(
            id=strawberry.ID(encode_id("Ticket", row.id)),
            number=row.number,
            subject=row.subject,
            department=row.department,
            status=row.status,
            created_at=row.created_at,
            ticket_pk=row.id,
            account_pk=row.account_id,
            opened_by_pk=row.opened_by_id,
            service_pk=row.service_id,
        )

    account = account_field()

    @strawberry.field(description=history_field("Who opened it."))
    async def opened_by(self, info: Info[Context, None]) -> User:
        user = await in_history(info, self.opened_by_pk)
        assert user is not None
        return user

    # Only a ticket about a service needs the permission (DESIGN rule 8).
    @strawberry.field(
        **gated(SERVICE.view, "The service the ticket is about, if any.", account_of="service_account_pk")
    )
    async def service(
        self, info: Info[Context, None]
    ) -> Annotated[Service, strawberry.lazy("schema.hosting.services")] | None:
        from schema.hosting.services import Service

        if self.service_pk is None:
            return None
        row = await info.context.loaders.service.load(self.service_pk)
        return Service.of(row) if row else None

    @property
    def service_account_pk(self) -> uuid.UUID | None:
        """The account whose permission the service field needs; None when there is no service."""
        return None if self.service_pk is None else self.account_pk

    @strawberry.field(description="Oldest first.")
    async def messages(self, info: Info[Context, None]) -> list[TicketMessage]:
        rows = await info.context.loaders.tickets.messages.load(self.ticket_pk)
        return [TicketMessage.of(row) for row in rows]


@strawberry.input
class OpenTicketInput:
    account_id: strawberry.ID
    department: str
    subject: str
    message: str
    service_id: strawberry.ID | None = None


@strawberry.type
class OpenTicketPayload:
    ticket: Ticket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReplyToTicketInput:
    ticket_id: strawberry.ID
    message: str


@strawberry.type
class ReplyToTicketPayload:
    ticket: Ticket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CloseTicketInput:
    ticket_id: strawberry.ID


@strawberry.type
class CloseTicketPayload:
    ticket: Ticket | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _service_id(input: OpenTicketInput) -> uuid.UUID | None:
    return None if input.service_id is None else decode_id(input.service_id, "Service")


@strawberry.type
class TicketMutations:
    @mutation(on_account("account_id", TICKET.change), prepare=_service_id)
    async def open_ticket(
        self, info: Info[Context, None], input: OpenTicketInput, granted: Granted
    ) -> OpenTicketPayload:
        assert granted.access is not None
        row = await resolve.open_ticket(
            info.context,
            granted.access,
            department=input.department,
            subject=input.subject,
            message=input.message,
            service_named=input.service_id is not None,
            service_id=granted.prepared,
        )
        return OpenTicketPayload(ticket=Ticket.of(row))

    @mutation(
        OnObject("ticket_id", TICKET),
        description=(
            "A message from the account's side; a CLOSED ticket takes no replies. An ANSWERED ticket "
            "becomes CUSTOMER_REPLY."
        ),
    )
    async def reply_to_ticket(
        self, info: Info[Context, None], input: ReplyToTicketInput, granted: Granted
    ) -> ReplyToTicketPayload:
        row = await resolve.reply_to_ticket(info.context, granted.target, message=input.message)
        return ReplyToTicketPayload(ticket=Ticket.of(row))

    @mutation(OnObject("ticket_id", TICKET))
    async def close_ticket(
        self, info: Info[Context, None], input: CloseTicketInput, granted: Granted
    ) -> CloseTicketPayload:
        row = await resolve.close_ticket(info.context, granted.target)
        return CloseTicketPayload(ticket=Ticket.of(row))
