"""Contacts of an account: the people and companies named on its domains; creating, changing, deleting."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from models import contacts as models
from resolvers import contacts as resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.policies import CONTACT
from schema.core.base import Address, AddressInput, Node, UserError, account_field
from schema.core.policy import Granted, OnObject, mutation, on_account

if TYPE_CHECKING:
    pass


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

    account = account_field()


@strawberry.input
class ContactInput:
    first_name: str
    last_name: str
    company_name: str | None = None
    email: str
    phone: str = strawberry.field(description="E.164 (+43123456) or its EPP form (+43.123456).")
    address: AddressInput


@strawberry.input
class CreateContactInput:
    account_id: strawberry.ID
    contact: ContactInput


@strawberry.type
class CreateContactPayload:
    contact: Contact | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateContactInput:
    contact_id: strawberry.ID
    contact: ContactInput


@strawberry.type
class UpdateContactPayload:
    contact: Contact | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteContactInput:
    contact_id: strawberry.ID


@strawberry.type
class DeleteContactPayload:
    deleted_contact_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ContactMutations:
    @mutation(on_account("account_id", CONTACT.change))
    async def create_contact(
        self, info: Info[Context, None], input: CreateContactInput, granted: Granted
    ) -> CreateContactPayload:
        assert granted.key is not None
        row = await resolve.create_contact(info.context, account_id=granted.key, contact=input.contact)
        return CreateContactPayload(contact=Contact.of(row))

    @mutation(OnObject("contact_id", CONTACT))
    async def update_contact(
        self, info: Info[Context, None], input: UpdateContactInput, granted: Granted
    ) -> UpdateContactPayload:
        row = await resolve.update_contact(info.context, granted.target, contact=input.contact)
        return UpdateContactPayload(contact=Contact.of(row))

    @mutation(
        OnObject("contact_id", CONTACT),
        description="Fails with CONTACT_IN_USE while a domain uses the contact.",
    )
    async def delete_contact(
        self, info: Info[Context, None], input: DeleteContactInput, granted: Granted
    ) -> DeleteContactPayload:
        deleted = await resolve.delete_contact(info.context, granted.target)
        return DeleteContactPayload(deleted_contact_id=strawberry.ID(encode_id("Contact", deleted)))
