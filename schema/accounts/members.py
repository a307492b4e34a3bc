"""Changing members' permissions, removing members and moving ownership."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from models.permissions import Permission
from resolvers.accounts import members as resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.policies import MEMBERSHIP
from schema.accounts.accounts import ClientAccount, Membership
from schema.core.base import UserError
from schema.core.ids import decode_id
from schema.core.policy import Granted, OnObject, SignedIn, mutation


@strawberry.input
class UpdateMemberPermissionsInput:
    membership_id: strawberry.ID
    permissions: list[Permission]


@strawberry.type
class UpdateMemberPermissionsPayload:
    membership: Membership | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RemoveMemberInput:
    membership_id: strawberry.ID


@strawberry.type
class RemoveMemberPayload:
    removed_membership_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class TransferAccountOwnershipInput:
    membership_id: strawberry.ID = strawberry.field(
        description=(
            "The membership of the member who becomes owner; the old owner stays a USER with "
            "every permission."
        )
    )


@strawberry.type
class TransferAccountOwnershipPayload:
    account: ClientAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _membership_id(input: RemoveMemberInput | TransferAccountOwnershipInput) -> uuid.UUID | None:
    return decode_id(input.membership_id, "Membership")


@strawberry.type
class MemberMutations:
    @mutation(OnObject("membership_id", MEMBERSHIP))
    async def update_member_permissions(
        self, info: Info[Context, None], input: UpdateMemberPermissionsInput, granted: Granted
    ) -> UpdateMemberPermissionsPayload:
        assert granted.access is not None
        row = await resolve.update_member_permissions(
            info.context, granted.target, granted.access, permissions=input.permissions
        )
        return UpdateMemberPermissionsPayload(membership=Membership.of(row))

    # Leaving (any member, not through a restricted token) and removing (MANAGE_USERS) are one
    # mutation whose checks depend on the target: the resolver makes them.
    @mutation(SignedIn(), prepare=_membership_id)
    async def remove_member(
        self, info: Info[Context, None], input: RemoveMemberInput, granted: Granted
    ) -> RemoveMemberPayload:
        assert granted.principal is not None
        removed = await resolve.remove_member(info.context, granted.principal, membership_id=granted.prepared)
        return RemoveMemberPayload(removed_membership_id=strawberry.ID(encode_id("Membership", removed)))

    # Only the owner transfers (DESIGN rule 4), a rule of role, not of permissions: the resolver
    # checks it before MEMBERSHIP's `change`.
    @mutation(SignedIn(), prepare=_membership_id)
    async def transfer_account_ownership(
        self, info: Info[Context, None], input: TransferAccountOwnershipInput, granted: Granted
    ) -> TransferAccountOwnershipPayload:
        account_id = await resolve.transfer_ownership(info.context, membership_id=granted.prepared)
        row = await info.context.loaders.account.load(account_id)
        assert row is not None
        return TransferAccountOwnershipPayload(account=ClientAccount.of(row))
