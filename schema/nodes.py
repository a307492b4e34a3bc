"""`node` and `nodes`: any entity by global ID, null when the viewer may not see it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from resolvers.core.context import Context
from resolvers.nodes import find_node
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

# How each type's row becomes its node, by the type its global ID names: a row read for showing
# is a table row (models.base.columns_of), not an entity whose class would tell.
_WRAP: dict[str, Callable[[Any], Node]] = {
    "ClientAccount": ClientAccount.of,
    "Membership": Membership.of,
    "User": User.of,
    "ApiToken": ApiToken.of,
    "Invitation": Invitation.of,
    "AuditEvent": AuditEvent.of,
    "Product": Product.of,
    "Contact": Contact.of,
    "Service": Service.of,
    "Domain": Domain.of,
    "Order": Order.of,
    "Invoice": Invoice.of,
    "Ticket": Ticket.of,
}


async def _node(context: Context, global_id: str) -> Node | None:
    # A malformed ID is BAD_USER_INPUT (DESIGN rule 11); the rest is decided by type and key.
    type_name, pk = decode_global_id(global_id)
    found = await find_node(context, type_name, pk)
    return None if found is None else _WRAP[type_name](found)


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
