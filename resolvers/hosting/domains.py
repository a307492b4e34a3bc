"""Domains: listing them across the viewer's accounts; changing their contacts, nameservers and settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Select, Subquery, and_, bindparam, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.base import columns_of, stored, stored_then_rest
from models.contacts import Contact
from models.hosting import CONTACT_ROLES, Domain, DomainStatus
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.domain_names import normalise_hostname, search_form
from resolvers.core.errors import Problem, Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.pagination import Around, Page, paginate
from resolvers.core.permissions import STATEMENTS_KEPT, require_principal
from resolvers.core.policies import DOMAIN
from resolvers.core.principal import Principal
from resolvers.core.reach import scoped_list
from resolvers.core.validation import Checker

MIN_NAMESERVERS = 2
MAX_NAMESERVERS = 13


class DomainFilterLike(Protocol):
    @property
    def account_keys(self) -> Sequence[uuid.UUID] | None: ...
    @property
    def status(self) -> Sequence[DomainStatus] | None: ...
    @property
    def expires_before(self) -> date | None: ...
    @property
    def search(self) -> str | None: ...


def _filter_values(filter: DomainFilterLike | None, account_id: uuid.UUID | None) -> dict[str, Any]:
    """The filters given, by the names `_domains` binds them as."""
    values: dict[str, Any] = {"account_id": account_id}
    if filter is not None:
        search = filter.search.strip() if filter.search is not None else ""
        values.update(
            account_ids=filter.account_keys,
            statuses=filter.status,
            expires_before=filter.expires_before,
            search=search_form(search) if search else None,
        )
    return {name: value for name, value in values.items() if value is not None}


@lru_cache(maxsize=STATEMENTS_KEPT)
def _domains(principal: Principal, given: frozenset[str], search: str | None) -> Select[Any]:
    """The viewer's domains, narrowed by the filters `given` (bound by those names when it runs)
    and by `search`, which is written into the statement (escaped for LIKE)."""
    statement = scoped_list(principal, Domain, "domain", DOMAIN.view, given)
    if "expires_before" in given:
        statement = statement.where(Domain.expires_at <= bindparam("expires_before"))
    if search is not None:
        statement = statement.where(func.lower(Domain.name).contains(search, autoescape=True))
    return statement


@lru_cache(maxsize=STATEMENTS_KEPT)
def _with_contacts(roles: tuple[str, ...]) -> Around:
    """A page of domains with, after each domain's columns, the contact it names for each of
    `roles` when that contact belongs to the domain's own account (else nulls).

    Such a contact is one the viewer may see: the page holds only domains of accounts the viewer is
    a member of, and the contact loader shows a contact to every member of its account. Orders and
    contact changes take only the account's own contacts, so that is every contact a domain names;
    one of another account all the same would come as nulls and go through the loader, which
    decides. Kept per roles: the function keys the page's kept statement."""

    def around(page: Subquery) -> Select[Any]:
        statement = select(page)
        for role in roles:
            contact = aliased(Contact)
            statement = statement.outerjoin(
                contact,
                and_(contact.id == page.c[f"{role}_contact_id"], contact.account_id == page.c.account_id),
            ).add_columns(*(getattr(contact, column.key) for column in columns_of(Contact)))
        return statement

    return around


async def list_domains(
    context: Context,
    *,
    first: int | None,
    after: str | None,
    filter: DomainFilterLike | None,
    account_id: uuid.UUID | None = None,
    contacts: frozenset[str] = frozenset(),
) -> Page[Domain]:
    """Domains of every account where the viewer (or their token) holds VIEW_DOMAINS, or of one of them.

    Ordered by ID, i.e. by creation (UUIDv7): a new domain sorts after every existing one and an ID
    never changes, so a client paging through neither misses nor repeats a domain while others are
    added or renewed (ordering by `expires_at` would move a domain across pages at each renewal).
    The contacts of the roles in `contacts` (those the page shows) come in the same statement
    where they belong to the domain's account, and are primed in `loaders.contact`.
    """
    principal = require_principal(context)
    given = _filter_values(filter, account_id)
    search = given.pop("search", None)
    if search is not None:
        # A search is the caller's text: a statement of its own, not one kept for the viewer.
        statement = _domains.__wrapped__(principal, frozenset(given), search)
    else:
        statement = _domains(principal, frozenset(given), None)
    roles = tuple(role for role in CONTACT_ROLES if role in contacts)
    page = await paginate(
        context.db,
        statement,
        keys=[Domain.id],
        key_of=lambda row: (row.id,),
        first=first,
        after=after,
        values=given,
        around=_with_contacts(roles) if roles else None,
    )
    split, make_contact = stored_then_rest(Domain), stored(Contact)
    width = len(columns_of(Contact))
    domains: list[tuple[str, Domain]] = []
    for cursor, row in page.edges:
        domain, joined = split(row)
        domains.append((cursor, domain))
        context.loaders.domain.prime(domain.id, domain)
        for start in range(0, len(joined), width):
            contact = make_contact(joined[start : start + width])
            if contact.id is not None:
                context.loaders.contact.prime(contact.id, contact)
    return page.with_edges(domains)


