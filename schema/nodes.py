"""`node` and `nodes`: any entity by global ID, null when the viewer may not see it."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from models import accounts, audit, billing, catalogue, contacts, hosting, invitations, users
from models import identity as auth
from models import tickets as support
from resolvers.core.context import Context
from resolvers.nodes import Found, find_node
from schema.accounts.accounts import ClientAccount, Membership
from schema.audit import AuditEvent
from schema.billing import Invoice, Order
from schema.catalogue import Product
from schema.contacts import Contact
from schema.core.base import Node
from schema.core.ids import decode_global_id
from schema.hosting.domains import Domain
from schema.hosting.services import Service
from schema.identity import ApiToken
from schema.invitations import Invitation
from schema.tickets import Ticket
from schema.users import User


def _wrap(found: Found) -> Node:
    if isinstance(found, accounts.ClientAccount):
        return ClientAccount.of(found)
    if isinstance(found, accounts.Membership):
        return Membership.of(found)
    if isinstance(found, users.User):
        return User.of(found)
    if isinstance(found, auth.ApiToken):
        return ApiToken.of(found)
    if isinstance(found, invitations.Invitation):
        return Invitation.of(found)
    if isinstance(found, audit.AuditEvent):
        return AuditEvent.of(found)
    if isinstance(found, catalogue.Product):
        return Product.of(found)
    if isinstance(found, contacts.Contact):
        return Contact.of(found)
    if isinstance(found, hosting.Service):
        return Service.of(found)
    if isinstance(found, hosting.Domain):
        return Domain.of(found)
    if isinstance(found, billing.Order):
        return Order.of(found)
    if isinstance(found, billing.Invoice):
        return Invoice.of(found)
    if isinstance(found, support.Ticket):
        return Ticket.of(found)
    raise TypeError(type(found))


async def _node(context: Context, global_id: str) -> Node | None:
    # A malformed ID is BAD_USER_INPUT (DESIGN rule 11); the rest is decided by type and key.
    type_name, pk = decode_global_id(global_id)
    found = await find_node(context, type_name, pk)
    return None if found is None else _wrap(found)


async def _node_or_error(context: Context, global_id: str) -> Node | GraphQLError | None:
    try:
        return await _node(context, global_id)
    except GraphQLError as error:
        # graphql-core reports an Exception in a list at that item's path and nulls only the item.
        return error


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description=(
            "Any entity the viewer may see, by global ID; null when it does not exist or the "
            "viewer may not see it."
        )
    )
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await _node(info.context, id)

    @strawberry.field
    async def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > 100:
            from resolvers.core.errors import BadUserInput

            raise BadUserInput("At most 100 IDs at once.")
        results: list[Any] = await asyncio.gather(
            *(_node_or_error(info.context, global_id) for global_id in ids)
        )
        return results
