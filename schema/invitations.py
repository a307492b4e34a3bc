"""Invitations to join an account, their preview by token, and accepting them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import invitations as models
from models.permissions import Permission, ordered
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.policies import INVITATION
from resolvers.invitations import accept as invitation_accept
from resolvers.invitations import invitations as resolve
from resolvers.invitations.invitations import InvitationStatus
from resolvers.scopes import ScopeRequest
from schema.core.base import Node, UserError, shape
from schema.core.ids import decode_id
from schema.core.policy import Granted, Identity, OnObject, Public, mutation, on_account
from schema.scopes import MembershipScope, MembershipScopeInput, decode_scope
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.accounts.accounts import ClientAccount, Membership


@strawberry.type
class Invitation(Node):
    id: strawberry.ID
    email: str
    permissions: list[Permission]
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime
    account_pk: strawberry.Private[uuid.UUID]
    invited_by_pk: strawberry.Private[uuid.UUID]
    accepted_by_pk: strawberry.Private[uuid.UUID | None]
    pk: strawberry.Private[uuid.UUID]
    scoped: strawberry.Private[bool]

    @classmethod
    def of(cls, row: models.Invitation) -> Invitation:
        return cls(
            id=strawberry.ID(encode_id("Invitation", row.id)),
            email=row.email,
            permissions=ordered(resolve.granted_permissions(row)),
            status=resolve.status_of(row),
            created_at=row.created_at,
            expires_at=row.expires_at,
            account_pk=row.account_id,
            invited_by_pk=row.invited_by_id,
            accepted_by_pk=row.accepted_by_id,
            pk=row.id,
            scoped=row.scoped,
        )

    @strawberry.field(
        description="Null: the whole account. Otherwise the membership it creates is limited to these."
    )
    async def scope(self, info: Info[Context, None]) -> MembershipScope | None:
        if not self.scoped:
            return None
        items = await info.context.loaders.scopes.invitation.load(self.pk)
        return MembershipScope(items=items.within(self.account_pk))

    @strawberry.field(description="Null for a viewer who is not a member of the account (yet).")
    async def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts.accounts")] | None:
        if await info.context.access(self.account_pk) is None:
            return None
        row = await info.context.loaders.account.load(self.account_pk)
        account: ClientAccount | None = shape("ClientAccount")(row) if row else None
        return account

    @strawberry.field
    async def account_name(self, info: Info[Context, None]) -> str:
        row = await info.context.loaders.account.load(self.account_pk)
        return row.name if row else ""

    @strawberry.field(description=history_field("Who sent the invitation."))
    async def invited_by(self, info: Info[Context, None]) -> User:
        user = await in_history(info, self.invited_by_pk)
        assert user is not None
        return user

    @strawberry.field(description=history_field("Who accepted it, once accepted."))
    async def accepted_by(self, info: Info[Context, None]) -> User | None:
        return await in_history(info, self.accepted_by_pk)


@strawberry.type(description="What the person holding an invitation link may see before accepting it.")
class InvitationPreview:
    account_name: str
    inviter_name: str
    email: str
    permissions: list[Permission]
    status: InvitationStatus
    expires_at: datetime
    email_registered: bool = strawberry.field(
        description=(
            "Whether a user with this email already exists (then: sign in and accept; else: sign "
            "up with the invitation)."
        )
    )
    scope_names: list[str] | None = strawberry.field(
        default=None,
        description=(
            "Null: the whole account. Otherwise the labels of the services and the names of the "
            "domains the invitation is limited to."
        ),
    )


@strawberry.input
class InviteUserInput:
    account_id: strawberry.ID
    email: str
    permissions: list[Permission]
    scope: MembershipScopeInput | None = strawberry.field(
        default=None,
        description=(
            "Limit the membership to these services and domains of the account; omit for the whole account."
        ),
    )


@strawberry.type
class InviteUserPayload:
    invitation: Invitation | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeInvitationInput:
    invitation_id: strawberry.ID


@strawberry.type
class RevokeInvitationPayload:
    invitation: Invitation | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description=(
        "Exactly one of token (from the emailed link) or invitationId (from Viewer.pendingInvitations)."
    )
)
class AcceptInvitationInput:
    token: str | None = None
    invitation_id: strawberry.ID | None = None


@strawberry.type
class AcceptInvitationPayload:
    membership: Annotated[Membership, strawberry.lazy("schema.accounts.accounts")] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SignUpWithInvitationInput:
    token: str
    name: str
    password: str


@strawberry.type
class SignUpWithInvitationPayload:
    user: User | None = None
    membership: Annotated[Membership, strawberry.lazy("schema.accounts.accounts")] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InvitationQueries:
    @strawberry.field(
        description="What an invitation link shows before it is accepted; null for an unknown token."
    )
    async def invitation(self, info: Info[Context, None], token: str) -> InvitationPreview | None:
        found = await invitation_accept.preview(info.context, token=token)
        if found is None:
            return None
        return InvitationPreview(
            account_name=found.account_name,
            inviter_name=found.inviter_name,
            email=found.invitation.email,
            permissions=ordered(resolve.granted_permissions(found.invitation)),
            status=resolve.status_of(found.invitation),
            expires_at=found.invitation.expires_at,
            email_registered=found.email_registered,
            scope_names=found.scope_names,
        )


def _invited_scope(input: InviteUserInput) -> ScopeRequest | None:
    decode_id(input.account_id, "ClientAccount")  # the account's ID first, as it comes first
    return decode_scope(input.scope)


def _invitation_id(input: AcceptInvitationInput) -> uuid.UUID | None:
    return None if input.invitation_id is None else decode_id(input.invitation_id, "Invitation")


@strawberry.type
class InvitationMutations:
    @mutation(
        on_account("account_id", INVITATION.change),
        description="Email an invitation link to join the account with the given permissions.",
        prepare=_invited_scope,
    )
    async def invite_user(
        self, info: Info[Context, None], input: InviteUserInput, granted: Granted
    ) -> InviteUserPayload:
        assert granted.principal is not None
        assert granted.access is not None
        row = await resolve.invite_user(
            info.context,
            granted.principal,
            granted.access,
            email=input.email,
            permissions=input.permissions,
            scope=granted.prepared,
        )
        return InviteUserPayload(invitation=Invitation.of(row))

    @mutation(OnObject("invitation_id", INVITATION))
    async def revoke_invitation(
        self, info: Info[Context, None], input: RevokeInvitationInput, granted: Granted
    ) -> RevokeInvitationPayload:
        row = await resolve.revoke_invitation(info.context, granted.target)
        return RevokeInvitationPayload(invitation=Invitation.of(row))

    # Joining another account is beyond any restricted token (DESIGN rule 14); by invitationId it
    # also needs a proven address, which the resolver checks after the shape of the input.
    @mutation(
        Identity(),
        description=(
            "Accept as the signed-in user, whose email must be the invited one. With the emailed token "
            "(which also verifies the email), or by invitationId once the email is verified (else "
            "EMAIL_NOT_VERIFIED). The membership gets the invited permissions, capped at what the "
            "inviter still holds in the account."
        ),
        prepare=_invitation_id,
    )
    async def accept_invitation(
        self, info: Info[Context, None], input: AcceptInvitationInput, granted: Granted
    ) -> AcceptInvitationPayload:
        assert granted.principal is not None
        row = await invitation_accept.accept_invitation(
            info.context,
            granted.principal,
            token=input.token,
            by_id=input.invitation_id is not None,
            invitation_id=granted.prepared,
        )
        return AcceptInvitationPayload(membership=shape("Membership")(row))

    @mutation(
        Public(),
        description="Register the invited email as a new user and accept in one step; starts a session.",
    )
    async def sign_up_with_invitation(
        self, info: Info[Context, None], input: SignUpWithInvitationInput, granted: Granted
    ) -> SignUpWithInvitationPayload:
        done = await invitation_accept.sign_up_with_invitation(
            info.context, token=input.token, name=input.name, password=input.password
        )
        return SignUpWithInvitationPayload(
            user=User.of(done.user), membership=shape("Membership")(done.membership)
        )
