"""The viewer's accounts as a connection: each edge carries the viewer's role, permissions and scope there."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import accounts as models
from models.accounts import MembershipRole
from models.permissions import Permission, ordered
from resolvers import scopes as scopes_resolve
from resolvers.core.context import Context
from resolvers.core.lookahead import accounts_ahead
from resolvers.core.pagination import Page
from resolvers.core.principal import Access
from schema.core.base import (
    PageInfo,
)
from schema.core.lookahead import nodes_ahead

if TYPE_CHECKING:
    from schema.scopes import MembershipScope
from schema.accounts.accounts import ClientAccount


@strawberry.type
class ClientAccountEdge:
    cursor: str
    node: ClientAccount
    role: MembershipRole
    permissions: list[Permission] = strawberry.field(
        description=(
            "The viewer's effective permissions in this account: every one for the owner; for an "
            "API token, narrowed by the token."
        )
    )
    two_factor_required: bool = strawberry.field(
        description=(
            "True when the account requires two-factor sign-in and the viewer has not turned it on: the "
            "viewer then holds no permission here (permissions is empty)."
        )
    )
    account_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description=(
            "Null: the whole account. Otherwise the viewer's service and domain permissions here "
            "reach only these services and domains."
        )
    )
    async def scope(
        self, info: Info[Context, None]
    ) -> Annotated[MembershipScope, strawberry.lazy("schema.scopes")] | None:
        from schema.scopes import scope_of

        return scope_of(await scopes_resolve.viewer_scope(info.context, self.account_pk))


@strawberry.type
class ClientAccountConnection:
    edges: list[ClientAccountEdge]
    page_info: PageInfo
    page: strawberry.Private[Page[tuple[models.ClientAccount, Access]]]

    @classmethod
    async def of(
        cls, info: Info[Context, None], page: Page[tuple[models.ClientAccount, Access]]
    ) -> ClientAccountConnection:
        nodes = [ClientAccount.of(account) for _, (account, _) in page.edges]
        await accounts_ahead(info.context, [a.account_pk for a in nodes], nodes_ahead(info, page))
        return cls(
            edges=[
                ClientAccountEdge(
                    cursor=cursor,
                    node=node,
                    role=access.role,
                    permissions=ordered(access.permissions),
                    two_factor_required=access.two_factor_required,
                    account_pk=access.account_id,
                )
                for (cursor, (_, access)), node in zip(page.edges, nodes, strict=True)
            ],
            page_info=PageInfo.of(page),
            page=page,
        )

    @strawberry.field
    async def total_count(self) -> int:
        return await self.page.count()
