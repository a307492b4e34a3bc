"""Client accounts: creating them, their billing profile, and listing the viewer's accounts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import columns_of, stored_then_rest, utcnow
from models.contacts import Contact
from models.permissions import ALL_MASK, Permission, from_mask, to_mask
from models.users import User
from resolvers.affiliates import referrer_of_agent
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.emails import language_for_country
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.owners import owners_around, prime_owner
from resolvers.core.pagination import Page, paginate
from resolvers.core.permissions import (
    STATEMENTS_KEPT,
    require_principal,
    two_factor_enabled,
    visible_memberships,
)
from resolvers.core.principal import Access, Principal
from resolvers.core.ratelimits import Limits, allowed
from resolvers.core.validation import BillingProfile, BillingProfileLike, Checker, check_billing_profile
from resolvers.password_resets.resets import send_password_link


def contact_fields(profile: BillingProfile) -> dict[str, str | None]:
    """A billing profile as the columns of a Contact."""
    return {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "company_name": profile.company_name,
        "email": profile.email,
        "phone": profile.phone,
        "line1": profile.address.line1,
        "line2": profile.address.line2,
        "city": profile.address.city,
        "state": profile.address.state,
        "postal_code": profile.address.postal_code,
        "country_code": profile.address.country_code,
    }


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
    session.add(Contact(account_id=account.id, is_primary=True, **contact_fields(billing)))
    owner = Membership(
        user_id=owner_id, account_id=account.id, role=MembershipRole.OWNER, permissions=ALL_MASK
    )
    session.add(owner)
    await session.flush()
    return account, owner


async def create_client_account(
    context: Context, principal: Principal, *, name: str, billing: BillingProfileLike
) -> ClientAccount:
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
    context: Context, account_id: uuid.UUID, *, billing: BillingProfileLike
) -> ClientAccount:
    """The account's new billing profile (the viewer holds ACCOUNT's `change` there)."""
    check = Checker()
    profile = check_billing_profile(check, ("input", "billingProfile"), billing)
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        account = await session.get_one(ClientAccount, account_id, with_for_update=True)
        apply_billing_profile(account, profile)
        # The primary contact is the account holder: it follows the billing profile.
        await session.execute(
            update(Contact)
            .where(Contact.account_id == account_id, Contact.is_primary.is_(True))
            .values(**contact_fields(profile), updated_at=utcnow())
        )
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


@lru_cache(maxsize=STATEMENTS_KEPT)
def _viewer_accounts(principal: Principal) -> Select[Any]:
    """The viewer's accounts with their membership's columns (for `Access`)."""
    memberships = visible_memberships(principal)
    # The account's columns (`columns_of`), then the membership's.
    statement: Select[Any] = select(
        *columns_of(ClientAccount),
        memberships.c.id,
        memberships.c.role,
        memberships.c.permissions,
        memberships.c.scoped,
        two_factor_enabled(principal.user_id),
    ).join(memberships, memberships.c.account_id == ClientAccount.id)
    return statement


async def viewer_accounts(
    context: Context, *, first: int | None, after: str | None, search: str | None, owners: bool = False
) -> Page[tuple[ClientAccount, Access]]:
    """The viewer's accounts by name, with their access; primes the access loader with it, and
    with `owners` (the page shows them) the owner loader with each account's owner."""
    principal = require_principal(context)
    statement = _viewer_accounts(principal)
    if search and search.strip():
        # The caller's text: a statement of its own, not one kept for the viewer.
        statement = statement.where(
            func.lower(ClientAccount.name).contains(search.strip().lower(), autoescape=True)
        )
    page = await paginate(
        context.db,
        statement,
        keys=[ClientAccount.name, ClientAccount.id],
        key_of=lambda row: (row.name, row.id),
        first=first,
        after=after,
        around=owners_around if owners else None,
    )
    edges: list[tuple[str, tuple[ClientAccount, Access]]] = []
    split = stored_then_rest(ClientAccount)
    for cursor, row in page.edges:
        account, rest = split(row)
        membership_id, role, mask, scoped, two_factor_on = rest[:5]
        if owners:
            prime_owner(context, account.id, rest[5:])
        access = Access.of(
            principal,
            account_id=account.id,
            membership_id=membership_id,
            role=role,
            granted=from_mask(mask),
            two_factor_required=account.require_two_factor and not two_factor_on,
            scoped=scoped,
        )
        context.loaders.access.prime(account.id, access)
        context.loaders.account.prime(account.id, account)
        edges.append((cursor, (account, access)))
    return page.with_edges(edges)


