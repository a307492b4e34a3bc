"""Contacts of an account: creating, changing and deleting them, listing them, and the primary contact."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.contacts import Contact
from models.hosting import Domain
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.loaders import ScopedLoader
from resolvers.core.pagination import Page, paginate
from resolvers.core.validation import Checker, ContactLike, Path, check_address


def check_contact(check: Checker, path: Path, raw: ContactLike) -> dict[str, str | None]:
    """The contact's columns, trimmed and normalised; every problem goes to `check`."""
    fields: dict[str, str | None] = {
        "first_name": check.text((*path, "firstName"), raw.first_name, max_length=100),
        "last_name": check.text((*path, "lastName"), raw.last_name, max_length=100),
        "company_name": check.optional_text((*path, "companyName"), raw.company_name, max_length=200),
        "email": check.email((*path, "email"), raw.email),
        "phone": check.phone((*path, "phone"), raw.phone),
    }
    address = check_address(check, (*path, "address"), raw.address)
    return fields | {
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "state": address.state,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
    }


def _checked(raw: ContactLike) -> dict[str, str | None]:
    check = Checker()
    fields = check_contact(check, ("input", "contact"), raw)
    if check.problems:
        raise Rejected(check.problems)
    return fields


def _mirrors_billing_profile() -> Rejected:
    return reject(
        "This is the account's primary contact: it mirrors the billing profile. "
        "Change the billing profile with updateBillingProfile instead.",
        UserErrorCode.INVALID,
        "input",
        "contactId",
    )


def _in_use() -> Rejected:
    return reject(
        "A domain uses this contact; name another contact on the domain first.",
        UserErrorCode.CONTACT_IN_USE,
        "input",
        "contactId",
    )


async def create_contact(context: Context, *, account_id: uuid.UUID, contact: ContactLike) -> Contact:
    """A new contact of the account (checked: the viewer may change its contacts)."""
    fields = _checked(contact)
    async with context.db.begin() as session:
        row = Contact(account_id=account_id, is_primary=False, **fields)
        session.add(row)
        await session.flush()
        record(
            session,
            context,
            "contact.created",
            account_id=row.account_id,
            subject_id=encode_id("Contact", row.id),
        )
    context.loaders.contact.prime(row.id, row)
    return row


async def update_contact(context: Context, target: Contact, *, contact: ContactLike) -> Contact:
    """`target`'s new details (checked: the viewer may change its account's contacts)."""
    if target.is_primary:
        raise _mirrors_billing_profile()
    fields = _checked(contact)
    async with context.db.begin() as session:
        row = await session.get(Contact, target.id, with_for_update=True)
        if row is None:
            raise not_found("input", "contactId")
        for name, value in fields.items():
            setattr(row, name, value)
        await session.flush()
        record(
            session,
            context,
            "contact.updated",
            account_id=row.account_id,
            subject_id=encode_id("Contact", row.id),
        )
    context.loaders.contact.clear(row.id).prime(row.id, row)
    return row


async def domain_using(session: AsyncSession, contact_id: uuid.UUID) -> uuid.UUID | None:
    """A domain that names the contact in any of its four roles, if there is one."""
    return await session.scalar(
        select(Domain.id)
        .where(
            or_(
                Domain.registrant_contact_id == contact_id,
                Domain.admin_contact_id == contact_id,
                Domain.tech_contact_id == contact_id,
                Domain.billing_contact_id == contact_id,
            )
        )
        .limit(1)
    )


async def delete_contact(context: Context, target: Contact) -> uuid.UUID:
    """Deletes `target` unless a domain names it (checked: the viewer may change its account's contacts)."""
    if target.is_primary:
        raise _mirrors_billing_profile()
    try:
        async with context.db.begin() as session:
            # Locked before looking for domains: naming the contact on a domain meanwhile has to wait
            # (PostgreSQL's foreign key check locks the row too; SQLite writers queue anyway).
            locked = await session.scalar(select(Contact.id).where(Contact.id == target.id).with_for_update())
            if locked is None:
                raise not_found("input", "contactId")
            if await domain_using(session, target.id) is not None:
                raise _in_use()
            await session.execute(delete(Contact).where(Contact.id == target.id))
            record(
                session,
                context,
                "contact.deleted",
                account_id=target.account_id,
                subject_id=encode_id("Contact", target.id),
            )
    except IntegrityError:
        # The domains' foreign keys refuse what the check above did not see.
        raise _in_use() from None
    context.loaders.contact.clear(target.id)
    return target.id


# The account holder leads the list; the other contacts follow in the order they were created.
_PRIMARY_FIRST = case((Contact.is_primary, 0), else_=1)


async def account_contacts(
    context: Context, *, account_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Any]:
    page = await paginate(
        context.db,
        select(Contact).where(Contact.account_id == account_id),
        keys=[_PRIMARY_FIRST, Contact.id],
        key_of=lambda row: (0 if row[0].is_primary else 1, row[0].id),
        first=first,
        after=after,
    )
    return page.map(lambda row: row[0])


class PrimaryContactByAccountIdLoader(ScopedLoader[Contact]):
    """Each account's primary contact, one statement for all the accounts a request reaches."""

    model = Contact
    key = "account_id"

    @classmethod
    def where(cls) -> list[ColumnElement[bool]]:
        return [Contact.is_primary.is_(True)]

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, Contact]:
        found = await super().fetch(keys)
        for row in found.values():
            self.context.loaders.contact.prime(row.id, row)
        return found
