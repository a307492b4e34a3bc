"""Control-panel sign-on: a short-lived link into a service's panel."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from resolvers import sso as resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from resolvers.ids import decode_id
from schema.base import UserError, authenticated, user_errors


@strawberry.input
class CreateServiceLoginLinkInput:
    service_id: strawberry.ID


@strawberry.type
class CreateServiceLoginLinkPayload:
    url: str | None = None
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SsoMutations:
    @strawberry.mutation(
        description=(
            "A short-lived link that signs the viewer into the service's control panel. Needs SERVICE_SSO."
        ),
        extensions=authenticated(),
    )
    async def create_service_login_link(
        self, info: Info[Context, None], input: CreateServiceLoginLinkInput
    ) -> CreateServiceLoginLinkPayload:
        try:
            link = await resolve.create_service_login_link(
                info.context, service_id=decode_id(input.service_id, "Service")
            )
        except Rejected as rejected:
            return CreateServiceLoginLinkPayload(user_errors=user_errors(rejected))
        return CreateServiceLoginLinkPayload(url=link.url, expires_at=link.expires_at)
