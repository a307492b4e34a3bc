"""Scopes (DESIGN rule 16): the services and domains a membership, invitation or token is limited
to, and `updateMemberScope`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models.permissions import Permission
from resolvers import scope_changes as resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from resolvers.ids import decode_id
from resolvers.permissions import require_in_account
from resolvers.scopes import ScopeItems
from schema.base import UserError, authenticated, user_errors

if TYPE_CHECKING:
    from schema.accounts import Membership
    from schema.domains import Domain
    from schema.services import Service


@strawberry.type(
    description=(
        "Part of an account: chosen services and domains (e.g. the one website an agency "
        "maintains). A scoped member may hold only VIEW_SERVICES, MANAGE_SERVICES, SERVICE_SSO, "
        "VIEW_DOMAINS, MANAGE_DOMAINS and SUPPORT_TICKETS, each reaching only the services and "
        "domains in scope (SUPPORT_TICKETS: only tickets about a service in scope). Services and "
        "domains outside it are NOT_FOUND for them, exactly as another account's are."
    )
)
class MembershipScope:
    items: strawberry.Private[ScopeItems]

    @strawberry.field(description="Needs VIEW_SERVICES in their account, as a service reached any other way.")
    async def services(
        self, info: Info[Context, None]
    ) -> list[Annotated[Service, strawberry.lazy("schema.services")]]:
        from schema.services import Service

        # Whoever sees the scope (a manager, the invitee, the token's user) sees its services only
        # as far as they may see services at all (DESIGN rule 8).
        for account_id in {row.account_id for row in self.items.services}:
            await require_in_account(info.context, account_id, Permission.VIEW_SERVICES)
        return [Service.of(row) for row in self.items.services]

    @strawberry.field(description="Needs VIEW_DOMAINS in their account, as a domain reached any other way.")
    async def domains(
        self, info: Info[Context, None]
    ) -> list[Annotated[Domain, strawberry.lazy("schema.domains")]]:
        from schema.domains import Domain

        for account_id in {row.account_id for row in self.items.domains}:
            await require_in_account(info.context, account_id, Permission.VIEW_DOMAINS)
        return [Domain.of(row) for row in self.items.domains]


def scope_of(items: ScopeItems | None) -> MembershipScope | None:
    return None if items is None else MembershipScope(items=items)


@strawberry.input(description="Services and domains of one account; both lists may be empty, but not both.")
class MembershipScopeInput:
    service_ids: list[strawberry.ID]
    domain_ids: list[strawberry.ID]


@strawberry.input
class UpdateMemberScopeInput:
    membership_id: strawberry.ID
    scope: MembershipScopeInput | None = strawberry.field(
        default=None, description="Null: the whole account."
    )


@strawberry.type
class UpdateMemberScopePayload:
    membership: Annotated[Membership, strawberry.lazy("schema.accounts")] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ScopeMutations:
    @strawberry.mutation(
        description=(
            "Limit a member to chosen services and domains, or (scope null) give them the whole "
            "account again. Needs MANAGE_USERS and a membership that is not scoped itself."
        ),
        extensions=authenticated(),
    )
    async def update_member_scope(
        self, info: Info[Context, None], input: UpdateMemberScopeInput
    ) -> UpdateMemberScopePayload:
        from schema.accounts import Membership

        membership_pk = decode_id(input.membership_id, "Membership")
        try:
            request = resolve.decode_scope(input.scope)
            row = await resolve.update_member_scope(
                info.context, membership_pk=membership_pk, request=request
            )
        except Rejected as rejected:
            return UpdateMemberScopePayload(user_errors=user_errors(rejected))
        return UpdateMemberScopePayload(membership=Membership.of(row))
