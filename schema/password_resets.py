"""Password resets: asking for a link, and setting a new password with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from resolvers.core.context import Context
from resolvers.identity import identity as resolve
from resolvers.password_resets import requests as reset_requests
from schema.core.base import UserError
from schema.core.policy import Granted, Public, mutation
from schema.users import User

if TYPE_CHECKING:
    pass


@strawberry.input
class RequestPasswordResetInput:
    email: str


@strawberry.type
class RequestPasswordResetPayload:
    ok: bool = False
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Only input or rate-limit problems; never whether the email exists.",
    )


@strawberry.input
class ResetPasswordInput:
    token: str
    password: str


@strawberry.type
class ResetPasswordPayload:
    user: User | None = None
    two_factor_challenge: str | None = strawberry.field(
        default=None,
        description="Set instead of a session for a user with two-factor sign-in (see SignInPayload).",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PasswordResetMutations:
    @mutation(
        Public(),
        description=(
            "Answers the same whether or not the email exists; emails a link with a reset token when it does."
        ),
    )
    async def request_password_reset(
        self, info: Info[Context, None], input: RequestPasswordResetInput, granted: Granted
    ) -> RequestPasswordResetPayload:
        await reset_requests.request_password_reset(info.context, email=input.email)
        return RequestPasswordResetPayload(ok=True)

    @mutation(
        Public(),
        description=(
            "Sets a new password from an emailed token (also how an owner registered on their behalf "
            "sets their first password). It verifies the email address and ends every session and every "
            "API token of the user; then it starts a session, or, for a user with two-factor sign-in, "
            "returns a twoFactorChallenge instead."
        ),
    )
    async def reset_password(
        self, info: Info[Context, None], input: ResetPasswordInput, granted: Granted
    ) -> ResetPasswordPayload:
        signed_in = await resolve.reset_password(info.context, token=input.token, password=input.password)
        if signed_in.challenge is not None:
            return ResetPasswordPayload(two_factor_challenge=signed_in.challenge)
        return ResetPasswordPayload(user=User.of(signed_in.user))
