"""Scopes (DESIGN rule 16): the services and domains a membership, invitation or token is limited
to, and `updateMemberScope`."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.permission import PermissionExtension
from strawberry.types import Info

from resolvers import scopes as resolve
from resolvers.core.context import Context
from resolvers.core.errors import Problem, Rejected, UserErrorCode
from resolvers.core.permissions import InAccount
from resolvers.core.policies import DOMAIN, MEMBERSHIP, SERVICE, Needs
from resolvers.scopes import MAX_SCOPE_ITEMS, SCOPE_PATH, ScopeItems, ScopeRequest
from schema.core.base import UserError, shape
from schema.core.ids import decode_id
from schema.core.policy import Granted, OnObject, mutation

if TYPE_CHECKING:
    from schema.accounts.accounts import Membership
    from schema.hosting.domains import Domain
    from schema.hosting.services import Service


class _InEachAccount(InAccount):
    """`InAccount` for a list whose objects may belong to several accounts (a token's scope):
    `needs` must be met in each of them."""

    async def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        for account_id in getattr(source, self.account_of):
            access = await info.context.access(account_id)
            if access is None or not self.needs.met_by(access.permissions):
                return False
        return True


def _in_their_accounts(needs: Needs, accounts_of: str, kind: str) -> dict[str, Any]:
    """`strawberry.field` arguments: gated by `needs` in every account of `accounts_of`."""
    stated = replace(needs, when=f"in their account, as {kind} reached any other way")
    check = _InEachAccount(stated, account_of=accounts_of)
    return {
        "description": stated.text,
        "extensions": [PermissionExtension(permissions=[check], use_directives=False)],
    }


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

    # Whoever sees the scope (a manager, the invitee, the token's user) sees its services and
    # domains only as far as they may see those at all, in each account they belong to (rule 8).
    @strawberry.field(**_in_their_accounts(SERVICE.view, "service_accounts", "a service"))
    def services(self) -> list[Annotated[Service, strawberry.lazy("schema.hosting.services")]]:
        from schema.hosting.services import Service

        return [Service.of(row) for row in self.items.services]

    @strawberry.field(**_in_their_accounts(DOMAIN.view, "domain_accounts", "a domain"))
    def domains(self) -> list[Annotated[Domain, strawberry.lazy("schema.hosting.domains")]]:
        from schema.hosting.domains import Domain

        return [Domain.of(row) for row in self.items.domains]

    @property
    def service_accounts(self) -> set[uuid.UUID]:
        return {row.account_id for row in self.items.services}

    @property
    def domain_accounts(self) -> set[uuid.UUID]:
        return {row.account_id for row in self.items.domains}


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
    membership: Annotated[Membership, strawberry.lazy("schema.accounts.accounts")] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def decode_scope(scope: MembershipScopeInput | None) -> ScopeRequest | None:
    """Decodes before anything runs: a malformed ID is BAD_USER_INPUT (DESIGN rule 11)."""
    if scope is None:
        return None
    too_many = [
        Problem(f"At most {MAX_SCOPE_ITEMS} items.", UserErrorCode.INVALID, (*SCOPE_PATH, field))
        for field, given in (("serviceIds", scope.service_ids), ("domainIds", scope.domain_ids))
        if len(given) > MAX_SCOPE_ITEMS
    ]
    if too_many:
        raise Rejected(too_many)
    return ScopeRequest(
        service_ids=[decode_id(gid, "Service") for gid in scope.service_ids],
        domain_ids=[decode_id(gid, "Domain") for gid in scope.domain_ids],
    )


def _scope_of_member(input: UpdateMemberScopeInput) -> ScopeRequest | None:
    decode_id(input.membership_id, "Membership")  # the membership's ID first, as it comes first
    return decode_scope(input.scope)


@strawberry.type
class ScopeMutations:
    @mutation(
        OnObject("membership_id", MEMBERSHIP, needs=MEMBERSHIP.action("scope")),
        description=(
            "Limit a member to chosen services and domains, or (scope null) give them the whole "
            "account again."
        ),
        prepare=_scope_of_member,
    )
    async def update_member_scope(
        self, info: Info[Context, None], input: UpdateMemberScopeInput, granted: Granted
    ) -> UpdateMemberScopePayload:
        assert granted.access is not None
        row = await resolve.update_member_scope(
            info.context, granted.target, granted.access, request=granted.prepared
        )
        return UpdateMemberScopePayload(membership=shape("Membership")(row))
