"""Client accounts: creating them, their billing profile, and listing the viewer's accounts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.permissions import ALL_MASK, Permission, from_mask
from resolvers.audit import record
from resolvers.context import Access, Context
from resolvers.errors import Rejected
from resolvers.ids import encode_id
from resolvers.pagination import Page, paginate
from resolvers.permissions import authorize, memberships_of, require_principal
from resolvers.validation import BillingProfile, BillingProfileLike, Checker, check_billing_profile


def apply_billing_profile(account: ClientAccount, profile: BillingProfile) -> None:
    account.billing_first_name = profile.first_name
    account.billing_last_name = profile.last_name
    account.billing_company_name = profile.company_name
    account.billing_email = profile.email
    account.billing_phone = profile.phone
    account.billing_line1 = profile.address.line1
    account.billing_line2 = profile.address.line2
    account.billing_city = profile.address.city
    account.billing_state = profile.address.state
    account.billing_postal_code = profile.address.postal_code
    account.billing_country_code = profile.address.country_code
    account.billing_tax_id = profile.tax_id


def check_account(
    check: Checker,
    name: str,
    billing: BillingProfileLike,
    *,
    name_path: tuple[str, ...] = ("input", "name"),
) -> tuple[str, BillingProfile]:
    return (
        check.text(name_path, name, max_length=200),
        check_billing_profile(check, ("input", "billingProfile"), billing),
    )


async def add_account(
    session: AsyncSession, *, name: str, billing: BillingProfile, owner_id: uuid.UUID
) -> tuple[ClientAccount, Membership]:
    """A new account and its owner's membership, in the caller's unit of work."""
    account = ClientAccount(name=name)
    apply_billing_profile(account, billing)
    session.add(account)
    await session.flush()
    owner = Membership(
        user_id=owner_id, account_id=account.id, role=MembershipRole.OWNER, permissions=ALL_MASK
    )
    session.add(owner)
    await session.flush()
    return account, owner


async def create_client_account(context: Context, *, name: str, billing: BillingProfileLike) -> ClientAccount:
    principal = require_principal(context)
    check = Checker()
    name, profile = check_account(check, name, billing)
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        account, _ = await add_account(session, name=name, billing=profile, owner_id=principal.user_id)
        record(
            session,
            context,
            "account.created",
            account_id=account.id,
            subject_id=encode_id("ClientAccount", account.id),
        )
    # A token restricted to certain accounts does not reach the new one; a session does.
    context.loaders.access.clear(account.id)
    return account


async def update_billing_profile(
    context: Context, *, account_id: uuid.UUID | None, billing: BillingProfileLike
) -> ClientAccount:
    await authorize(context, account_id, Permission.MANAGE_PROFILE)
    assert account_id is not None
    check = Checker()
    profile = check_billing_profile(check, ("input", "billingProfile"), billing)
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        account = await session.get_one(ClientAccount, account_id, with_for_update=True)
        apply_billing_profile(account, profile)
        record(
            session,
            context,
            "account.billing_profile_updated",
            account_id=account.id,
            subject_id=encode_id("ClientAccount", account.id),
        )
    context.loaders.account.clear(account_id).prime(account_id, account)
    return account


async def account_for_viewer(context: Context, account_id: uuid.UUID) -> ClientAccount | None:
    if await context.access(account_id) is None:
        return None
    return await context.loaders.account.load(account_id)


async def viewer_accounts(
    context: Context, *, first: int | None, after: str | None, search: str | None
) -> Page[tuple[ClientAccount, Access]]:
    """The viewer's accounts by name, with their access; primes the access loader with it."""
    principal = require_principal(context)
    memberships = memberships_of(principal).subquery()
    statement: Any = select(
        ClientAccount, memberships.c.id, memberships.c.role, memberships.c.permissions
    ).join(memberships, memberships.c.account_id == ClientAccount.id)
    if search and search.strip():
        statement = statement.where(
            func.lower(ClientAccount.name).contains(search.strip().lower(), autoescape=True)
        )
    page = await paginate(
        context.db,
        statement,
        keys=[ClientAccount.name, ClientAccount.id],
        key_of=lambda row: (row[0].name, row[0].id),
        first=first,
        after=after,
    )
    edges: list[tuple[str, tuple[ClientAccount, Access]]] = []
    for cursor, (account, membership_id, role, mask) in page.edges:
        access = Access.of(
            principal,
            account_id=account.id,
            membership_id=membership_id,
            role=role,
            granted=from_mask(mask),
        )
        context.loaders.access.prime(account.id, access)
        context.loaders.account.prime(account.id, account)
        edges.append((cursor, (account, access)))
    return Page(edges, page.has_next_page, page.has_previous_page, page.count)
