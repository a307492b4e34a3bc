"""The viewer, signing up and in, and API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import identity as models
from models.permissions import Permission, from_mask, ordered
from resolvers import email_verification
from resolvers.accounts import accounts as accounts_resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.principal import Principal
from resolvers.identity import api_tokens
from resolvers.identity import identity as resolve
from resolvers.scopes import ScopeRequest
from schema.accounts.accounts import ClientAccount
from schema.accounts.connections import ClientAccountConnection
from schema.accounts.mutations import BillingProfileInput
from schema.core.base import Connection, Node, UserError
from schema.core.ids import decode_id
from schema.core.lookahead import selected
from schema.core.policy import Granted, Identity, Public, SignedIn, mutation
from schema.scopes import MembershipScope, MembershipScopeInput, decode_scope
from schema.users import User

if TYPE_CHECKING:
    from schema.billing import Invoice, InvoiceFilter
    from schema.hosting.domains import Domain, DomainFilter
    from schema.hosting.services import Service, ServiceFilter
    from schema.invitations import Invitation


@strawberry.type
class ApiToken(Node):
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The first characters of the token, to recognise it.")
    permissions: list[Permission] | None = strawberry.field(
        description="Null: all of the user's permissions. Never more than the user holds in an account."
    )
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    pk: strawberry.Private[uuid.UUID]
    all_accounts: strawberry.Private[bool]
    scoped: strawberry.Private[bool]

    @classmethod
    def of(cls, row: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(encode_id("ApiToken", row.id)),
            name=row.name,
            prefix=row.prefix,
            permissions=None if row.permissions is None else ordered(from_mask(row.permissions)),
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            pk=row.id,
            all_accounts=row.all_accounts,
            scoped=row.scoped,
        )

    @strawberry.field(
        description=(
            "Null: no restriction to services and domains. Otherwise the token reaches only these "
            "(and never beyond its user's own scope)."
        )
    )
    async def scope(self, info: Info[Context, None]) -> MembershipScope | None:
        if not self.scoped:
            return None
        return MembershipScope(items=await info.context.loaders.scopes.api_token.load(self.pk))

    @strawberry.field(description="Null: every account the user is a member of, now and later.")
    async def accounts(self, info: Info[Context, None]) -> list[ClientAccount] | None:
        if self.all_accounts:
            return None
        account_ids = await info.context.loaders.token_accounts.load(self.pk)
        rows = [await accounts_resolve.account_for_viewer(info.context, a) for a in account_ids]
        return [ClientAccount.of(row) for row in rows if row is not None]


@strawberry.type(description="The signed-in user and what they reach across all their client accounts.")
class Viewer:
    principal: strawberry.Private[Principal]

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> User:
        user = await info.context.loaders.user.load(self.principal.user_id)
        assert user is not None
        return User.of(user)

    @strawberry.field(
        description=(
            "Every client account this user is a member of (for an API token: those it is "
            "restricted to), with role and permissions on the edge."
        )
    )
    async def accounts(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> ClientAccountConnection:
        owners = "owner" in selected(info, "edges", "node")
        page = await accounts_resolve.viewer_accounts(
            info.context, first=first, after=after, search=search, owners=owners
        )
        return await ClientAccountConnection.of(info, page)

    @strawberry.field(
        description=(
            "Pending invitations addressed to the viewer's email. Empty until that email is verified, "
            "and for a restricted API token."
        )
    )
    async def pending_invitations(
        self, info: Info[Context, None]
    ) -> list[Annotated[Invitation, strawberry.lazy("schema.invitations")]]:
        from resolvers.invitations.invitations import pending_for_viewer
        from schema.invitations import Invitation

        return [Invitation.of(row) for row in await pending_for_viewer(info.context)]

    @strawberry.field(description="Services across all accounts where the viewer holds VIEW_SERVICES.")
    async def services(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[ServiceFilter, strawberry.lazy("schema.hosting.services")] | None = None,
    ) -> Connection[Annotated[Service, strawberry.lazy("schema.hosting.services")]]:
        from schema.hosting.services import service_connection

        return await service_connection(info, account_id=None, first=first, after=after, filter=filter)

    @strawberry.field(description="Domains across all accounts where the viewer holds VIEW_DOMAINS.")
    async def domains(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[DomainFilter, strawberry.lazy("schema.hosting.domains")] | None = None,
    ) -> Connection[Annotated[Domain, strawberry.lazy("schema.hosting.domains")]]:
        from schema.hosting.domains import domain_connection

        return await domain_connection(info, first=first, after=after, filter=filter)

    @strawberry.field(description="Invoices across all accounts where the viewer holds VIEW_INVOICES.")
    async def invoices(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[InvoiceFilter, strawberry.lazy("schema.billing")] | None = None,
    ) -> Connection[Annotated[Invoice, strawberry.lazy("schema.billing")]]:
        from resolvers.billing.invoices import invoices
        from schema.billing import Invoice
        from schema.core.base import account_keys

        page = await invoices(
            info.context,
            account_id=None,
            first=first,
            after=after,
            account_ids=account_keys(filter.account_ids) if filter and filter.account_ids else None,
            statuses=filter.status if filter else None,
        )
        return Connection.of(page, Invoice.of)

    @strawberry.field(description="Whether signing in needs a second factor (a TOTP code) for this user.")
    async def two_factor_enabled(self, info: Info[Context, None]) -> bool:
        from resolvers.two_factor.two_factor import viewer_has_two_factor

        return await viewer_has_two_factor(info.context)

    @strawberry.field(
        description="The viewer's API tokens (never their secret). A restricted API token sees only itself."
    )
    async def api_tokens(self, info: Info[Context, None]) -> list[ApiToken]:
        return [ApiToken.of(row) for row in await api_tokens.viewer_api_tokens(info.context)]

    @strawberry.field(
        description=(
            "Whether the viewer has proven that they receive mail at their address, by using a link\n"
            "sent to it: the verification link sent at sign-up (or by requestEmailVerification), an\n"
            "invitation link, or a password-reset link."
        )
    )
    async def email_verified(self, info: Info[Context, None]) -> bool:
        return await email_verification.email_verified(info.context)


@strawberry.input
class SignUpInput:
    email: str
    name: str
    password: str
    account_name: str
    billing_profile: BillingProfileInput
    referral_code: str | None = strawberry.field(
        default=None,
        description="An affiliate's referral code; the new account counts as referred by it.",
    )


@strawberry.type
class SignUpPayload:
    user: User | None = None
    account: ClientAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.type
class SignInPayload:
    user: User | None = None
    two_factor_challenge: str | None = strawberry.field(
        default=None,
        description=(
            "Set when the password was right and the user has two-factor sign-in: no session has started "
            "yet; pass it to completeSignIn with a code within 5 minutes."
        ),
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignOutPayload:
    ok: bool


@strawberry.input
class CreateApiTokenInput:
    name: str
    account_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Restrict the token to these accounts; omit for all."
    )
    permissions: list[Permission] | None = strawberry.field(
        default=None,
        description="Restrict the token to these permissions; omit for all the user holds.",
    )
    scope: MembershipScopeInput | None = strawberry.field(
        default=None,
        description=(
            "Restrict the token to these services and domains (of the token's accounts); omit for "
            "no such restriction."
        ),
    )
    expires_at: datetime | None = None


@strawberry.type
class CreateApiTokenPayload:
    token: str | None = strawberry.field(default=None, description="The secret, shown once.")
    api_token: ApiToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeApiTokenInput:
    api_token_id: strawberry.ID


@strawberry.type
class RevokeApiTokenPayload:
    api_token: ApiToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class IdentityQueries:
    @strawberry.field(description="The signed-in user (cookie session or API token); null when anonymous.")
    def viewer(self, info: Info[Context, None]) -> Viewer | None:
        principal = info.context.principal
        return Viewer(principal=principal) if principal else None


@dataclass(frozen=True)
class _TokenRequest:
    account_ids: list[uuid.UUID | None] | None
    scope: ScopeRequest | None


def _token_request(input: CreateApiTokenInput) -> _TokenRequest:
    account_ids = None
    if input.account_ids is not None:
        account_ids = [decode_id(global_id, "ClientAccount") for global_id in input.account_ids]
    return _TokenRequest(account_ids, decode_scope(input.scope))


def _api_token_id(input: RevokeApiTokenInput) -> uuid.UUID | None:
    return decode_id(input.api_token_id, "ApiToken")


@strawberry.type
class IdentityMutations:
    @mutation(
        Public(),
        description=(
            "Register a new user who owns a new client account, and start a session; emails a link to "
            "verify the address. Fails with EMAIL_ALREADY_REGISTERED for an email any user already has."
        ),
    )
    async def sign_up(self, info: Info[Context, None], input: SignUpInput, granted: Granted) -> SignUpPayload:
        user, account = await resolve.sign_up(
            info.context,
            email=input.email,
            name=input.name,
            password=input.password,
            account_name=input.account_name,
            billing=input.billing_profile,
            referral_code=input.referral_code,
        )
        return SignUpPayload(user=User.of(user), account=ClientAccount.of(account))

    @mutation(
        Public(),
        description=(
            "Start a cookie session; for a user with two-factor sign-in, return a twoFactorChallenge "
            "for completeSignIn instead."
        ),
    )
    async def sign_in(self, info: Info[Context, None], input: SignInInput, granted: Granted) -> SignInPayload:
        signed_in = await resolve.sign_in(info.context, email=input.email, password=input.password)
        if signed_in.challenge is not None:
            return SignInPayload(two_factor_challenge=signed_in.challenge)
        return SignInPayload(user=User.of(signed_in.user))

    @mutation(SignedIn())
    async def sign_out(self, info: Info[Context, None], granted: Granted) -> SignOutPayload:
        assert granted.principal is not None
        await resolve.sign_out(info.context, granted.principal)
        return SignOutPayload(ok=True)

    # A restricted token touches no token but itself; an unproven address mints none (rules 13, 14).
    @mutation(
        Identity(verified=True),
        description=(
            "A token for partner integrations, sent as 'Authorization: Bearer <token>'. "
            "Its secret is returned once."
        ),
        prepare=_token_request,
    )
    async def create_api_token(
        self, info: Info[Context, None], input: CreateApiTokenInput, granted: Granted
    ) -> CreateApiTokenPayload:
        assert granted.principal is not None
        request: _TokenRequest = granted.prepared
        minted = await api_tokens.create_api_token(
            info.context,
            granted.principal,
            name=input.name,
            account_ids=request.account_ids,
            permissions=input.permissions,
            expires_at=input.expires_at,
            scope=request.scope,
        )
        return CreateApiTokenPayload(token=minted.secret, api_token=ApiToken.of(minted.token))

    # Any signed-in viewer may revoke their own tokens; a restricted token only itself (the
    # resolver checks that, whatever the target: DESIGN rule 14).
    @mutation(SignedIn(), prepare=_api_token_id)
    async def revoke_api_token(
        self, info: Info[Context, None], input: RevokeApiTokenInput, granted: Granted
    ) -> RevokeApiTokenPayload:
        assert granted.principal is not None
        row = await api_tokens.revoke_api_token(info.context, granted.principal, token_id=granted.prepared)
        return RevokeApiTokenPayload(api_token=ApiToken.of(row))
