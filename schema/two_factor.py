"""Two-factor sign-in: the second sign-in step, turning it on and off, and requiring it in an account."""

from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from resolvers.accounts import security as account_security
from resolvers.core.context import Context
from resolvers.two_factor import setup as resolve
from schema.accounts.accounts import ClientAccount
from schema.core.base import UserError
from schema.core.ids import decode_id
from schema.core.policy import CookieSession, Granted, Public, SignedIn, mutation
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


# Password and two-factor changes need a cookie session, never a token (DESIGN rule 14).
_SESSION = CookieSession(
    "Two-factor sign-in is changed in a signed-in browser session, never with an API token."
)


def _account_id(input: UpdateAccountSecurityInput) -> uuid.UUID | None:
    return decode_id(input.account_id, "ClientAccount")


@strawberry.type
class TwoFactorMutations:
    @mutation(
        Public(),
        description=(
            "The second step of signIn (or resetPassword) for a user with two-factor sign-in: a current "
            "TOTP code or an unused recovery code. Starts the session."
        ),
    )
    async def complete_sign_in(
        self, info: Info[Context, None], input: CompleteSignInInput, granted: Granted
    ) -> SignInPayload:
        user = await resolve.complete_sign_in(
            info.context, challenge=input.two_factor_challenge, code=input.code
        )
        return SignInPayload(user=User.of(user))

    @mutation(
        _SESSION,
        description=(
            "Starts turning on two-factor sign-in (cookie session only): a new TOTP secret (RFC 6238, "
            "30 s, 6 digits). Nothing changes until confirmTwoFactor."
        ),
    )
    async def begin_two_factor_setup(
        self, info: Info[Context, None], input: BeginTwoFactorSetupInput, granted: Granted
    ) -> BeginTwoFactorSetupPayload:
        assert granted.principal is not None
        setup = await resolve.begin_setup(info.context, granted.principal, password=input.password)
        return BeginTwoFactorSetupPayload(secret=setup.secret, otpauth_uri=setup.otpauth_uri)

    @mutation(
        _SESSION,
        description=(
            "Turns two-factor sign-in on with a current code; returns ten single-use recovery codes, "
            "shown once."
        ),
    )
    async def confirm_two_factor(
        self, info: Info[Context, None], input: ConfirmTwoFactorInput, granted: Granted
    ) -> ConfirmTwoFactorPayload:
        assert granted.principal is not None
        codes = await resolve.confirm(info.context, granted.principal, code=input.code)
        return ConfirmTwoFactorPayload(recovery_codes=codes)

    @mutation(
        _SESSION,
        description=(
            "Turns two-factor sign-in off (cookie session only); needs the password and a current code "
            "or a recovery code."
        ),
    )
    async def disable_two_factor(
        self, info: Info[Context, None], input: DisableTwoFactorInput, granted: Granted
    ) -> DisableTwoFactorPayload:
        assert granted.principal is not None
        await resolve.disable(info.context, granted.principal, password=input.password, code=input.code)
        return DisableTwoFactorPayload(ok=True)

    # Owner only, in a cookie session: a rule no account permission states, so the resolver checks
    # it, after NOT_FOUND and before TWO_FACTOR_REQUIRED (the order clients see).
    @mutation(
        SignedIn(),
        description="Owner only: whether members must use two-factor sign-in to act in the account.",
        prepare=_account_id,
    )
    async def update_account_security(
        self, info: Info[Context, None], input: UpdateAccountSecurityInput, granted: Granted
    ) -> UpdateAccountSecurityPayload:
        assert granted.principal is not None
        row = await account_security.update_account_security(
            info.context,
            granted.principal,
            account_id=granted.prepared,
            require_two_factor=input.require_two_factor,
        )
        return UpdateAccountSecurityPayload(account=ClientAccount.of(row))
