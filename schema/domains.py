"""Domains an account pays for, the contacts they are registered with, and changing them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import hosting as models
from models.hosting import DomainStatus
from models.permissions import Permission
from resolvers import domains as resolve
from resolvers.context import Context
from resolvers.errors import Forbidden, Rejected
from resolvers.ids import encode_id
from resolvers.lookahead import at_hand, domains_ahead
from resolvers.pagination import Page
from schema.base import Connection, Node, UserError, authenticated, user_errors
from schema.contacts import Contact
from schema.lookahead import selected

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
    def _contact(info: Info[Context, None], pk: uuid.UUID) -> Contact:
        return at_hand(info.context.loaders.contact, pk, Contact.of)

    @strawberry.field
    def registrant(self, info: Info[Context, None]) -> Contact:
        return self._contact(info, self.registrant_pk)

    @strawberry.field
    def admin(self, info: Info[Context, None]) -> Contact:
        return self._contact(info, self.admin_pk)

    @strawberry.field
    def tech(self, info: Info[Context, None]) -> Contact:
        return self._contact(info, self.tech_pk)

    @strawberry.field
    def billing(self, info: Info[Context, None]) -> Contact:
        return self._contact(info, self.billing_pk)


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
    def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts")]:
        from schema.accounts import ClientAccount

        return at_hand(info.context.loaders.account, self.account_pk, ClientAccount.of)


async def domain_connection(info: Info[Context, None], page: Page[models.Domain]) -> Connection[Domain]:
    """A page of domains, with the accounts and contacts its selection asks for fetched ahead."""
    await domains_ahead(info.context, [row for _, row in page.edges], selected(info, "edges", "node"))
    return Connection.of(page, Domain.of)


@strawberry.input
class DomainFilter:
    account_ids: list[strawberry.ID] | None = None
    status: list[DomainStatus] | None = None
    expires_before: date | None = strawberry.field(
        default=None, description="Only domains expiring on or before this date."
    )
    search: str | None = strawberry.field(default=None, description="Substring of the domain name.")


@strawberry.input(
    description=(
        "Contacts for a domain. An omitted registrant means the account holder: the account's primary "
        "contact. Omitted admin, tech and billing fall back to the registrant."
    )
)
class DomainContactsInput:
    registrant_contact_id: strawberry.ID | None = None
    admin_contact_id: strawberry.ID | None = None
    tech_contact_id: strawberry.ID | None = None
    billing_contact_id: strawberry.ID | None = None


@strawberry.input
class UpdateDomainContactsInput:
    domain_id: strawberry.ID
    contacts: DomainContactsInput


@strawberry.input
class UpdateDomainNameserversInput:
    domain_id: strawberry.ID
    nameservers: list[str] = strawberry.field(description="2 to 13 hostnames.")


@strawberry.input
class UpdateDomainSettingsInput:
    domain_id: strawberry.ID
    auto_renew: bool | None = None
    locked: bool | None = None


@strawberry.type
class _DomainChangePayload:
    row: strawberry.Private[models.Domain | None] = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @strawberry.field(description="Needs VIEW_DOMAINS.")
    async def domain(self, info: Info[Context, None]) -> Domain | None:
        if self.row is None:
            return None
        # Changing a domain needs MANAGE_DOMAINS, reading it back VIEW_DOMAINS (DESIGN rule 8).
        access = await info.context.access(self.row.account_id)
        if access is None or not access.allows(Permission.VIEW_DOMAINS):
            raise Forbidden([Permission.VIEW_DOMAINS])
        return Domain.of(self.row)


@strawberry.type
class UpdateDomainContactsPayload(_DomainChangePayload):
    pass


@strawberry.type
class UpdateDomainNameserversPayload(_DomainChangePayload):
    pass


@strawberry.type
class UpdateDomainSettingsPayload(_DomainChangePayload):
    pass


@strawberry.type
class DomainMutations:
    @strawberry.mutation(extensions=authenticated())
    async def update_domain_contacts(
        self, info: Info[Context, None], input: UpdateDomainContactsInput
    ) -> UpdateDomainContactsPayload:
        try:
            row = await resolve.update_domain_contacts(
                info.context, domain_id=input.domain_id, contacts=input.contacts
            )
        except Rejected as rejected:
            return UpdateDomainContactsPayload(user_errors=user_errors(rejected))
        return UpdateDomainContactsPayload(row=row)

    @strawberry.mutation(extensions=authenticated())
    async def update_domain_nameservers(
        self, info: Info[Context, None], input: UpdateDomainNameserversInput
    ) -> UpdateDomainNameserversPayload:
        try:
            row = await resolve.update_domain_nameservers(
                info.context, domain_id=input.domain_id, nameservers=input.nameservers
            )
        except Rejected as rejected:
            return UpdateDomainNameserversPayload(user_errors=user_errors(rejected))
        return UpdateDomainNameserversPayload(row=row)

    @strawberry.mutation(
        description="Auto-renewal and registrar lock. Needs MANAGE_DOMAINS.", extensions=authenticated()
    )
    async def update_domain_settings(
        self, info: Info[Context, None], input: UpdateDomainSettingsInput
    ) -> UpdateDomainSettingsPayload:
        try:
            row = await resolve.update_domain_settings(
                info.context, domain_id=input.domain_id, auto_renew=input.auto_renew, locked=input.locked
            )
        except Rejected as rejected:
            return UpdateDomainSettingsPayload(user_errors=user_errors(rejected))
        return UpdateDomainSettingsPayload(row=row)
