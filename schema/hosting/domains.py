"""Domains an account pays for, the contacts they are registered with, and changing them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from models import hosting as models
from models.hosting import DomainStatus
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.lookahead import at_hand, domains_ahead
from resolvers.core.policies import DOMAIN
from resolvers.hosting import domains as resolve
from schema.contacts import Contact
from schema.core.base import Connection, Node, UserError, account_field, account_keys
from schema.core.ids import decode_id
from schema.core.lookahead import nodes_ahead, selected
from schema.core.policy import Granted, OnObject, gated, mutation

if TYPE_CHECKING:
    pass


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

    account = account_field()


async def domain_connection(
    info: Info[Context, None],
    *,
    first: int | None,
    after: str | None,
    filter: DomainFilter | None,
    account_id: uuid.UUID | None = None,
) -> Connection[Domain]:
    """A page of domains (`resolve.list_domains`), with the contacts its nodes show read in its own
    statement, and the accounts and other contacts its selection asks for fetched ahead."""
    contacts = selected(info, "edges", "node", "contacts")
    page = await resolve.list_domains(
        info.context,
        first=first,
        after=after,
        filter=filter,
        account_id=account_id,
        contacts=frozenset(contacts),
    )
    await domains_ahead(info.context, [row for _, row in page.edges], nodes_ahead(info, page))
    return Connection.of(page, Domain.of)


@strawberry.input
class DomainFilter:
    account_ids: list[strawberry.ID] | None = None
    status: list[DomainStatus] | None = None
    expires_before: date | None = strawberry.field(
        default=None, description="Only domains expiring on or before this date."
    )
    search: str | None = strawberry.field(default=None, description="Substring of the domain name.")

    @property
    def account_keys(self) -> list[uuid.UUID] | None:
        return account_keys(self.account_ids)


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

    # Changing a domain needs MANAGE_DOMAINS, reading it back VIEW_DOMAINS (DESIGN rule 8).
    @strawberry.field(**gated(DOMAIN.view))
    def domain(self) -> Domain | None:
        return None if self.row is None else Domain.of(self.row)

    @property
    def account_pk(self) -> uuid.UUID | None:
        return None if self.row is None else self.row.account_id


@strawberry.type
class UpdateDomainContactsPayload(_DomainChangePayload):
    pass


@strawberry.type
class UpdateDomainNameserversPayload(_DomainChangePayload):
    pass


@strawberry.type
class UpdateDomainSettingsPayload(_DomainChangePayload):
    pass


_CONTACT_FIELDS = (
    ("registrantContactId", "registrant_contact_id"),
    ("adminContactId", "admin_contact_id"),
    ("techContactId", "tech_contact_id"),
    ("billingContactId", "billing_contact_id"),
)


def contact_ids(contacts: DomainContactsInput) -> dict[str, uuid.UUID | None]:
    """The given contact IDs by input field; None for a well-formed ID of another type.

    Raises BAD_USER_INPUT for a malformed one, so call it before anything runs (DESIGN rule 11).
    """
    given: dict[str, uuid.UUID | None] = {}
    for field, attribute in _CONTACT_FIELDS:
        raw = getattr(contacts, attribute)
        if raw is not None:
            given[field] = decode_id(raw, "Contact")
    return given


def _contact_ids(input: UpdateDomainContactsInput) -> dict[str, uuid.UUID | None]:
    return contact_ids(input.contacts)


@strawberry.type
class DomainMutations:
    @mutation(OnObject("domain_id", DOMAIN), prepare=_contact_ids)
    async def update_domain_contacts(
        self, info: Info[Context, None], input: UpdateDomainContactsInput, granted: Granted
    ) -> UpdateDomainContactsPayload:
        row = await resolve.update_domain_contacts(info.context, granted.target, given=granted.prepared)
        return UpdateDomainContactsPayload(row=row)

    @mutation(OnObject("domain_id", DOMAIN))
    async def update_domain_nameservers(
        self, info: Info[Context, None], input: UpdateDomainNameserversInput, granted: Granted
    ) -> UpdateDomainNameserversPayload:
        row = await resolve.update_domain_nameservers(
            info.context, granted.target, nameservers=input.nameservers
        )
        return UpdateDomainNameserversPayload(row=row)

    @mutation(OnObject("domain_id", DOMAIN), description="Auto-renewal and registrar lock.")
    async def update_domain_settings(
        self, info: Info[Context, None], input: UpdateDomainSettingsInput, granted: Granted
    ) -> UpdateDomainSettingsPayload:
        row = await resolve.update_domain_settings(
            info.context, granted.target, auto_renew=input.auto_renew, locked=input.locked
        )
        return UpdateDomainSettingsPayload(row=row)
