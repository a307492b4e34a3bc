"""Domains an account pays for, and the contacts they are registered with."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import hosting as models
from models.hosting import DomainStatus
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.base import Node
from schema.contacts import Contact

if TYPE_CHECKING:
    from schema.accounts import ClientAccount


@strawberry.type(
    description=(
        "The contacts a domain is registered with. The registrant is the legal holder of the "
        "domain: it may be a contact of the account that pays for the domain (e.g. an agency's "
        "customer), so holder and payer can differ."
    )
)
class DomainContacts:
    registrant_pk: strawberry.Private[uuid.UUID]
    admin_pk: strawberry.Private[uuid.UUID]
    tech_pk: strawberry.Private[uuid.UUID]
    billing_pk: strawberry.Private[uuid.UUID]

    @staticmethod
    async def _contact(info: Info[Context, None], pk: uuid.UUID) -> Contact:
        row = await info.context.loaders.contact.load(pk)
        assert row is not None
        return Contact.of(row)

    @strawberry.field
    async def registrant(self, info: Info[Context, None]) -> Contact:
        return await self._contact(info, self.registrant_pk)

    @strawberry.field
    async def admin(self, info: Info[Context, None]) -> Contact:
        return await self._contact(info, self.admin_pk)

    @strawberry.field
    async def tech(self, info: Info[Context, None]) -> Contact:
        return await self._contact(info, self.tech_pk)

    @strawberry.field
    async def billing(self, info: Info[Context, None]) -> Contact:
        return await self._contact(info, self.billing_pk)


@strawberry.type
class Domain(Node):
    id: strawberry.ID
    name: str
    status: DomainStatus
    registered_at: date | None
    expires_at: date | None
    auto_renew: bool
    locked: bool
    nameservers: list[str]
    contacts: DomainContacts
    account_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.Domain) -> Domain:
        return cls(
            id=strawberry.ID(encode_id("Domain", row.id)),
            name=row.name,
            status=row.status,
            registered_at=row.registered_at,
            expires_at=row.expires_at,
            auto_renew=row.auto_renew,
            locked=row.locked,
            nameservers=list(row.nameservers),
            contacts=DomainContacts(
                registrant_pk=row.registrant_contact_id,
                admin_pk=row.admin_contact_id,
                tech_pk=row.tech_contact_id,
                billing_pk=row.billing_contact_id,
            ),
            account_pk=row.account_id,
        )

    @strawberry.field
    async def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts")]:
        from schema.accounts import ClientAccount

        row = await info.context.loaders.account.load(self.account_pk)
        assert row is not None
        return ClientAccount.of(row)
