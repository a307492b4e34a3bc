"""Control-panel sign-on: a short-lived link into a service's panel."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from resolvers import sso as resolve
from resolvers.core.context import Context
from resolvers.core.policies import SERVICE
from schema.core.base import UserError
from schema.core.policy import Granted, OnObject, mutation


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
    @mutation(
        OnObject("service_id", SERVICE, SERVICE.action("signIn")),
        description="A short-lived link that signs the viewer into the service's control panel.",
    )
    async def create_service_login_link(
        self, info: Info[Context, None], input: CreateServiceLoginLinkInput, granted: Granted
    ) -> CreateServiceLoginLinkPayload:
        link = await resolve.create_service_login_link(info.context, service_id=granted.target.id)
        return CreateServiceLoginLinkPayload(url=link.url, expires_at=link.expires_at)