async def _locked(session: AsyncSession, domain_id: uuid.UUID) -> Domain:
    """The domain's row, locked for the change; a cancelled domain is final."""
    row = await session.get(Domain, domain_id, with_for_update=True)
    if row is None:
        raise not_found("input", "domainId")
    if row.status is DomainStatus.CANCELLED:
        raise reject("A cancelled domain cannot be changed.", UserErrorCode.INVALID, "input", "domainId")
    return row


def _changed(session: AsyncSession, context: Context, action: str, row: Domain) -> None:
    record(session, context, action, account_id=row.account_id, subject_id=encode_id("Domain", row.id))


def _refresh(context: Context, row: Domain) -> Domain:
    context.loaders.domain.clear(row.id).prime(row.id, row)
    return row


@dataclass(frozen=True)
class DomainContactIds:
    registrant: uuid.UUID
    admin: uuid.UUID
    tech: uuid.UUID
    billing: uuid.UUID


async def resolve_domain_contacts(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    given: dict[str, uuid.UUID | None],
    path: tuple[str, ...] = ("input", "contacts"),
) -> DomainContactIds:
    """The four role contacts of a domain of `account_id`, from the contact IDs given by
    input field (`schema.hosting.domains.contact_ids`: None for a well-formed ID of another type).

    Each given contact must belong to the same account (otherwise NOT_FOUND at its path, the same as
    a missing one); an omitted registrant is the account holder (primary contact), omitted admin, tech
    and billing contacts are the registrant.
    """
    wanted = [pk for pk in given.values() if pk is not None]
    statement = (
        select(Contact.id, Contact.is_primary)
        .where(
            Contact.account_id == account_id,
            or_(Contact.id.in_(wanted) if wanted else false(), Contact.is_primary.is_(True)),
        )
        # Held until the domain refers to them, so a concurrent deleteContact waits and sees it in use.
        .with_for_update(read=True)
    )
    rows = (await session.execute(statement)).all()
    found = {row.id for row in rows}
    primary = next((row.id for row in rows if row.is_primary), None)
    problems = [
        Problem("Not found.", UserErrorCode.NOT_FOUND, (*path, field))
        for field, pk in given.items()
        if pk is None or pk not in found
    ]
    if problems:
        raise Rejected(problems)
    registrant = given.get("registrantContactId") or primary
    if registrant is None:
        raise not_found(*path, "registrantContactId")
    return DomainContactIds(
        registrant=registrant,
        admin=given.get("adminContactId") or registrant,
        tech=given.get("techContactId") or registrant,
        billing=given.get("billingContactId") or registrant,
    )


async def update_domain_contacts(
    context: Context, target: Domain, *, given: dict[str, uuid.UUID | None]
) -> Domain:
    """`target`'s four role contacts, from the contact IDs given (checked:
    the viewer may change the domain)."""
    async with context.db.begin() as session:
        row = await _locked(session, target.id)
        chosen = await resolve_domain_contacts(session, account_id=row.account_id, given=given)
        row.registrant_contact_id = chosen.registrant
        row.admin_contact_id = chosen.admin
        row.tech_contact_id = chosen.tech
        row.billing_contact_id = chosen.billing
        _changed(session, context, "domain.contacts_updated", row)
    return _refresh(context, row)


def check_nameservers(check: Checker, path: tuple[str, ...], nameservers: Sequence[str]) -> list[str]:
    """2 to 13 distinct hostnames, normalised; a problem at its index for each bad or repeated one."""
    if not MIN_NAMESERVERS <= len(nameservers) <= MAX_NAMESERVERS:
        # Not looking at each of too many: the count alone is the answer.
        check.fail(path, f"Give {MIN_NAMESERVERS} to {MAX_NAMESERVERS} nameservers.")
        if len(nameservers) > MAX_NAMESERVERS:
            return []
    hosts: list[str] = []
    for index, raw in enumerate(nameservers):
        host = normalise_hostname(raw)
        if host is None:
            check.fail((*path, str(index)), "Enter a hostname, e.g. ns1.example.com.")
        elif host in hosts:
            check.fail((*path, str(index)), "This nameserver is already listed.")
        else:
            hosts.append(host)
    return hosts


async def update_domain_nameservers(
    context: Context, target: Domain, *, nameservers: Sequence[str]
) -> Domain:
    check = Checker()
    hosts = check_nameservers(check, ("input", "nameservers"), nameservers)
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        row = await _locked(session, target.id)
        row.nameservers = hosts
        _changed(session, context, "domain.nameservers_updated", row)
    return _refresh(context, row)


async def update_domain_settings(
    context: Context, target: Domain, *, auto_renew: bool | None, locked: bool | None
) -> Domain:
    if auto_renew is None and locked is None:
        raise reject("Give autoRenew, locked or both.", UserErrorCode.INVALID, "input")
    async with context.db.begin() as session:
        row = await _locked(session, target.id)
        if auto_renew is not None:
            row.auto_renew = auto_renew
        if locked is not None:
            row.locked = locked
        _changed(session, context, "domain.settings_updated", row)
    return _refresh(context, row)
