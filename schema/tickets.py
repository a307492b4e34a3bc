"""Support tickets: the conversation between an account's members and the provider's staff."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import support as models
from models.permissions import Permission
from models.support import TicketStatus
from resolvers import tickets as resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from resolvers.ids import decode_id, encode_id
from resolvers.permissions import require_in_account
from schema.base import Node, UserError, authenticated, user_errors
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.accounts import ClientAccount
    from schema.services import Service


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

    @strawberry.field
    async def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts")]:
        from schema.accounts import ClientAccount

        row = await info.context.loaders.account.load(self.account_pk)
        assert row is not None
        return ClientAccount.of(row)

    @strawberry.field(description=history_field("Who opened it."))
    async def opened_by(self, info: Info[Context, None]) -> User:
        user = await in_history(info, self.opened_by_pk)
        assert user is not None
        return user

    @strawberry.field(description="The service the ticket is about, if any. Needs VIEW_SERVICES.")
    async def service(
        self, info: Info[Context, None]
    ) -> Annotated[Service, strawberry.lazy("schema.services")] | None:
        from schema.services import Service

        if self.service_pk is None:
            return None
        # Only a ticket about a service needs the permission (DESIGN rule 8).
        await require_in_account(info.context, self.account_pk, Permission.VIEW_SERVICES)
        row = await info.context.loaders.service.load(self.service_pk)
        return Service.of(row) if row else None

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


@strawberry.type
class TicketMutations:
    @strawberry.mutation(extensions=authenticated())
    async def open_ticket(self, info: Info[Context, None], input: OpenTicketInput) -> OpenTicketPayload:
        try:
            row = await resolve.open_ticket(
                info.context,
                account_id=decode_id(input.account_id, "ClientAccount"),
                department=input.department,
                subject=input.subject,
                message=input.message,
                service_id=input.service_id,
            )
        except Rejected as rejected:
            return OpenTicketPayload(user_errors=user_errors(rejected))
        return OpenTicketPayload(ticket=Ticket.of(row))

    @strawberry.mutation(
        description=(
            "A message from the account's side. Needs SUPPORT_TICKETS; a CLOSED ticket takes no "
            "replies. An ANSWERED ticket becomes CUSTOMER_REPLY."
        ),
        extensions=authenticated(),
    )
    async def reply_to_ticket(
        self, info: Info[Context, None], input: ReplyToTicketInput
    ) -> ReplyToTicketPayload:
        try:
            row = await resolve.reply_to_ticket(
                info.context, ticket_id=decode_id(input.ticket_id, "Ticket"), message=input.message
            )
        except Rejected as rejected:
            return ReplyToTicketPayload(user_errors=user_errors(rejected))
        return ReplyToTicketPayload(ticket=Ticket.of(row))

    @strawberry.mutation(description="Needs SUPPORT_TICKETS.", extensions=authenticated())
    async def close_ticket(self, info: Info[Context, None], input: CloseTicketInput) -> CloseTicketPayload:
        try:
            row = await resolve.close_ticket(info.context, ticket_id=decode_id(input.ticket_id, "Ticket"))
        except Rejected as rejected:
            return CloseTicketPayload(user_errors=user_errors(rejected))
        return CloseTicketPayload(ticket=Ticket.of(row))
