"""Contacts of an account: the people and companies named on its domains."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import contacts as models
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.base import Address, AddressInput, Node

if TYPE_CHECKING:
    from schema.accounts import ClientAccount


@strawberry.type
class Contact(Node):
    id: strawberry.ID
    first_name: str
    last_name: str
    company_name: str | None
    email: str
    phone: str
    address: Address
    created_at: datetime
    updated_at: datetime
    account_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.Contact) -> Contact:
        return cls(
            id=strawberry.ID(encode_id("Contact", row.id)),
            first_name=row.first_name,
            last_name=row.last_name,
            company_name=row.company_name,
            email=row.email,
            phone=row.phone,
            address=Address(
                line1=row.line1,
                line2=row.line2,
                city=row.city,
                state=row.state,
                postal_code=row.postal_code,
                country_code=row.country_code,
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
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


@strawberry.input
class ContactInput:
    first_name: str
    last_name: str
    company_name: str | None = None
    email: str
    phone: str = strawberry.field(description="E.164 (+43123456) or its EPP form (+43.123456).")
    address: AddressInput