# The customer may take a while to open the email: as long as an invitation lasts.
ON_BEHALF_LINK_LIFETIME = timedelta(days=7)


async def create_client_account_on_behalf(
    context: Context,
    principal: Principal,
    *,
    owner_email: str,
    owner_name: str,
    name: str,
    billing: BillingProfileLike,
    permissions: list[Permission],
    power_of_attorney: bool,
) -> tuple[ClientAccount, Membership]:
    """A new customer user (no password yet) owning a new account, the viewer a USER of it.

    Returns the account and the viewer's membership; the customer is emailed a link to set a password.
    The viewer is a session or an unrestricted token of a proven address (rules 13 and 14).
    """
    check = Checker()
    if not power_of_attorney:
        check.fail(("input", "powerOfAttorney"), "Confirm that you hold the customer's power of attorney.")
    owner_email = check.email(("input", "owner", "email"), owner_email)
    owner_name = check.text(("input", "owner", "name"), owner_name, max_length=200)
    name, profile = check_account(check, name, billing)
    if check.problems:
        raise Rejected(check.problems)
    # Its own unit of work: an attempt that fails on a registered email must count as well.
    async with context.db.begin() as session:
        if not await allowed(session, Limits.of(context.settings).on_behalf, principal.user_id):
            raise reject("Too many accounts created at once; try again later.", UserErrorCode.RATE_LIMITED)
    granted = to_mask(permissions)
    try:
        async with context.db.begin() as session:
            if await session.scalar(select(User.id).where(User.email == owner_email)) is not None:
                raise _owner_registered()
            agent = await session.get_one(User, principal.user_id)
            customer = User(email=owner_email, name=owner_name, password_hash=None)
            session.add(customer)
            await session.flush()
            account, _ = await add_account(session, name=name, billing=profile, owner_id=customer.id)
            # The agency profits from the customers it brings (DESIGN, affiliate flow).
            account.referred_by_affiliate_id = await referrer_of_agent(session, principal.user_id)
            membership = Membership(
                user_id=principal.user_id,
                account_id=account.id,
                role=MembershipRole.USER,
                permissions=granted,
                invited_by_id=principal.user_id,
            )
            session.add(membership)
            await session.flush()
            send_password_link(
                session,
                context.settings,
                user=customer,
                lifetime=ON_BEHALF_LINK_LIFETIME,
                template="account_created_on_behalf",
                language=language_for_country(profile.address.country_code),
                params={"agent": agent.name, "account": account.name},
            )
            record(
                session,
                context,
                "account.created_on_behalf",
                account_id=account.id,
                subject_id=encode_id("ClientAccount", account.id),
            )
            record(
                session,
                context,
                "membership.created",
                account_id=account.id,
                subject_id=encode_id("Membership", membership.id),
            )
    except IntegrityError:
        # Two requests for one customer email at once: the unique index decides.
        raise _owner_registered() from None
    context.loaders.access.clear(account.id)
    if principal.covers(account.id):
        context.loaders.access.prime(
            account.id,
            Access.of(
                principal,
                account_id=account.id,
                membership_id=membership.id,
                role=MembershipRole.USER,
                granted=from_mask(granted),
            ),
        )
    return account, membership


def _owner_registered() -> Rejected:
    return reject(
        "A user with this email already exists; ask the customer to invite you to their account instead.",
        UserErrorCode.EMAIL_ALREADY_REGISTERED,
        "input",
        "owner",
        "email",
    )
