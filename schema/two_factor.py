"""Two-factor sign-in: the second sign-in step, turning it on and off, and requiring it in an account."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import account_security
from resolvers import two_factor_setup as resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from resolvers.ids import decode_id
from schema.accounts import ClientAccount
from schema.base import UserError, authenticated, user_errors
from schema.identity import SignInPayload
from schema.users import User


@strawberry.input
class CompleteSignInInput:
    two_factor_challenge: str
    code: str = strawberry.field(
        description="A current 6-digit TOTP code, or one of the unused recovery codes."
    )


@strawberry.input
class BeginTwoFactorSetupInput:
    password: str


@strawberry.type
class BeginTwoFactorSetupPayload:
    secret: str | None = strawberry.field(default=None, description="Base32 TOTP secret.")
    otpauth_uri: str | None = strawberry.field(
        default=None, description="otpauth://totp/… URI, for a QR code."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ConfirmTwoFactorInput:
    code: str


@strawberry.type
class ConfirmTwoFactorPayload:
    recovery_codes: list[str] | None = strawberry.field(default=None, description="Shown once.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DisableTwoFactorInput:
    password: str
    code: str = strawberry.field(description="A current TOTP code or an unused recovery code.")


@strawberry.type
class DisableTwoFactorPayload:
    ok: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateAccountSecurityInput:
    account_id: strawberry.ID
    require_two_factor: bool


@strawberry.type
class UpdateAccountSecurityPayload:
    account: ClientAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TwoFactorMutations:
    @strawberry.mutation(
        description=(
            "The second step of signIn (or resetPassword) for a user with two-factor sign-in: a current "
            "TOTP code or an unused recovery code. Starts the session."
        )
    )
    async def complete_sign_in(self, info: Info[Context, None], input: CompleteSignInInput) -> SignInPayload:
        try:
            user = await resolve.complete_sign_in(
                info.context, challenge=input.two_factor_challenge, code=input.code
            )
        except Rejected as rejected:
            return SignInPayload(user_errors=user_errors(rejected))
        return SignInPayload(user=User.of(user))

    @strawberry.mutation(
        description=(
            "Starts turning on two-factor sign-in (cookie session only): a new TOTP secret (RFC 6238, "
            "30 s, 6 digits). Nothing changes until confirmTwoFactor."
        ),
        extensions=authenticated(),
    )
    async def begin_two_factor_setup(
        self, info: Info[Context, None], input: BeginTwoFactorSetupInput
    ) -> BeginTwoFactorSetupPayload:
        try:
            setup = await resolve.begin_setup(info.context, password=input.password)
        except Rejected as rejected:
            return BeginTwoFactorSetupPayload(user_errors=user_errors(rejected))
        return BeginTwoFactorSetupPayload(secret=setup.secret, otpauth_uri=setup.otpauth_uri)

    @strawberry.mutation(
        description=(
            "Turns two-factor sign-in on with a current code; returns ten single-use recovery codes, "
            "shown once."
        ),
        extensions=authenticated(),
    )
    async def confirm_two_factor(
        self, info: Info[Context, None], input: ConfirmTwoFactorInput
    ) -> ConfirmTwoFactorPayload:
        try:
            codes = await resolve.confirm(info.context, code=input.code)
        except Rejected as rejected:
            return ConfirmTwoFactorPayload(user_errors=user_errors(rejected))
        return ConfirmTwoFactorPayload(recovery_codes=codes)

    @strawberry.mutation(
        description=(
            "Turns two-factor sign-in off (cookie session only); needs the password and a current code "
            "or a recovery code."
        ),
        extensions=authenticated(),
    )
    async def disable_two_factor(
        self, info: Info[Context, None], input: DisableTwoFactorInput
    ) -> DisableTwoFactorPayload:
        try:
            await resolve.disable(info.context, password=input.password, code=input.code)
        except Rejected as rejected:
            return DisableTwoFactorPayload(user_errors=user_errors(rejected))
        return DisableTwoFactorPayload(ok=True)

    @strawberry.mutation(
        description="Owner only: whether members must use two-factor sign-in to act in the account.",
        extensions=authenticated(),
    )
    async def update_account_security(
        self, info: Info[Context, None], input: UpdateAccountSecurityInput
    ) -> UpdateAccountSecurityPayload:
        try:
            row = await account_security.update_account_security(
                info.context,
                account_id=decode_id(input.account_id, "ClientAccount"),
                require_two_factor=input.require_two_factor,
            )
        except Rejected as rejected:
            return UpdateAccountSecurityPayload(user_errors=user_errors(rejected))
        return UpdateAccountSecurityPayload(account=ClientAccount.of(row))
