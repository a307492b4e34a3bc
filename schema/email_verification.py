"""Proving the viewer's email address: asking for a verification link, and using it."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import email_verification as resolve
from resolvers.core.context import Context
from schema.core.base import UserError
from schema.core.policy import Granted, Identity, Public, mutation
from schema.users import User


@strawberry.input
class VerifyEmailInput:
    token: str


@strawberry.type
class VerifyEmailPayload:
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RequestEmailVerificationPayload:
    ok: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EmailVerificationMutations:
    @mutation(
        Identity(),
        description=(
            "Emails the viewer a new link ({PUBLIC_URL}/email/verify?token=…) to verify their address. "
            "Rate-limited."
        ),
    )
    async def request_email_verification(
        self, info: Info[Context, None], granted: Granted
    ) -> RequestEmailVerificationPayload:
        assert granted.principal is not None
        await resolve.request_email_verification(info.context, granted.principal)
        return RequestEmailVerificationPayload(ok=True)

    @mutation(
        Public(),
        description=(
            "Verifies the address an emailed verification token was sent to (signed in or not); "
            "single use, valid 7 days."
        ),
    )
    async def verify_email(
        self, info: Info[Context, None], input: VerifyEmailInput, granted: Granted
    ) -> VerifyEmailPayload:
        row = await resolve.verify_email(info.context, token=input.token)
        return VerifyEmailPayload(user=User.of(row))
