"""Changing members' permissions, removing members and moving ownership."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from models.permissions import Permission
from resolvers import members as resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from resolvers.ids import decode_id, encode_id
from schema.accounts import ClientAccount, Membership
from schema.base import UserError, authenticated, user_errors


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


@strawberry.type
class MemberMutations:
    @strawberry.mutation(extensions=authenticated())
    async def update_member_permissions(
        self, info: Info[Context, None], input: UpdateMemberPermissionsInput
    ) -> UpdateMemberPermissionsPayload:
        decode_id(input.membership_id, "Membership")
        try:
            row = await resolve.update_member_permissions(
                info.context, membership_id=input.membership_id, permissions=input.permissions
            )
        except Rejected as rejected:
            return UpdateMemberPermissionsPayload(user_errors=user_errors(rejected))
        return UpdateMemberPermissionsPayload(membership=Membership.of(row))

    @strawberry.mutation(extensions=authenticated())
    async def remove_member(self, info: Info[Context, None], input: RemoveMemberInput) -> RemoveMemberPayload:
        decode_id(input.membership_id, "Membership")
        try:
            removed = await resolve.remove_member(info.context, membership_id=input.membership_id)
        except Rejected as rejected:
            return RemoveMemberPayload(user_errors=user_errors(rejected))
        return RemoveMemberPayload(removed_membership_id=strawberry.ID(encode_id("Membership", removed)))

    @strawberry.mutation(extensions=authenticated())
    async def transfer_account_ownership(
        self, info: Info[Context, None], input: TransferAccountOwnershipInput
    ) -> TransferAccountOwnershipPayload:
        decode_id(input.membership_id, "Membership")
        try:
            account_id = await resolve.transfer_ownership(info.context, membership_id=input.membership_id)
        except Rejected as rejected:
            return TransferAccountOwnershipPayload(user_errors=user_errors(rejected))
        row = await info.context.loaders.account.load(account_id)
        assert row is not None
        return TransferAccountOwnershipPayload(account=ClientAccount.of(row))
