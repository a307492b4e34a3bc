"""Proving the viewer's email address: asking for a verification link, and using it."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import email_verification as resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from schema.base import UserError, authenticated, user_errors
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
    @strawberry.mutation(
        description=(
            "Emails the viewer a new link ({PUBLIC_URL}/email/verify?token=…) to verify their address. "
            "Rate-limited."
        ),
        extensions=authenticated(),
    )
    async def request_email_verification(self, info: Info[Context, None]) -> RequestEmailVerificationPayload:
        try:
            await resolve.request_email_verification(info.context)
        except Rejected as rejected:
            return RequestEmailVerificationPayload(user_errors=user_errors(rejected))
        return RequestEmailVerificationPayload(ok=True)

    @strawberry.mutation(
        description=(
            "Verifies the address an emailed verification token was sent to (signed in or not); "
            "single use, valid 7 days."
        )
    )
    async def verify_email(self, info: Info[Context, None], input: VerifyEmailInput) -> VerifyEmailPayload:
        try:
            row = await resolve.verify_email(info.context, token=input.token)
        except Rejected as rejected:
            return VerifyEmailPayload(user_errors=user_errors(rejected))
        return VerifyEmailPayload(user=User.of(row))
